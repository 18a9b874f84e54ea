"""Training of delay SNNs whose forward pass is the core's integer arithmetic (docs/training.md)."""

from .model import DelaySNN, ModelConfig, predict
from .export import compare, export, load_export, to_params

__all__ = ["DelaySNN", "ModelConfig", "predict", "to_params", "export", "load_export", "compare"]
