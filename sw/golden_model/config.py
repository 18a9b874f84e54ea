"""The core configuration lives in the torch-free spec package; see `corespec.config`."""

from corespec.config import CoreConfig, LayerShape, clog2

__all__ = ["CoreConfig", "LayerShape", "clog2"]
