"""Lazy counterpart of :func:`napari_unsupseg._preprocess.prepare_image` for dask arrays.

Nothing is read whole: the checks look at the shape and dtype, the normalisation's
levels come from a strided sample of at most a million pixels (all of them for smaller
images, as the in-memory path does), and the features are normalised chunk by chunk,
with the very arithmetic of the in-memory path so that both give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .._preprocess import (
    _MAX_PERCENTILE_SAMPLES,
    _PERCENTILES,
    MAX_DIMS,
    checked_image,
    kept_channels,
    scale_between,
)


@dataclass(frozen=True)
class LazyFeatures:
    """Normalised float32 features as a dask array (spatial axes, then channels in one
    chunk), and what the in-memory path would report about the image."""

    features: object  # dask array
    spatial_shape: tuple[int, ...]
    channel_axis: int | None
    is_rgb: bool
    data: object = None  # the image channel-last, before normalisation (dask)
    scale: object = None  # data block -> features block (elementwise)


def is_lazy(image) -> bool:
    """A dask array (napari's lazy layers, :func:`dask.array.from_zarr`)."""
    return type(image).__module__.startswith("dask.") and hasattr(image, "chunks")


def strided_sample(data, max_pixels: int) -> np.ndarray:
    """Every k-th pixel along each spatial axis of channel-last ``data`` (dask), k chosen
    so that at most ``max_pixels`` are read back; (pixels, channels) numpy."""
    spatial = data.shape[:-1]
    total = int(np.prod(spatial))
    step = 1
    while total > max_pixels and int(np.prod([-(-n // step) for n in spatial])) > max_pixels:
        step += 1
    index = tuple(slice(None, None, step) for _ in spatial)
    return np.asarray(data[index].compute()).reshape(-1, data.shape[-1])


def prepare_lazy(image, channel_axis: int | None = None, normalize: str = "auto"):
    """Validate a dask ``image`` and return :class:`LazyFeatures` (nothing computed but
    a sample of at most a million pixels, for the percentile levels)."""
    import dask.array as da

    image, original_dtype, channel_axis, is_rgb = checked_image(image, normalize, channel_axis)
    if channel_axis is None:
        data = image[..., None]
    else:
        data = da.moveaxis(image, channel_axis, -1)
        data = data[..., : kept_channels(data.shape[-1], channel_axis, is_rgb)]
    spatial_shape = tuple(int(n) for n in data.shape[:-1])
    if not 2 <= len(spatial_shape) <= MAX_DIMS - 1:
        raise ValueError(
            f"image has {len(spatial_shape)} spatial dimensions {spatial_shape}; 2 to "
            f"{MAX_DIMS - 1} are supported"
        )
    data = data.rechunk({data.ndim - 1: -1})
    low, high = _levels(data, original_dtype, normalize)
    scale = partial(_scale, low=low, high=high)
    features = data.map_blocks(scale, dtype=np.float32)
    return LazyFeatures(features, spatial_shape, channel_axis, is_rgb, data, scale)


def _levels(data, dtype, mode: str):
    """(low, high) per channel, or None for the fixed scalings of uint8 and bool."""
    if mode == "none" or (mode == "auto" and dtype in (np.uint8, np.bool_)):
        return None, ("none" if mode == "none" else str(np.dtype(dtype)))
    sample = strided_sample(data, _MAX_PERCENTILE_SAMPLES)
    if np.issubdtype(sample.dtype, np.floating) and not np.isfinite(sample).all():
        raise ValueError("image contains NaN or infinite values: fill or mask them first")
    if mode in ("auto", "percentile"):
        low, high = np.percentile(sample.astype(np.float64), _PERCENTILES, axis=0)
        degenerate = high <= low
        if degenerate.any():  # sparse channels: the full range, as the in-memory path
            smallest, largest = _full_range(data)
            low, high = np.where(degenerate, smallest, low), np.where(degenerate, largest, high)
    else:
        low, high = _full_range(data)
    if not np.any(high > low):
        raise ValueError("image is constant: every pixel has the same value, nothing to segment")
    return np.asarray(low, np.float64), np.asarray(high, np.float64)


def _scale(block: np.ndarray, low, high) -> np.ndarray:
    """One chunk normalised as :func:`napari_unsupseg._preprocess.prepare_image` does."""
    if low is None:
        if high == "uint8":
            return block.astype(np.float32) / np.float32(255.0)
        return block.astype(np.float32)
    return scale_between(block, low, high)


def _full_range(data):
    """Per-channel minimum and maximum, in one pass over the lazy image."""
    import dask

    axes = tuple(range(data.ndim - 1))
    low, high = dask.compute(data.min(axis=axes), data.max(axis=axes))
    return low.astype(np.float64), high.astype(np.float64)
