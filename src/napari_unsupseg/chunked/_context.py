"""Apply a function chunk by chunk with context from the neighbouring chunks.

``map_with_context`` grows every chunk by ``depth`` pixels of its neighbours (none
beyond the image's edge, so that a chunk on the edge sees what the whole image's edge
sees), calls the function on the grown block and cuts the context off its result: the
dask counterpart of :func:`napari_unsupseg.cnn.infer.map_tiles`, with chunks for tiles.
"""

from __future__ import annotations

import numpy as np

#: chunk side (pixels) when the image's own chunks are thinner than MIN_CHUNK
DEFAULT_CHUNK = 1024
MIN_CHUNK = 256


def regular_chunks(array, spatial_chunk: int | None):
    """``array`` (spatial axes, then channels) with in-plane chunks of ``spatial_chunk``
    pixels a side (None: the array's own, or DEFAULT_CHUNK where those are thinner than
    MIN_CHUNK, as a TIFF's strips are), leading axes (z, t) chunked as they are, every
    axis made regular, and the channels in one chunk: regular chunks map one to one
    onto a Zarr store's."""
    sizes = []
    n_spatial = array.ndim - 1
    for axis, n in enumerate(array.shape[:-1]):
        size = max(array.chunks[axis])
        if axis >= n_spatial - 2:
            size = spatial_chunk or (size if size >= MIN_CHUNK else DEFAULT_CHUNK)
        sizes.append(min(int(size), int(n)))
    return array.rechunk((*sizes, -1))


def map_with_context(fn, features, depth: tuple[int, ...], dtype=np.int32, prepare=None, **kwargs):
    """``fn(block, origin=..., **kwargs)`` on every chunk of channel-last ``features``
    grown by ``depth`` pixels per spatial axis (``origin``: the grown block's first
    pixel in the image); ``fn`` returns an array of the grown block's spatial shape,
    of which the chunk's own part is kept. Returns a lazy array of the
    spatial shape, chunked like ``features``."""
    import dask.array as da

    spatial_ndim = features.ndim - 1
    depth = (*(int(d) for d in depth), 0)
    features = features.rechunk(
        tuple(_at_least(c, d) for c, d in zip(features.chunks, depth, strict=True))
    )
    # an axis in one chunk needs no context (and dask refuses a depth beyond its size)
    depth = tuple(0 if len(c) == 1 else d for c, d in zip(features.chunks, depth, strict=True))
    grown = da.overlap.overlap(features, depth=dict(enumerate(depth)), boundary="none")
    out_chunks = features.chunks[:spatial_ndim]
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in out_chunks]

    def run(block, block_info=None):
        info = block_info[0]
        where, count = info["chunk-location"], info["num-chunks"]
        origin = tuple(
            int(starts[axis][where[axis]]) - (depth[axis] if where[axis] > 0 else 0)
            for axis in range(spatial_ndim)
        )
        if prepare is not None:
            block = prepare(block)
        labels = fn(block, origin=origin, **kwargs)
        keep = tuple(
            slice(
                depth[axis] if where[axis] > 0 else 0,
                labels.shape[axis] - (depth[axis] if where[axis] < count[axis] - 1 else 0),
            )
            for axis in range(spatial_ndim)
        )
        return np.ascontiguousarray(labels[keep])

    return grown.map_blocks(run, dtype=dtype, drop_axis=spatial_ndim, chunks=out_chunks)


def _at_least(chunks: tuple[int, ...], depth: int) -> tuple[int, ...]:
    """``chunks`` with every chunk at least ``depth`` long (dask's overlap needs that):
    chunks shorter than ``depth`` are made ``depth`` long, and a short last chunk is
    joined to the one before it."""
    total, size = sum(chunks), max(max(chunks), depth)
    if size == max(chunks) and min(chunks[:-1] or chunks) >= depth and chunks[-1] >= depth:
        return tuple(chunks)
    out = [size] * (total // size)
    rest = total - sum(out)
    if rest and out and rest < depth:
        out[-1] += rest
    elif rest:
        out.append(rest)
    return tuple(out)
