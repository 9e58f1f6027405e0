"""Label bookkeeping: stable numbering so that colours do not jump between runs."""

from __future__ import annotations

import numpy as np


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 1..K, largest region first (ties: smallest original id first).

    Any integer ids are accepted, negative or huge ones included: ids are compacted
    with ``np.unique`` before counting, so memory stays O(pixels).
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        return np.zeros(labels.shape, dtype=np.int32)
    ids, inverse, counts = np.unique(labels.ravel(), return_inverse=True, return_counts=True)
    # Sort by descending size; np.lexsort is stable on the secondary key (id order).
    order = np.lexsort((np.arange(ids.size), -counts))
    new_id = np.empty(ids.size, dtype=np.int32)
    new_id[order] = np.arange(1, ids.size + 1, dtype=np.int32)
    return new_id[inverse].reshape(labels.shape)


def compact_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map arbitrary integer ids to 0..n-1; return (compact, original_ids)."""
    ids, inverse = np.unique(np.asarray(labels).ravel(), return_inverse=True)
    return inverse.reshape(np.shape(labels)).astype(np.int64, copy=False), ids
