"""Label transfer: lay out the domains, train with adaptation, predict every plane.

Everything here works on prepared features (float32, channel-last, normalised) laid
out as stacks of 2D planes: the segmenter is a 2D network, so a stack is a list of
planes (the reference mode of Kim et al. 2020), and a list of images is a longer list.
"""

from __future__ import annotations

import numpy as np

from .._device import resolve_device
from .train import IGNORE, AdaptConfig, adapt

#: label-0 readings: a class like the others (background), or unannotated pixels
LABEL_ZERO = ("class", "unlabelled")
#: the live preview shows at most this many pixels (a centred window) of one plane
PREVIEW_PIXELS = 512 * 512


def class_table(source_labels: np.ndarray, label_zero: str):
    """The source's label ids and each pixel's class index (IGNORE where label 0 marks
    unannotated pixels). Returns (ids, int64 class indices of the labels' shape)."""
    if label_zero not in LABEL_ZERO:
        raise ValueError(f"label_zero must be one of {', '.join(LABEL_ZERO)}; got {label_zero!r}")
    ids, inverse = np.unique(source_labels, return_inverse=True)
    classes = inverse.reshape(source_labels.shape).astype(np.int64)
    if label_zero == "unlabelled" and ids.size and ids[0] == 0:
        ids = ids[1:]
        classes -= 1
        classes[source_labels == 0] = IGNORE
    return ids, classes


def planes(features: np.ndarray) -> list[np.ndarray]:
    """(n, Y, X, C) features as a list of (C, Y, X) views, one per plane."""
    return [np.moveaxis(plane, -1, 0) for plane in features]


def centre_window(shape: tuple[int, int], max_pixels: int = PREVIEW_PIXELS):
    """The slices of the centred window of ``shape`` holding at most ``max_pixels``."""
    side = int(max_pixels**0.5)
    rows, cols = min(shape[0], side), min(shape[1], max_pixels // min(shape[0], side))
    top, left = (shape[0] - rows) // 2, (shape[1] - cols) // 2
    return slice(top, top + rows), slice(left, left + min(cols, shape[1]))


def predict_plane(segmenter, plane: np.ndarray, device, on_tile=None) -> np.ndarray:
    """Class indices of one (Y, X, C) plane at full resolution, tile by tile (the
    segmenter has no pooling and no BatchNorm, so tiles join seamlessly)."""
    from ..cnn.infer import map_tiles
    from .net import halo

    width = segmenter[0].out_channels

    def classify(tile):
        return segmenter(tile).argmax(dim=1)

    return map_tiles(classify, plane, halo(), width, device, on_tile=on_tile)


def run_transfer(
    targets: list[np.ndarray],
    source: np.ndarray,
    source_labels: np.ndarray,
    *,
    seed: int,
    device,
    reporter,
    label_zero: str,
    **params,
) -> list[np.ndarray]:
    """Learn the classes of ``source_labels`` (n, Y, X) on ``source`` (n, Y, X, C),
    adapted to ``targets`` (a list of (m, Y', X', C) stacks), and label every target.

    Returns one int32 array per target, shaped (m, Y', X'), holding source label ids.
    ``params`` are :class:`AdaptConfig`'s fields (the method's parameters).
    """
    from .net import build_segmenter

    ids, classes = class_table(source_labels, label_zero)
    dev = resolve_device(device)
    config = AdaptConfig(**params)
    segmenter = build_segmenter(source.shape[-1], ids.size, config.width, seed).to(dev)
    first = targets[0]
    middle = first.shape[0] // 2
    window = centre_window(first.shape[1:3])

    def preview() -> np.ndarray:
        import torch

        labels = np.zeros(first.shape[:3], dtype=np.int32)
        with torch.no_grad():
            found = predict_plane(segmenter, first[middle][window], dev)
        labels[middle][window] = ids[found]
        return labels

    adapt(
        segmenter,
        planes(source),
        list(classes),
        [plane for target in targets for plane in planes(target)],
        config,
        seed=seed,
        reporter=reporter,
        preview=preview,
    )
    check = reporter.check if reporter is not None else None
    total = sum(target.shape[0] for target in targets)
    out, done = [], 0
    for target in targets:
        labels = np.empty(target.shape[:3], dtype=np.int32)
        for index, plane in enumerate(target):
            if reporter is not None:
                reporter.update(done, total, stage="predicting")
            labels[index] = ids[predict_plane(segmenter, plane, dev, on_tile=check)]
            done += 1
        out.append(labels)
    if reporter is not None:
        reporter.update(total, total, stage="predicting")
    return out
