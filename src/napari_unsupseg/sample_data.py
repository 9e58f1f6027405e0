"""Sample images that ship with the package or are made from a seed: no download.

* ``coffee``: a natural RGB photograph (321×481, the size of a BSDS500 image).
* ``cells``: a synthetic two-channel 16-bit fluorescence-like image (nuclei and
  cytoplasm) with its ground-truth labels, so segmentation and evaluation can be tried
  at once.
* ``cells_3d``: a synthetic 16-bit volume of spherical cells with ground truth.
* ``cells_other_microscope``: a scene like ``cells`` as another microscope renders
  it (blur, gamma, lower contrast, more noise): a target for label transfer.
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


def cell_classes(truth: np.ndarray) -> np.ndarray:
    """The classes of a ``cells`` ground truth: 0 background, 1 cytoplasm, 2 nucleus."""
    classes = np.zeros_like(truth)
    inside = truth > 0
    classes[inside] = np.where(truth[inside] % 2 == 1, 1, 2)
    return classes


def cells_other_microscope(
    seed: int = 1,
    shape: tuple[int, int] = (256, 256),
    n_cells: int = 18,
    *,
    blur: float = 2.0,
    gamma: float = 0.4,
    contrast: float = 0.3,
    noise: float = 0.08,
):
    """A ``cells`` scene (of ``seed``) as another microscope shows it: each channel is
    scaled to [0, 1], blurred by a wider point spread (``blur``, pixels), bent by a
    ``gamma`` curve, given Gaussian ``noise`` and squeezed to ``contrast`` of the range
    above an offset. Returns the (2, Y, X) uint16 image and the ground truth of
    :func:`cells` (the scene is unchanged)."""
    from scipy.ndimage import gaussian_filter

    image, truth = cells(seed, shape, n_cells)
    rng = np.random.default_rng(seed + 1000)  # not the scene's stream
    channels = []
    for channel in image.astype(np.float64):
        low, high = np.percentile(channel, (0.5, 99.5))
        scaled = np.clip((channel - low) / (high - low), 0, 1)
        shown = gaussian_filter(scaled, blur) ** gamma + rng.normal(0, noise, scaled.shape)
        channels.append(np.clip((0.2 + contrast * shown) * 20000, 0, 65535).astype(np.uint16))
    return np.stack(channels), truth


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


def transfer_pair_sample():
    """The ``cells`` sample with its classes (the source) and another scene as
    another microscope shows it (the target): everything label transfer needs."""
    (source, meta, _), (truth, _, _) = cells_sample()
    target, _ = cells_other_microscope()
    target_meta = {
        "name": "cells, other microscope (2 channels)",
        "metadata": {"channel_axis": 0},
        "contrast_limits": [float(target.min()), float(target.max())],
    }
    classes = {"name": "cells classes", "opacity": 0.5}
    return [
        (source, meta, "image"),
        (cell_classes(truth), classes, "labels"),
        (target, target_meta, "image"),
    ]


def cells_3d_sample():
    volume, truth = cells_3d()
    return [
        (volume, {"name": "cells 3D"}, "image"),
        (truth, {"name": "cells 3D ground truth", "opacity": 0.4, "visible": False}, "labels"),
    ]
