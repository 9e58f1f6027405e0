"""mIoU All / Fine / Coarse: how the papers pool best-match IoUs over annotators and
images (Kim, Kanezaki & Tanaka 2020 on BSDS500). One image's :func:`evaluate` and a
benchmark over many images pool with this one function."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pool_best_ious(per_image: Sequence[Sequence[np.ndarray]]) -> dict[str, float]:
    """``miou_all``, ``miou_fine``, ``miou_coarse`` from, per image, the best-match IoU
    arrays of its annotators (one array per annotator, one IoU per ground-truth segment).

    All: every segment of every annotator of every image. Fine: per image the annotator
    with the most segments (the first on ties), Coarse the one with the fewest, their
    segments pooled over images. An annotator with no scored segment (every pixel
    ignored as background) is neither: its image's Coarse is the fewest *scored*
    segments, as the per-annotator means pass such an annotator over. NaN where no
    segment is scored; an image without annotators is passed over.
    """
    every, fine, coarse = [], [], []
    for annotators in per_image:
        annotators = [ious for ious in annotators if len(ious)]
        if not annotators:
            continue
        sizes = [len(ious) for ious in annotators]
        every.extend(annotators)
        fine.append(annotators[int(np.argmax(sizes))])
        coarse.append(annotators[int(np.argmin(sizes))])
    return {"miou_all": _mean(every), "miou_fine": _mean(fine), "miou_coarse": _mean(coarse)}


def _mean(arrays) -> float:
    joined = np.concatenate(arrays) if arrays else np.empty(0)
    return float(joined.mean()) if joined.size else float("nan")
