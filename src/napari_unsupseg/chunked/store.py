"""Lazy images in, labels out to Zarr chunk by chunk: reading Zarr / OME-Zarr / TIFF
without loading them, and writing lazy labels with progress, Cancel and an optional
Dask cluster (``dask.distributed``).

Regions and objects are written in two passes so that nothing whole is held: the
classes (objects: provisional ids) go to the store first, the table that numbers them
is made from the stored ones, and the labels are written from a second read of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._progress import Reporter, SegmentationCancelled


def is_zarr(path) -> bool:
    """A Zarr (v2 or v3) store or group on disk, OME-Zarr included."""
    path = Path(path)
    markers = ("zarr.json", ".zarray", ".zgroup")
    return path.is_dir() and (path.suffix == ".zarr" or any((path / m).exists() for m in markers))


def open_lazy(path):
    """(dask array, channel axis or None) of a Zarr array, the full-resolution level of
    an OME-Zarr image, or a TIFF (through tifffile's Zarr view: read chunk by chunk)."""
    import dask.array as da
    import zarr

    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        store = tifffile.imread(path, aszarr=True)
        node = zarr.open(store, mode="r")
        array = node if isinstance(node, zarr.Array) else node[_first_array(node)]
        return da.from_zarr(array), None
    node = zarr.open(str(path), mode="r")
    if isinstance(node, zarr.Array):
        return da.from_zarr(node), None
    attrs = dict(node.attrs)
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if multiscales:
        scale = multiscales[0]
        array = node[scale["datasets"][0]["path"]]
        axes = [a.get("type") if isinstance(a, dict) else None for a in scale.get("axes", [])]
        channel_axis = axes.index("channel") if "channel" in axes else None
        return da.from_zarr(array), channel_axis
    return da.from_zarr(node[_first_array(node)]), None


def _first_array(group) -> str:
    names = sorted(name for name, _ in group.arrays())
    if not names:
        raise ValueError(f"the Zarr group {group.store} holds no array")
    return names[0]


def _regions(shape, chunks):
    """The index region of every chunk, in the order of ``to_delayed().ravel()``."""
    edges = [np.concatenate([[0], np.cumsum(c)]) for c in chunks]
    for where in np.ndindex(*[len(c) for c in chunks]):
        yield tuple(slice(int(e[i]), int(e[i + 1])) for e, i in zip(edges, where, strict=True))


def _write(block: np.ndarray, target, region) -> int:
    target[region] = block
    return int(block.size)


def store_chunks(labels, target, *, client=None, workers: int = 1, reporter=None) -> None:
    """Compute lazy ``labels`` chunk by chunk into ``target`` (a Zarr array chunked like
    them, or a numpy array), on ``client`` (a dask.distributed Client) or on ``workers``
    local threads; ``reporter`` hears of the chunks done and may cancel, which stops
    the computation (chunks written so far stay written).

    Chunks are handed out a few at a time (twice the workers): given the whole graph,
    a scheduler reads and normalises chunks far ahead of the slow prediction, and the
    waiting inputs would fill memory. Neighbours' context is read again per batch."""
    import dask

    reporter = reporter or Reporter()
    blocks = labels.to_delayed().ravel()
    prefix = f"write-{labels.name}"
    regions = _regions(labels.shape, labels.chunks)
    writes = [
        dask.delayed(_write)(block, target, region, dask_key_name=(prefix, i))
        for i, (block, region) in enumerate(zip(blocks, regions, strict=True))
    ]
    total = len(writes)
    reporter.update(0, total, stage="chunks")
    if client is not None:
        _on_cluster(client, writes, reporter)
        return
    window = 2 * max(1, workers)
    for start in range(0, total, window):
        reporter.check()
        dask.compute(*writes[start : start + window], scheduler="threads", num_workers=workers)
        reporter.update(min(total, start + window), total, stage="chunks")


def _on_cluster(client, writes, reporter) -> None:
    """The writes on a dask.distributed cluster, at most two per worker thread in
    flight; a cancel stops handing out more and cancels those running."""
    from distributed import as_completed

    window = 2 * max(1, sum(client.nthreads().values()))
    pending = iter(writes)
    futures = [client.compute(w) for w in _take(pending, window)]
    done, total = 0, len(writes)
    running = as_completed(futures)
    try:
        for future in running:
            future.result()
            done += 1
            reporter.update(done, total, stage="chunks")
            for write in _take(pending, 1):
                new = client.compute(write)
                futures.append(new)
                running.add(new)
    finally:
        client.cancel(futures)


def _take(iterator, n: int) -> list:
    return [item for _, item in zip(range(n), iterator, strict=False)]


def create_labels_array(path, name: str, shape, chunks, dtype=np.int32):
    """An empty Zarr array ``name`` in the group at ``path`` (made if missing)."""
    import zarr

    group = zarr.open_group(str(path), mode="a")
    return group.create_array(
        name, shape=shape, chunks=chunks, dtype=dtype, fill_value=0, overwrite=True
    )


def write_segmentation(lazy_classes, path, kind: str, *, client=None, workers=1, reporter=None):
    """Write the lazy classes (regular chunks) to the Zarr group ``path``: as
    ``labels`` for classes; for regions the classes go to ``classes`` and the regions
    to ``labels`` in a second pass over the stored classes; for objects (whose
    provisional ids stand for the classes) likewise, through ``object-ids``, removed
    once the objects are numbered. Returns the labels array."""
    import dask
    import dask.array as da

    from ._objects import numbered_objects, object_table
    from ._stitch import region_table, stitched_regions

    chunks = tuple(c[0] for c in lazy_classes.chunks)
    lazy_classes = lazy_classes.rechunk(chunks)  # a joined last chunk split back
    name = {"classes": "labels", "objects": "object-ids"}.get(kind, "classes")
    stored = create_labels_array(path, name, lazy_classes.shape, chunks, lazy_classes.dtype)
    store_chunks(lazy_classes, stored, client=client, workers=workers, reporter=reporter)
    if kind == "classes":
        return stored
    if reporter is not None:
        reporter.update(0, 1, stage=f"joining {kind} across chunks")
    make_table, finish = (
        (object_table, numbered_objects) if kind == "objects" else (region_table, stitched_regions)
    )
    table = make_table(da.from_zarr(stored, name=f"{name}-for-table"))
    if client is not None:
        table = client.compute(table).result()
    else:
        (table,) = dask.compute(table, scheduler="threads", num_workers=max(1, workers))
    labels = finish(da.from_zarr(stored, name=f"{name}-for-labels"), table)
    out = create_labels_array(path, "labels", labels.shape, chunks)
    store_chunks(labels, out, client=client, workers=workers, reporter=reporter)
    if kind == "objects":  # provisional ids, of no use once numbered
        import zarr

        del zarr.open_group(str(path), mode="a")[name]
    return out


__all__ = [
    "SegmentationCancelled",
    "create_labels_array",
    "is_zarr",
    "open_lazy",
    "store_chunks",
    "write_segmentation",
]
