"""Kanezaki (2018)'s superpixel refinement: every pixel takes its superpixel's most
frequent label. One ``bincount`` over (superpixel, label) pairs, no Python loop."""

from __future__ import annotations

import numpy as np


def superpixel_mode(target, superpixels, n_superpixels: int, n_classes: int):
    """Refined targets: the mode of ``target`` inside each superpixel.

    ``target`` and ``superpixels`` are integer tensors of the same shape, superpixel ids
    in 0..n_superpixels-1. Ties go to the smallest label, as ``np.argmax`` over the
    authors' sorted ``np.unique`` does.
    """
    import torch

    key = superpixels.reshape(-1) * n_classes + target.reshape(-1)
    counts = torch.bincount(key, minlength=n_superpixels * n_classes)
    mode = counts.view(n_superpixels, n_classes).argmax(dim=1)
    return mode[superpixels]


def compute_superpixels(samples, n_segments: int, compactness: float) -> tuple[np.ndarray, int]:
    """SLIC superpixels of each sample (channel-last, 2D or 3D), with ids made unique
    across samples and compacted to 0..n-1; returns (ids with the samples' spatial
    shapes stacked, n)."""
    from skimage.segmentation import slic

    out, offset = [], 0
    for sample in samples:
        image = sample[..., 0] if sample.shape[-1] == 1 else sample
        channel_axis = None if sample.shape[-1] == 1 else -1
        labels = slic(
            image.astype(np.float64),
            n_segments=n_segments,
            compactness=compactness,
            channel_axis=channel_axis,
            start_label=0,
        )
        _, labels = np.unique(labels, return_inverse=True)
        labels = labels.reshape(image.shape[: sample.ndim - 1])
        out.append(labels + offset)
        offset += int(labels.max()) + 1
    return np.stack(out).astype(np.int64), offset
