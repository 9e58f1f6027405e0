"""Prediction at full resolution in tiles, so a 4096x4096 image fits in little memory.

Each tile is cut with a halo of one pixel per 3x3 convolution and the halo is cropped
from the result, so tiled output equals a whole-image forward pass (in eval mode).
"""

from __future__ import annotations

import itertools

import numpy as np

from .._labels import nearest_upsample as nearest_upsample  # its importers' name

#: activations (float32 values) one tile may hold per channel of the network
TILE_VALUES = 1 << 25  # 128 MiB per live activation tensor


def downscaled_shape(shape: tuple[int, ...], max_pixels: int) -> tuple[int, ...]:
    """The in-plane (last two axes) shape with at most ``max_pixels`` pixels per plane,
    keeping the aspect ratio; ``max_pixels=0`` or a small enough image keeps ``shape``."""
    plane = shape[-2] * shape[-1]
    if max_pixels <= 0 or plane <= max_pixels:
        return tuple(shape)
    factor = (max_pixels / plane) ** 0.5
    y, x = (max(4, round(n * factor)) for n in shape[-2:])
    return (*shape[:-2], y, x)


def resize_planes(x, shape: tuple[int, ...]):
    """Area-faithful (antialiased bilinear) resize of the last two axes of a
    (batch, channels, *spatial) tensor to ``shape``'s last two entries."""
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == tuple(shape[-2:]):
        return x
    lead = x.shape[:-2]
    planes = x.reshape(-1, 1, *x.shape[-2:])
    out = F.interpolate(planes, size=tuple(shape[-2:]), mode="bilinear", antialias=True)
    return out.reshape(*lead, *shape[-2:])


def downsample_scribbles(scribbles: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Scribbles (0 = none) on the training grid: every scribbled pixel marks the cell
    it falls in, so thin strokes survive downscaling (unlike plain subsampling)."""
    if scribbles.shape == tuple(shape):
        return scribbles
    out = np.zeros(shape, dtype=scribbles.dtype)
    drawn = np.nonzero(scribbles > 0)
    index = tuple(
        (coord * new) // old for coord, old, new in zip(drawn, scribbles.shape, shape, strict=True)
    )
    out[index] = scribbles[drawn]
    return out


def tile_shape(
    spatial: tuple[int, ...], n_channels: int, tile_values: int | None = None
) -> tuple[int, ...]:
    """Largest tile (halo excluded) whose activations stay within the budget
    (``tile_values``, default :data:`TILE_VALUES`)."""
    tile_values = TILE_VALUES if tile_values is None else tile_values
    budget = max(4096, tile_values // max(1, n_channels))
    tile = list(spatial)
    while int(np.prod(tile)) > budget:
        axis = int(np.argmax(tile))
        tile[axis] = (tile[axis] + 1) // 2
    return tuple(tile)


def map_tiles(
    fn,
    sample: np.ndarray,
    halo: int,
    n_channels: int,
    device,
    on_tile=None,
    tile_values=None,
):
    """Apply ``fn`` (input tensor (1, C, *tile) -> tensor (1, *tile)) over ``sample``
    (channel-last numpy, 2D or 3D) tile by tile; returns a numpy array of its spatial
    shape. Tiles are cut with ``halo`` extra pixels that are cropped afterwards;
    ``on_tile()`` runs before each tile (a cancellation check); ``tile_values`` bounds
    the values of one activation tensor (smaller when several chunks run at once)."""
    import torch

    from .net import channels_last

    spatial = sample.shape[:-1]
    tile = tile_shape(spatial, n_channels, tile_values)
    out = np.empty(spatial, dtype=np.int32)
    starts = [range(0, n, t) for n, t in zip(spatial, tile, strict=True)]
    for corner in itertools.product(*starts):
        if on_tile is not None:
            on_tile()
        core = tuple(slice(c, min(c + t, n)) for c, t, n in zip(corner, tile, spatial, strict=True))
        outer = tuple(
            slice(max(0, s.start - halo), min(n, s.stop + halo))
            for s, n in zip(core, spatial, strict=True)
        )
        crop = tuple(
            slice(s.start - o.start, s.stop - o.start) for s, o in zip(core, outer, strict=True)
        )
        block = np.ascontiguousarray(np.moveaxis(sample[outer], -1, 0))
        x = channels_last(torch.from_numpy(block).unsqueeze(0).to(device))
        with torch.no_grad():
            result = fn(x)[0]
        out[core] = result[crop].cpu().numpy()
    return out
