"""Peak memory of a baseline's run, estimated before it starts (no torch import)."""

from __future__ import annotations

import numpy as np

from ..cnn.infer import TILE_VALUES, downscaled_shape
from . import dic, iic, wnet


def _estimate(module, spatial_shape, n_channels, params, extra_per_pixel=0) -> int:
    """Bytes: float32 activations of the training copy (the method's values per
    training pixel, doubled for gradients), input copies, one prediction tile, int
    labels and their relabelling temporaries, and ``extra_per_pixel`` bytes of the
    method's post-processing per full-size pixel."""
    spatial = tuple(int(n) for n in spatial_shape)
    planes = spatial[0] if len(spatial) == 3 else 1
    train_planes = int(params["train_planes"])
    if len(spatial) == 3 and train_planes > 0:
        planes = min(planes, train_planes)
    plane = downscaled_shape(spatial[-2:], int(params["train_size"]))
    train = planes * int(np.prod(plane))
    pixels = int(np.prod(spatial))
    values = module.values_per_pixel(params)
    training = train * values * 4 * 2
    inputs = 2 * pixels * n_channels * 4
    labels = pixels * (4 + 8 * 3)
    return training + inputs + 4 * TILE_VALUES * 4 + labels + pixels * extra_per_pixel


def iic_estimate(spatial_shape, n_channels, params, device="auto") -> int:
    return _estimate(iic, spatial_shape, n_channels, params)


def wnet_estimate(spatial_shape, n_channels, params, device="auto") -> int:
    """The CRF's kernels (one map per window offset) and the merging's region graph
    come on top, per full-size pixel."""
    from .wnet_post import CRF_RADIUS

    crf = 4 * 2 * (2 * CRF_RADIUS + 1) ** 2 if int(params["crf_iter"]) > 0 else 0
    return _estimate(wnet, spatial_shape, n_channels, params, extra_per_pixel=crf + 64)


def dic_estimate(spatial_shape, n_channels, params, device="auto") -> int:
    """The superpixels of the final cleanup come on top (Felzenszwalb's graph: about
    180 bytes per pixel of a plane; ids and mode keys)."""
    plane = int(np.prod(spatial_shape[-2:]))
    extra = 180 * plane // max(1, int(np.prod(spatial_shape))) + 16
    return _estimate(dic, spatial_shape, n_channels, params, extra_per_pixel=extra)
