"""Turn whatever array a user has into normalised, channel-last float32 features.

All validation of images happens here, once, with messages a user can act on. The
input array is never modified: every step makes a new array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_DIMS = 5
MAX_CHANNELS = 32
NORMALIZATIONS = ("auto", "percentile", "minmax", "none")
_PERCENTILES = (0.5, 99.5)
_MAX_PERCENTILE_SAMPLES = 1_000_000


@dataclass(frozen=True)
class PreparedImage:
    """Features ready for a segmenter, and how to map labels back to the input."""

    features: np.ndarray  # float32, spatial axes then one channel axis
    spatial_shape: tuple[int, ...]  # of the user's image, singleton axes included
    channel_axis: int | None  # resolved, non-negative, in the user's image
    is_rgb: bool


def guess_channel_axis(shape: tuple[int, ...]) -> int | None:
    """napari's convention: a last axis of 3 or 4 on a 3D+ array is RGB(A)."""
    if len(shape) >= 3 and shape[-1] in (3, 4):
        return len(shape) - 1
    return None


def _check_dtype(image: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(image):
        raise TypeError("complex images are not supported: pass np.abs(image) or its real part")
    if image.dtype == bool:
        return image.astype(np.float32)
    if image.dtype.kind in "mM":  # numpy counts timedelta64 as an integer type
        raise TypeError(
            f"image dtype {image.dtype} holds dates or durations, not intensities: "
            "expected integers, floats or booleans"
        )
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise TypeError(
            f"image dtype {image.dtype} is not numeric: expected integers, floats or booleans"
        )
    return image


def resolve_channel_axis(shape: tuple[int, ...], channel_axis) -> tuple[int | None, bool]:
    """(the channel axis, non-negative or None; whether it is napari's guessed RGB(A)),
    ``channel_axis`` checked against ``shape``."""
    if channel_axis is None:
        channel_axis = guess_channel_axis(shape)
        return channel_axis, channel_axis is not None
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, int | np.integer):
        raise TypeError(f"channel_axis must be an integer or None, got {channel_axis!r}")
    if not -len(shape) <= channel_axis < len(shape):
        raise ValueError(
            f"channel_axis={channel_axis} is out of range for an image with "
            f"{len(shape)} dimensions {tuple(shape)}"
        )
    return int(channel_axis) % len(shape), False


def kept_channels(n_entries: int, channel_axis: int, is_rgb: bool) -> int:
    """How many of the channel axis's entries are used (alpha is not a colour), checked."""
    if n_entries > MAX_CHANNELS:
        raise ValueError(
            f"channel axis {channel_axis} has {n_entries} entries; at most "
            f"{MAX_CHANNELS} channels are supported. Is channel_axis the right axis?"
        )
    return 3 if is_rgb and n_entries == 4 else n_entries


def checked_image(image, normalize: str, channel_axis):
    """(``image`` with a supported dtype, its original dtype, the channel axis,
    whether it is RGB): the checks every image passes, numpy or dask, nothing read."""
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}; got {normalize!r}")
    if image.dtype == object:
        raise TypeError("image must be a numeric array, not a Python object array")
    original_dtype = image.dtype
    image = _check_dtype(image)
    if image.size == 0:
        raise ValueError(f"image is empty (shape {image.shape})")
    channel_axis, is_rgb = resolve_channel_axis(image.shape, channel_axis)
    return image, original_dtype, channel_axis, is_rgb


def prepare_image(
    image,
    channel_axis: int | None = None,
    normalize: str = "auto",
) -> PreparedImage:
    """Validate ``image`` and return normalised channel-last float32 features.

    ``channel_axis=None`` follows napari: a last axis of length 3 or 4 on an array of
    three or more dimensions is colour (an alpha channel is dropped). uint8 and bool
    data are scaled by their full range (the papers' ``/255``); other data are scaled
    per channel between robust percentiles so 16-bit microscopy behaves like 8-bit.
    """
    if hasattr(image, "compute") and not isinstance(image, np.ndarray):
        image = image.compute()  # dask arrays from napari layers
    image, original_dtype, channel_axis, is_rgb = checked_image(
        np.asarray(image), normalize, channel_axis
    )
    if channel_axis is None:
        data = image[..., np.newaxis]
    else:
        data = np.moveaxis(image, channel_axis, -1)
        data = data[..., : kept_channels(data.shape[-1], channel_axis, is_rgb)]
    spatial_shape = data.shape[:-1]
    if len(spatial_shape) > MAX_DIMS - 1:  # counted without channels, however given
        raise ValueError(
            f"image has {len(spatial_shape)} spatial dimensions {spatial_shape}; at most "
            f"{MAX_DIMS - 1} are supported (time, z, y, x), plus channels: select a "
            "sub-volume first"
        )
    if len(spatial_shape) < 2:
        raise ValueError(
            f"image needs at least two spatial dimensions (y, x); got shape {image.shape}"
            + (f" with channel_axis={channel_axis}" if channel_axis is not None else "")
        )
    if int(np.prod(spatial_shape)) < 2:
        raise ValueError(f"image is a single pixel (shape {spatial_shape}): nothing to segment")
    if np.issubdtype(data.dtype, np.floating):
        finite = np.isfinite(data)
        if not finite.all():
            bad = int(data.size - np.count_nonzero(finite))
            raise ValueError(
                f"image contains {bad} NaN or infinite values: fill or mask them before segmenting"
            )

    features = _normalize(data, original_dtype, normalize)
    if normalize == "none" and not np.isfinite(features).all():
        raise ValueError(
            "image values are too large for 32-bit floats with normalize='none': "
            "use normalize='auto' or 'minmax'"
        )
    if not np.any(
        features.max(axis=tuple(range(features.ndim - 1)))
        > features.min(axis=tuple(range(features.ndim - 1)))
    ):
        raise ValueError("image is constant: every pixel has the same value, nothing to segment")
    return PreparedImage(
        features=np.ascontiguousarray(features, dtype=np.float32),
        spatial_shape=tuple(int(s) for s in spatial_shape),
        channel_axis=channel_axis,
        is_rgb=is_rgb,
    )


def _normalize(data: np.ndarray, dtype: np.dtype, mode: str) -> np.ndarray:
    if mode == "none":
        with np.errstate(over="ignore"):  # too large for float32: caught by the caller
            return data.astype(np.float32)
    if mode == "auto":
        if dtype == np.uint8:
            return data.astype(np.float32) / np.float32(255.0)
        if dtype == np.bool_:
            return data.astype(np.float32)
        mode = "percentile"
    flat = data.reshape(-1, data.shape[-1])
    if mode == "percentile":
        sample = flat
        if flat.shape[0] > _MAX_PERCENTILE_SAMPLES:
            step = flat.shape[0] // _MAX_PERCENTILE_SAMPLES + 1
            sample = flat[::step]
        low, high = np.percentile(sample.astype(np.float64), _PERCENTILES, axis=0)
        # Sparse channels (mostly background) can have equal percentiles: fall back to
        # the full range for those so their few bright pixels still count.
        flat_min, flat_max = (
            flat.min(axis=0).astype(np.float64),
            flat.max(axis=0).astype(np.float64),
        )
        degenerate = high <= low
        low = np.where(degenerate, flat_min, low)
        high = np.where(degenerate, flat_max, high)
    else:
        low = flat.min(axis=0).astype(np.float64)
        high = flat.max(axis=0).astype(np.float64)
    return scale_between(data, low, high)


def scale_between(data: np.ndarray, low, high) -> np.ndarray:
    """``data`` mapped from [low, high] per channel to [0, 1] float32, clipped (the lazy
    path scales each chunk with this too, so both give the same numbers)."""
    # Halved so that values near the float64 limits cannot overflow to inf.
    span = np.where(high > low, high / 2 - low / 2, 1.0)
    scaled = (data.astype(np.float64) / 2 - low / 2) / span
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)
