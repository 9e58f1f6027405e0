"""Synthetic images whose right answer is known, shared by the tests."""

from __future__ import annotations

import numpy as np

COLOURS = np.array([[200, 40, 40], [40, 180, 60], [50, 60, 200], [220, 210, 60]], dtype=np.float64)


def noisy_blocks(shape=(64, 64), noise=12.0, seed=0):
    """Four quadrants of distinct colour with Gaussian noise: uint8 RGB and truth 1..4."""
    rng = np.random.default_rng(seed)
    truth = np.zeros(shape, dtype=np.int32)
    h, w = shape[0] // 2, shape[1] // 2
    truth[:h, :w], truth[:h, w:], truth[h:, :w], truth[h:, w:] = 1, 2, 3, 4
    image = COLOURS[truth - 1] + rng.normal(0, noise, (*shape, 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


def stripes(shape=(64, 64), width=16, noise=0.05, seed=0):
    """Vertical grey stripes, alternately dark and bright: float image, one id per stripe."""
    rng = np.random.default_rng(seed)
    columns = np.arange(shape[1]) // width
    truth = np.broadcast_to(columns + 1, shape).astype(np.int32)
    image = np.where(truth % 2 == 0, 0.8, 0.2) + rng.normal(0, noise, shape)
    return image.astype(np.float32), truth


def best_match_miou(labels, truth):
    """Kim et al.'s score by brute force: each truth segment's best IoU over the
    prediction's 4-connected components, averaged (reference for the tests)."""
    from skimage.measure import label as connected

    components = connected(labels, background=-1, connectivity=1)
    scores = []
    for t in np.unique(truth):
        gt = truth == t
        best = 0.0
        for c in np.unique(components[gt]):
            pred = components == c
            best = max(best, np.sum(gt & pred) / np.sum(gt | pred))
        scores.append(best)
    return float(np.mean(scores))


#: Overrides that make any method quick enough for property tests.
_FAST = {"max_iter": 3, "n_channels": 8, "n_superpixels": 30, "max_samples": 2000}


def fast_params(spec):
    """The subset of ``_FAST`` that ``spec`` (a MethodSpec) accepts."""
    names = {p.name for p in spec.params}
    return {k: v for k, v in _FAST.items() if k in names}


def touching_blobs(shape=(96, 96), radius=9.0, spacing=None, seed=0, noise=0.08):
    """Pairs of touching bright disks (2D) or balls (3D) on a dark background, with
    noise: a float image and instance truth (0 background). ``spacing`` is the voxel
    size: blobs are round in physical units, so with a z step of 3 they are flat in
    voxels. Pair centres sit 1.6 radii apart, so each pair touches through a neck."""
    rng = np.random.default_rng(seed)
    spacing = np.ones(len(shape)) if spacing is None else np.asarray(spacing, dtype=float)
    extent = np.asarray(shape) * spacing
    axes = [np.arange(n) * step for n, step in zip(shape, spacing, strict=True)]
    grids = np.meshgrid(*axes, indexing="ij")
    truth = np.zeros(shape, dtype=np.int32)
    step = 4.5 * radius
    starts = [np.arange(2 * radius, e - 2 * radius, step) for e in extent]
    starts[-1] = np.arange(2 * radius, extent[-1] - 3.6 * radius, step)
    label = 0
    for corner in np.stack(np.meshgrid(*starts, indexing="ij"), -1).reshape(-1, len(shape)):
        for offset in (0.0, 1.6 * radius):
            centre = corner.copy()
            centre[-1] += offset
            inside = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=False)) <= radius**2
            label += 1
            truth[inside & (truth == 0)] = label
    image = np.where(truth > 0, 0.8, 0.1) + rng.normal(0, noise, shape)
    return image.astype(np.float32), truth
