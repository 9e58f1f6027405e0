"""napari-unsupseg: unsupervised image segmentation for napari and for batch work.

The engine imports neither napari, Qt nor torch at import time; torch is loaded the
first time a CNN method runs.
"""

from ._api import segment, segment_series
from ._memory import InsufficientMemoryError
from ._progress import Progress, SegmentationCancelled
from ._registry import MethodSpec, Param, available_methods, get_method
from ._version import __version__
from .evaluation import best_match_ious, evaluate, segment_table, write_csv
from .measurements import measure
from .transfer.api import transfer_labels

__all__ = [
    "InsufficientMemoryError",
    "MethodSpec",
    "Param",
    "Progress",
    "SegmentationCancelled",
    "__version__",
    "available_methods",
    "best_match_ious",
    "evaluate",
    "get_method",
    "measure",
    "segment",
    "segment_series",
    "segment_table",
    "transfer_labels",
    "write_csv",
]
