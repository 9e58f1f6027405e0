"""The contingency table n_ij (ground-truth segment i x predicted segment j), in O(pixels).

Every region metric is a function of this one table. It is built without ever indexing
by a raw label value: pixels are first collapsed into runs of equal (ground truth,
prediction) along the raster order, then the runs' ids are compacted with ``np.unique``
and counted with one ``np.bincount``. Memory is O(pixels) whatever the ids are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Contingency:
    """The overlaps of one annotator's segments (rows) with the predicted segments (columns).

    ``rows``, ``cols`` and ``counts`` list the non-zero cells n_ij, sorted by row then
    column. ``gt_ids`` holds the ground-truth label of each row (ascending),
    ``gt_sizes`` its pixel count a_i, and ``pred_sizes`` the pixel count b_j of every
    predicted segment over the whole image.
    """

    gt_ids: np.ndarray
    gt_sizes: np.ndarray
    pred_sizes: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray


def _runs(values: np.ndarray) -> np.ndarray:
    """Boolean: True where a new run of equal values starts (raster order)."""
    starts = np.empty(values.size, dtype=bool)
    starts[0] = True
    np.not_equal(values[1:], values[:-1], out=starts[1:])
    return starts


def contingency_tables(segments: np.ndarray, n_segments: int, gt_stack: np.ndarray):
    """One :class:`Contingency` per annotator of ``gt_stack`` (annotators, *shape).

    ``segments`` holds predicted segment indices 0..n_segments-1 with the spatial shape.
    """
    pred = segments.ravel()
    n_pixels = pred.size
    pred_breaks = _runs(pred)
    run_gt, run_pred, run_len, run_annotator = [], [], [], []
    for annotator, truth in enumerate(gt_stack):
        truth = truth.ravel()
        starts = np.flatnonzero(pred_breaks | _runs(truth))
        run_gt.append(truth[starts])
        run_pred.append(pred[starts])
        run_len.append(np.diff(starts, append=n_pixels))
        run_annotator.append(np.full(starts.size, annotator, dtype=np.int64))
    run_gt = np.concatenate(run_gt)
    run_pred = np.concatenate(run_pred).astype(np.int64)
    run_len = np.concatenate(run_len)
    run_annotator = np.concatenate(run_annotator)

    # Compact ids: ground-truth values, then (annotator, value) rows, then table cells.
    gt_values, gt_index = np.unique(run_gt, return_inverse=True)
    row_keys, row_index = np.unique(run_annotator * gt_values.size + gt_index, return_inverse=True)
    cell_keys, cell_index = np.unique(row_index * n_segments + run_pred, return_inverse=True)
    counts = np.bincount(cell_index, weights=run_len).astype(np.int64)
    cell_rows = cell_keys // n_segments
    cell_cols = cell_keys % n_segments
    row_sizes = np.bincount(cell_rows, weights=counts, minlength=row_keys.size).astype(np.int64)
    pred_sizes = np.bincount(pred, minlength=n_segments).astype(np.int64)

    row_annotator = row_keys // gt_values.size
    row_gt = gt_values[row_keys % gt_values.size]
    tables = []
    for annotator in range(gt_stack.shape[0]):
        first, last = np.searchsorted(row_annotator, [annotator, annotator + 1])
        lo, hi = np.searchsorted(cell_rows, [first, last])
        tables.append(
            Contingency(
                gt_ids=row_gt[first:last],
                gt_sizes=row_sizes[first:last],
                pred_sizes=pred_sizes,
                rows=cell_rows[lo:hi] - first,
                cols=cell_cols[lo:hi],
                counts=counts[lo:hi],
            )
        )
    return tables
