"""Spike-train data sets for the delay-SNN kit, all as dense `[N, T, C]` uint8 tensors.

Data is read from `../shared/data` next to the checkout (or `$DELAYSNN_DATA`) and never
downloaded; derived caches go to `build/cache/` (or `$DELAYSNN_CACHE`). See docs/datasets.md.
"""

from .base import SpikeDataset
from .cochlea import CochleaConfig
from .delay_task import make_delay_task, lag_patterns
from .errors import CorruptDataError, DatasetError, MissingDataError
from .fsdd import load_fsdd, list_recordings, read_wav
from .paths import cache_dir, data_root
from .sequence import make_sequence_detection
from .shd import load_hdf5
from .yinyang import load_yinyang

__all__ = [
    "CochleaConfig", "CorruptDataError", "DatasetError", "MissingDataError", "SpikeDataset",
    "cache_dir", "data_root", "make_delay_task", "load_fsdd", "lag_patterns", "list_recordings", "load_hdf5",
    "read_wav", "make_sequence_detection", "load_yinyang",
]
