"""One-to-one matching of ground-truth to predicted segments on the sparse overlap graph.

Only overlapping pairs can be matched, so the problem is solved on the non-zero cells
of the contingency table, never on a dense thousands x thousands matrix: pairs whose
row and column have no other candidate are taken directly; the rest go to scipy's
sparse Jonker-Volgenant solver (``min_weight_full_bipartite_matching``).
"""

from __future__ import annotations

import numpy as np


def max_weight_matching(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Boolean mask of the candidate pairs in a one-to-one matching of maximum total weight.

    ``rows[k]``, ``cols[k]`` is a candidate pair with weight ``weights[k] > 0``; pairs
    are distinct. Leaving a row or column unmatched is allowed (it adds nothing).
    """
    chosen = np.zeros(rows.size, dtype=bool)
    if rows.size == 0:
        return chosen
    row_degree = np.bincount(rows)
    col_degree = np.bincount(cols)
    alone = (row_degree[rows] == 1) & (col_degree[cols] == 1)
    chosen[alone] = True
    rest = np.flatnonzero(~alone)
    if rest.size == 0:
        return chosen

    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    row_ids, r = np.unique(rows[rest], return_inverse=True)
    col_ids, c = np.unique(cols[rest], return_inverse=True)
    n_rows, n_cols = row_ids.size, col_ids.size
    # A private dummy column per row makes a full matching always exist; shifting every
    # weight by 1 makes "dummy" worth 1 and a real pair 1 + w, so the optimum is the
    # same as that of the original problem.
    dummy = np.arange(n_rows)
    graph = csr_matrix(
        (np.r_[weights[rest] + 1.0, np.ones(n_rows)], (np.r_[r, dummy], np.r_[c, n_cols + dummy])),
        shape=(n_rows, n_cols + n_rows),
    )
    match_rows, match_cols = min_weight_full_bipartite_matching(graph, maximize=True)
    real = match_cols < n_cols
    keys = r.astype(np.int64) * n_cols + c
    order = np.argsort(keys)
    found = np.searchsorted(
        keys[order], match_rows[real].astype(np.int64) * n_cols + match_cols[real]
    )
    chosen[rest[order[found]]] = True
    return chosen


def threshold_matching(rows, cols, iou, threshold: float) -> np.ndarray:
    """StarDist-style matching: most pairs with IoU >= threshold, ties broken by total IoU.

    Above 0.5 every segment has at most one candidate, so this is the plain
    thresholded pairing; at or below 0.5 it is a maximum-cardinality matching.
    """
    candidate = np.flatnonzero(iou >= threshold)
    chosen = np.zeros(rows.size, dtype=bool)
    if candidate.size == 0:
        return chosen
    # Cardinality first: each pair is worth 1 plus a tie-break that sums to under 1/2.
    bonus = iou[candidate] / (2.0 * (candidate.size + 1))
    chosen[candidate[max_weight_matching(rows[candidate], cols[candidate], 1.0 + bonus)]] = True
    return chosen
