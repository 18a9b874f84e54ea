"""Spike-train data sets for the delay-SNN kit, all as dense `[N, T, C]` uint8 tensors.

Data is read from `../shared/data` next to the checkout (or `$DELAYSNN_DATA`) and never
downloaded; derived caches go to `build/cache/` (or `$DELAYSNN_CACHE`). See docs/datasets.md.
"""

from .base import SpikeDataset
from .cochlea import CochleaConfig
from .delay_task import lag_patterns, make_delay_task
from .errors import CorruptDataError, DatasetError, MissingDataError
from .fsdd import list_recordings, load_fsdd, read_wav
from .paths import cache_dir, data_root
from .sequence import make_sequence_detection
from .shd import load_hdf5
from .tonic_face import MissingPackageError, TonicFace, from_tonic, load_tonic
from .yinyang import load_yinyang

__all__ = [
    "CochleaConfig", "CorruptDataError", "DatasetError", "MissingDataError", "SpikeDataset",
    "cache_dir", "data_root", "lag_patterns", "list_recordings", "load_fsdd", "load_hdf5",
    "load_yinyang", "make_delay_task", "make_sequence_detection", "read_wav",
    "MissingPackageError", "TonicFace", "from_tonic", "load_tonic",
]
