"""Checks of what a caller passes to a run, shared by every entry point."""

from __future__ import annotations

import numpy as np


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be a whole number, got {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    return int(seed)


def check_scribbles(scribbles, spatial_shape: tuple[int, ...]) -> np.ndarray | None:
    if scribbles is None:
        return None
    scribbles = np.asarray(scribbles)
    if scribbles.dtype == bool or not np.issubdtype(scribbles.dtype, np.integer):
        raise TypeError(f"scribbles must be an integer label array, got dtype {scribbles.dtype}")
    if scribbles.shape != spatial_shape:
        raise ValueError(
            f"scribbles have shape {scribbles.shape} but the image's spatial shape is "
            f"{spatial_shape}"
        )
    if scribbles.min() < 0:
        raise ValueError("scribbles must be 0 (no scribble) or a positive class id")
    return scribbles if scribbles.any() else None


def squeeze_spatial(features: np.ndarray) -> np.ndarray:
    """Drop leading singleton spatial axes (a 1-plane stack is an image)."""
    while features.ndim > 3 and features.shape[0] == 1:
        features = features[0]
    return features
