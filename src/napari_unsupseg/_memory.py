"""Memory estimates made before a run, so that a job that cannot fit is refused with
advice instead of swapping the machine to a halt or being killed halfway."""

from __future__ import annotations

import os

import numpy as np

GIB = 1024**3
#: Refuse a run that would take more than this share of the memory available now.
HEADROOM = 0.9


class InsufficientMemoryError(MemoryError):
    """The run would not fit in the memory available; the message says what would."""


def available_memory() -> int | None:
    """Bytes of RAM available to a new allocation now (Linux: MemAvailable)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def classical_estimate(spatial_shape, n_channels: int, params: dict, device="auto") -> int:
    """Peak bytes of the scikit-learn / scikit-image / mixture segmenters, generously
    rounded. k-means is dominated by per-pixel float64 copies of the features (plus
    coordinates when ``spatial_weight`` > 0)."""
    pixels = int(np.prod(spatial_shape))
    columns = n_channels + (len(spatial_shape) if params.get("spatial_weight", 0) else 0)
    if "n_components" in params:
        return _mixture_estimate(pixels, n_channels, columns, params)
    per_pixel = 3 * 8 * columns + 8  # features, float64 copy, distances; int labels
    if "scale" in params:  # Felzenszwalb works plane by plane on float64 and its graph
        plane = int(np.prod(spatial_shape[-2:]))
        return pixels * 16 + plane * (8 * n_channels * 3 + 8 * 4 * 4)
    return pixels * per_pixel


def _mixture_estimate(pixels: int, n_channels: int, columns: int, params: dict) -> int:
    """gmm and gmm+kmeans (classical.py, mixture.py): whole-image arrays are only the
    float32 features (and a transient copy), the coordinates when ``spatial_weight`` >
    0, the int32 labels and the final renumbering's int64 temporaries (about 33 bytes a
    pixel measured, 40 counted). The fits see at most ``max_samples`` pixels and the
    posteriors exist for one chunk of pixels at a time."""
    from .mixture import CHUNK_PIXELS

    components = int(params["n_components"])
    clusters = int(params.get("n_clusters", 0))
    per_pixel = 2 * 4 * n_channels + 4 + 40
    if columns > n_channels:  # pixel_features: coordinate grids, then the joined copy
        per_pixel += 3 * 4 * columns
    fitted = min(pixels, int(params.get("max_samples", pixels)))
    per_fitted = 16 * columns + 16 * components + 8 * clusters + 64  # sample, EM, k-means
    per_chunk = 8 * components + 12 * columns + 8 * clusters + 16  # posteriors, distances
    return pixels * per_pixel + fitted * per_fitted + min(pixels, CHUNK_PIXELS) * per_chunk


def format_bytes(n: float) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB / 10 else f"{n / 1024**2:.0f} MiB"


def check_fits(
    needed: int, what: str, advice: str, available: int | None = None, where: str = "memory"
) -> None:
    """Raise :class:`InsufficientMemoryError` if ``needed`` bytes do not fit now in
    ``available`` bytes (default: the RAM available), named ``where`` in the message."""
    available = available_memory() if available is None else available
    if available is None or needed <= HEADROOM * available:
        return
    fits = HEADROOM * available / needed
    raise InsufficientMemoryError(
        f"{what} needs about {format_bytes(needed)} but only {format_bytes(available)} of "
        f"{where} is available. About {fits:.0%} of this job would fit: {advice}"
    )


def cuda_free_memory(device) -> int | None:
    """Free bytes on the CUDA GPU a run on ``device`` would use; None when it would run
    elsewhere (the RAM check applies then). Imports torch: CNN methods only."""
    import torch

    from ._device import resolve_device

    resolved = resolve_device(device)
    if resolved.type != "cuda":
        return None
    try:
        free, _ = torch.cuda.mem_get_info(resolved)
    except (RuntimeError, AssertionError):  # unreadable: the run's own OOM handling remains
        return None
    return int(free)
