"""Peak memory of a CNN run, estimated before it starts (no torch import), from the
method's settings (:meth:`napari_unsupseg.MethodSpec.settings`: every name is there)."""

from __future__ import annotations

import numpy as np

from ..superpixels import GRAPH_MAX_PIXELS
from .infer import TILE_VALUES, downscaled_shape

#: Felzenszwalb's graph per pixel of a plane: float64 copies of the image and its
#: smoothed version, four edges (two int64 ends and a float64 weight) and their sort
GRAPH_BYTES_PER_PIXEL = 180


def _training_pixels(spatial_shape, params) -> int:
    spatial = tuple(int(n) for n in spatial_shape)
    if len(spatial) == 3 and params["stack_mode"] == "reference":
        planes = int(params["train_planes"])
        n = spatial[0] if planes <= 0 else min(planes, spatial[0])
        spatial = (n, *spatial[1:])
    return int(np.prod(downscaled_shape(spatial, int(params["train_size"]))))


def estimate(spatial_shape, n_channels: int, params, device="auto") -> int:
    """Bytes: training activations and gradients (about 4 + 4 x n_conv float32 maps of
    ``n_channels`` per training pixel, twice for backward), the input copies, one
    prediction tile, the int labels and the graph superpixels of the final cleanup."""
    pixels = int(np.prod(spatial_shape))
    channels = int(params["n_channels"])
    train = _training_pixels(spatial_shape, params)
    per_train_pixel = 4 * channels * 2 * (4 + 4 * int(params["n_conv"]))
    inputs = 2 * pixels * n_channels * 4
    prediction = 4 * TILE_VALUES * 4 if train < pixels else 0
    labels = pixels * (4 + 8 * 3)  # int32 labels, relabelling's int64 temporaries
    return train * per_train_pixel + inputs + prediction + labels + _cleanup(spatial_shape, params)


def _cleanup(spatial_shape, params) -> int:
    """The graph superpixels of the final cleanup: one plane's graph at a time (planes
    above GRAPH_MAX_PIXELS are cut from a strided copy), int64 ids and mode keys."""
    if params["refinement"] != "graph":
        return 0
    plane = min(int(np.prod(spatial_shape[-2:])), GRAPH_MAX_PIXELS)
    return plane * GRAPH_BYTES_PER_PIXEL + int(np.prod(spatial_shape)) * 8 * 2
