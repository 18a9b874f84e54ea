"""Integer-exact PyTorch model of the delay-SNN core (spec: docs/core.md)."""

from .config import CoreConfig, LayerShape
from .events import EOT, CLEAR, SPIKE, RESERVED, encode_event, decode_event, check_events, raster_words
from .params import LayerParams, NetworkParams, random_params, validate, load_words
from .network import GoldenNetwork, NetworkState, StreamResult
from .schedule import Schedule, schedule

__all__ = [
    "CoreConfig", "LayerShape",
    "SPIKE", "EOT", "CLEAR", "RESERVED", "encode_event", "decode_event", "check_events", "raster_words",
    "LayerParams", "NetworkParams", "random_params", "validate", "load_words",
    "GoldenNetwork", "NetworkState", "StreamResult",
    "Schedule", "schedule",
]
