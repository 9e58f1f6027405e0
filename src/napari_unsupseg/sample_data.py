"""Sample images that ship with the package or are made from a seed: no download.

* ``coffee``: a natural RGB photograph (321×481, the size of a BSDS500 image).
* ``cells``: a synthetic two-channel 16-bit fluorescence-like image (nuclei and
  cytoplasm) with its ground-truth labels, so segmentation and evaluation can be tried
  at once.
* ``cells_3d``: a synthetic 16-bit volume of spherical cells with ground truth.
"""

from __future__ import annotations

from importlib.resources import files

import numpy as np


def coffee() -> np.ndarray:
    """The coffee-cup photograph as a (321, 481, 3) uint8 array."""
    import imageio.v3 as iio

    with files("napari_unsupseg").joinpath("data/coffee.png").open("rb") as handle:
        return np.asarray(iio.imread(handle))[..., :3]


def _place_disks(rng, shape, n_cells, radius_range, max_tries=5000):
    smallest = 2 * (radius_range[1] + 2)
    if min(shape) < smallest:
        raise ValueError(
            f"shape {tuple(shape)} is too small for cells of radius up to "
            f"{radius_range[1]}: every side must be at least {smallest}"
        )
    centres, radii = [], []
    for _ in range(max_tries):
        if len(centres) == n_cells:
            break
        radius = rng.uniform(*radius_range)
        centre = np.array([rng.uniform(radius + 2, s - radius - 2) for s in shape])
        pairs = zip(centres, radii, strict=True)
        if all(np.linalg.norm(centre - c) > radius + r + 3 for c, r in pairs):
            centres.append(centre)
            radii.append(radius)
    return centres, radii


def _noisy_uint16(signal: np.ndarray, rng, background=400.0, gain=2500.0, read_noise=60.0):
    """Camera-like rendering: offset + Poisson shot noise + Gaussian read noise."""
    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(signal.astype(np.float64), 1.0)
    photons = rng.poisson(np.clip(blurred, 0, None) * gain + background)
    noisy = photons + rng.normal(0, read_noise, signal.shape)
    return np.clip(noisy, 0, 65535).astype(np.uint16)


def cells(seed: int = 0, shape: tuple[int, int] = (256, 256), n_cells: int = 18):
    """A (2, Y, X) uint16 image — nuclei, cytoplasm — and its ground-truth labels.

    Ground truth: 0 background; each cell's cytoplasm and its nucleus are separate
    segments, numbered cell by cell.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    truth = np.zeros(shape, dtype=np.int32)
    nuclei = np.zeros(shape)
    cytoplasm = np.zeros(shape)
    centres, radii = _place_disks(rng, shape, n_cells, (14, 24))
    for index, (centre, radius) in enumerate(zip(centres, radii, strict=True)):
        distance = np.hypot(yy - centre[0], xx - centre[1])
        cell = distance <= radius
        nucleus = distance <= radius * 0.5
        truth[cell] = 2 * index + 1
        truth[nucleus] = 2 * index + 2
        brightness = rng.uniform(0.8, 1.2)
        cytoplasm[cell & ~nucleus] = 0.5 * brightness
        nuclei[nucleus] = 1.0 * brightness
    image = np.stack([_noisy_uint16(nuclei, rng), _noisy_uint16(cytoplasm, rng)])
    return image, truth


def cells_3d(seed: int = 0, shape: tuple[int, int, int] = (24, 128, 128), n_cells: int = 10):
    """A (Z, Y, X) uint16 volume of spherical cells and its ground-truth labels."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[: shape[0], : shape[1], : shape[2]]
    truth = np.zeros(shape, dtype=np.int32)
    signal = np.zeros(shape)
    centres, radii = _place_disks(rng, shape, n_cells, (6, 10))
    for index, (centre, radius) in enumerate(zip(centres, radii, strict=True)):
        inside = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius**2
        truth[inside] = index + 1
        signal[inside] = rng.uniform(0.8, 1.2)
    return _noisy_uint16(signal, rng), truth


# napari sample-data contributions -------------------------------------------------


def coffee_sample():
    return [(coffee(), {"name": "coffee", "rgb": True}, "image")]


def cells_sample():
    image, truth = cells()
    meta = {
        "name": "cells (2 channels)",
        "metadata": {"channel_axis": 0},
        "contrast_limits": [float(image.min()), float(image.max())],
    }
    return [
        (image, meta, "image"),
        (truth, {"name": "cells ground truth", "opacity": 0.4, "visible": False}, "labels"),
    ]


def cells_3d_sample():
    volume, truth = cells_3d()
    return [
        (volume, {"name": "cells 3D"}, "image"),
        (truth, {"name": "cells 3D ground truth", "opacity": 0.4, "visible": False}, "labels"),
    ]
