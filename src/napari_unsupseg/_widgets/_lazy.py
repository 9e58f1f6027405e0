"""The widget on dask-backed layers too big to load: the whole array is segmented
chunk by chunk (:mod:`napari_unsupseg.chunked`) into a Zarr store in a temporary
folder, shown as a Labels layer backed by it; the current plane of such a layer is
small and is segmented at once, as before. The folder goes when nothing reads it any
more (the layer removed, the viewer closed) or at exit, and at once on Cancel."""

from __future__ import annotations

import shutil
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np

#: lazy layers with at least this many spatial pixels are segmented chunk by chunk
LAZY_MIN_PIXELS = 1 << 26


def wants_chunks(data, channel_axis) -> bool:
    """A dask array whose spatial size reaches :data:`LAZY_MIN_PIXELS`."""
    from ..chunked import is_lazy

    if not is_lazy(data):
        return False
    shape = list(data.shape)
    if channel_axis is not None:
        del shape[channel_axis]
    elif len(shape) >= 3 and shape[-1] in (3, 4):
        del shape[-1]
    return int(np.prod(shape)) >= LAZY_MIN_PIXELS


def run_chunked(job, progress, should_stop, device: str):
    """Train now, then write the labels chunk by chunk (progress per chunk, Cancel
    between chunks); returns (Segmentation with lazy Zarr-backed labels, seconds)."""
    import dask.array as da

    from .._api import Segmentation
    from .._output import OutputPlan
    from .._progress import Reporter
    from ..chunked import lazy_classes
    from ..chunked.store import write_segmentation

    start = time.perf_counter()
    classes, kind, shape = lazy_classes(
        job.image, job.method, channel_axis=job.channel_axis, seed=job.seed, device=device,
        progress=progress, should_stop=should_stop, threads=job.threads, workers=1,
        **job.output, **job.params,
    )  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="unsupseg-"))
    try:
        stored = write_segmentation(
            classes, folder / "labels.zarr", kind, reporter=Reporter(progress, should_stop)
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    remove_with(stored, folder)
    labels = da.from_zarr(stored).reshape(shape)
    return Segmentation(labels, labels, OutputPlan(kind)), time.perf_counter() - start


def remove_with(stored, folder: Path) -> None:
    """Delete ``folder`` once the Zarr array ``stored`` is gone (every lazy array read
    from it holds it, so: once no layer shows it) or at exit, whichever comes first."""
    weakref.finalize(stored, shutil.rmtree, str(folder), True)


def label_count(labels) -> int:
    """The largest id of numpy or lazy labels, or of a list of them (0 when empty);
    lazy ones chunk by chunk."""
    if isinstance(labels, list):
        return max(map(label_count, labels), default=0)
    if labels.size == 0:
        return 0
    top = labels.max()
    return int(top.compute() if hasattr(top, "compute") else top)
