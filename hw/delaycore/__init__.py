"""Amaranth RTL of the delay-SNN core (spec: docs/core.md)."""

from delaycore.core.layouts import EventLayout, OutputLayout, WriteLayout, ReadLayout
from delaycore.core.guard import Guard
from delaycore.core.neuron import NeuronUpdate
from delaycore.core.input_delay import InputDelay
from delaycore.core.layer.layer import Layer
from delaycore.core.network import Network
from delaycore.learning.learner import Learner
from delaycore.learning.learning_network import LearningNetwork

__all__ = ["EventLayout", "OutputLayout", "WriteLayout", "ReadLayout",
           "Guard", "InputDelay", "NeuronUpdate", "Layer", "Network", "Learner", "LearningNetwork"]
