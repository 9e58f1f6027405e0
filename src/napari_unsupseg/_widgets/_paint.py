"""Paint per-segment values onto ground-truth segments: the evaluation dock's heat map
and missed-segments layer. numpy only."""

from __future__ import annotations

import numpy as np


def paint_segments(truth_stack: np.ndarray, values: dict, fill, dtype) -> np.ndarray:
    """An array shaped like ``truth_stack`` where every pixel of ground-truth segment
    ``(annotator, id)`` holds ``values[(annotator, id)]`` and all other pixels ``fill``.

    Looks ids up by binary search, so huge or negative ids cost nothing extra.
    """
    out = np.full(truth_stack.shape, fill, dtype=dtype)
    for annotator, truth in enumerate(truth_stack):
        keys = sorted(gt for a, gt in values if a == annotator)
        if not keys:
            continue
        ids = np.array(keys, dtype=truth.dtype)
        painted = np.array([values[annotator, k] for k in keys], dtype=dtype)
        index = np.minimum(np.searchsorted(ids, truth), ids.size - 1)
        found = ids[index] == truth
        out[annotator][found] = painted[index[found]]
    return out
