"""Amaranth RTL of the delay-SNN core (spec: docs/core.md)."""

from .layouts import EventLayout, OutputLayout, WriteLayout, ReadLayout
from .guard import Guard
from .neuron import NeuronUpdate
from .input_delay import InputDelay
from .layer import Layer
from .network import Network
from .learner import Learner
from .learning_network import LearningNetwork

__all__ = ["EventLayout", "OutputLayout", "WriteLayout", "ReadLayout",
           "Guard", "InputDelay", "NeuronUpdate", "Layer", "Network", "Learner", "LearningNetwork"]
