"""The final cleanup of one chunk, cheap in time and memory.

The cleanup gives every graph superpixel (Felzenszwalb & Huttenlocher 2004,
"Efficient Graph-Based Image Segmentation") its most frequent class. Its graph costs
about 400 bytes and a few microseconds per pixel, so, as the in-memory path does for
planes above :data:`~napari_unsupseg.superpixels.GRAPH_MAX_PIXELS`, the superpixels
of a chunk are cut from a strided copy of it and taken back to full size. The stride
is one for the whole image: the in-memory path's stride for the image's plane, or
larger where a grown chunk would otherwise need a graph above
:data:`CHUNK_GRAPH_PIXELS`. The copy takes the pixels on the image's stride grid
(every ``stride``-th row and column counted from the image's corner, whatever the
chunk), so that neighbouring chunks cut their overlap from the same pixels.
"""

from __future__ import annotations

import math

import numpy as np

from ..superpixels import GRAPH_MAX_PIXELS, GRAPH_MIN_SIZE, GRAPH_SIGMA, mode_per_superpixel

#: the most pixels of one chunk's superpixel graph (a 1156x1156 grown chunk of 1024
#: pixels is cut at stride 2): two chunks at once then stay well under 1 GiB
CHUNK_GRAPH_PIXELS = 1 << 19


def cleanup_stride(image_plane: tuple[int, int], grown_plane: tuple[int, int]) -> int:
    """The stride of every chunk's superpixels: the in-memory path's for the whole
    ``image_plane``, at least enough to keep a ``grown_plane`` under CHUNK_GRAPH_PIXELS."""
    whole = math.ceil(math.sqrt(image_plane[0] * image_plane[1] / GRAPH_MAX_PIXELS))
    chunk = math.ceil(math.sqrt(grown_plane[0] * grown_plane[1] / CHUNK_GRAPH_PIXELS))
    return max(1, whole, chunk)


def strided_superpixels(samples: np.ndarray, scale: float, stride: int, origin=(0, 0)):
    """(ids, n): graph superpixels of every plane of ``samples`` (n, *spatial, C), cut
    from the pixels of the image's stride grid (``origin``: the block's first row and
    column in the image) and spread back to full size, each pixel taking the sample at
    or before it (the first one for pixels before it); ids unique, 0..n-1."""
    from skimage.segmentation import felzenszwalb

    spatial = samples.shape[1:-1]
    planes = samples.reshape(-1, *spatial[-2:], samples.shape[-1])
    min_size = max(2, round(GRAPH_MIN_SIZE / stride**2)) if stride > 1 else GRAPH_MIN_SIZE
    maps = [_grid_map(n, o, stride) for n, o in zip(spatial[-2:], origin, strict=True)]
    out = np.empty(planes.shape[:-1], dtype=np.int64)
    offset = 0
    for index, plane in enumerate(planes):
        (rows, row_of), (cols, col_of) = maps
        ids = felzenszwalb(
            plane[rows][:, cols].astype(np.float64),
            scale=scale,
            sigma=GRAPH_SIGMA,
            min_size=min_size,
            channel_axis=-1,
        )
        out[index] = ids[row_of[:, None], col_of[None, :]] + offset
        offset += int(ids.max()) + 1
    return out.reshape(samples.shape[:-1]), offset


def _grid_map(n: int, origin: int, stride: int):
    """(the block's indices on the image's stride grid, the grid sample of every index)."""
    first = (-origin) % stride
    if first >= n:  # a block thinner than the stride: its first pixel stands in
        first = 0
    taken = np.arange(first, n, stride)
    sample_of = (np.arange(n) - first) // stride
    return taken, np.clip(sample_of, 0, taken.size - 1)


def clean_chunk(labels: np.ndarray, samples: np.ndarray, superpixels, stride: int, origin):
    """``labels`` (shaped like ``samples``' spatial axes) with every superpixel given its
    most frequent label; graph superpixels strided as above, SLIC's at full size."""
    if superpixels.kind == "graph":
        ids, n = strided_superpixels(samples, superpixels.scale, stride, origin)
    else:
        ids, n = superpixels.compute(samples)
    return mode_per_superpixel(labels.reshape(ids.shape), ids, n)
