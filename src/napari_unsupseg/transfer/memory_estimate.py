"""Peak memory of a label-transfer run, estimated before it starts (no torch import)."""

from __future__ import annotations

import numpy as np

from ..cnn.infer import TILE_VALUES
from .net import DILATIONS

#: float32 maps per segmenter layer and crop pixel kept for backward (conv output,
#: ReLU, gradient) and the discriminator's share, generously rounded
_MAPS_PER_LAYER = 4


def estimate_planes(target_shapes, source_shape, params) -> int:
    """Bytes: the prepared inputs (as given, plus one copy of a crop batch), the
    training activations of both domains' crops, one prediction tile, the labels."""
    inputs = sum(int(np.prod(s)) for s in (*target_shapes, source_shape)) * 4
    target_pixels = sum(int(np.prod(s[:-1])) for s in target_shapes)
    width = int(params["width"])
    crop = int(params["crop_size"]) ** 2 * int(params["batch_size"])
    layers = len(DILATIONS) + 1
    training = 2 * crop * width * layers * _MAPS_PER_LAYER * 4
    discriminator = 2 * crop * int(params["discriminator_width"]) * 4 * 4
    tile = 3 * TILE_VALUES * 4
    labels = (target_pixels + int(np.prod(source_shape[:-1]))) * (4 + 8 * 2)
    return int(inputs + training + discriminator + tile + labels)


def estimate(spatial_shape, n_channels: int, params, device="auto") -> int:
    """The registry's signature: one target of ``spatial_shape``, a source as large."""
    shape = (*tuple(int(n) for n in spatial_shape), int(n_channels))
    planes = (int(np.prod(shape[:-3])), *shape[-3:])
    return estimate_planes([planes], planes, params)
