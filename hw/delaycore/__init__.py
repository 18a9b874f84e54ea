"""Amaranth RTL of the delay-SNN core (spec: docs/core.md)."""

from .layouts import EventLayout, OutputLayout, WriteLayout, ReadLayout
from .guard import Guard
from .neuron import NeuronUpdate
from .layer import Layer
from .network import Network

__all__ = ["EventLayout", "OutputLayout", "WriteLayout", "ReadLayout",
           "Guard", "NeuronUpdate", "Layer", "Network"]
