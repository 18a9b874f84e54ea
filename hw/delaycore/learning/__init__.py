"""The on-chip learning engine (docs/learning.md): `Learner` (memories, register file, sequencer
with named states, datapath) and `LearningNetwork` (the core with the engine between it and the
outside)."""

from delaycore.learning.learner import Learner
from delaycore.learning.learning_network import LearningNetwork

__all__ = ["Learner", "LearningNetwork"]
