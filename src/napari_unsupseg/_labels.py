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
    """Map any integer ids to 0..K-1: return (compact ids, original ids, sorted).

    Pixels are collapsed into runs of equal value (raster order) and only the runs'
    values are sorted, so this costs O(pixels + runs log runs) and never allocates a
    table indexed by raw values: a label of 10**9 costs nothing extra.
    """
    labels = np.asarray(labels)
    flat = labels.ravel()
    if flat.size == 0:
        return np.zeros(labels.shape, dtype=np.int64), flat[:0]
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    ids, inverse = np.unique(flat[starts], return_inverse=True)
    compacted = np.repeat(inverse.astype(np.int64, copy=False), np.diff(starts, append=flat.size))
    return compacted.reshape(labels.shape), ids


def face_neighbour_slices(shape: tuple[int, ...]):
    """For every axis of ``shape`` longer than 1, the index pair (lower, upper) that
    puts each element beside its next neighbour along that axis: ``a[lower]`` and
    ``a[upper]`` are the two sides of every face between elements."""
    for axis, n in enumerate(shape):
        if n < 2:
            continue
        lower = [slice(None)] * len(shape)
        upper = [slice(None)] * len(shape)
        lower[axis], upper[axis] = slice(None, -1), slice(1, None)
        yield tuple(lower), tuple(upper)


def nearest_upsample(labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour resize of the last two axes of ``labels`` to ``shape``."""
    if labels.shape[-2:] == tuple(shape[-2:]):
        return labels
    rows = (np.arange(shape[-2]) * labels.shape[-2]) // shape[-2]
    cols = (np.arange(shape[-1]) * labels.shape[-1]) // shape[-1]
    return labels[..., rows[:, None], cols[None, :]]
