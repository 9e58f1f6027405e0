"""One-to-one matching of ground-truth to predicted segments on the sparse overlap graph.

Only overlapping pairs can be matched, so the problem is solved on the non-zero cells
of the contingency table, never on a dense thousands x thousands matrix, in three
parts: pairs whose row and column have no other candidate are taken directly;
connected pieces of the overlap graph that are simple paths (stripes against stripes
shifted by a pixel give one path through every segment) are solved exactly by dynamic
programming (``_paths``) in O(n) vectorised work; the rest goes to scipy's sparse
Jonker-Volgenant solver (``min_weight_full_bipartite_matching``), whose shortest
augmenting paths would walk such chains end to end once per segment.

The structure is worked out once per overlap graph and reused for every weighting
(the Hungarian mIoU and the matching at each IoU threshold).
"""

from __future__ import annotations

import numpy as np

from ._paths import PathLayout, path_pieces, vertex_graph

#: weight of the threshold matching's last tie-break (matched IoU): it only decides
#: between assignments that StarDist's own terms score within about 1e-9 of each
#: other, which on real IoUs means exact ties, and stays far above rounding noise
EXACT_TIE = 1e-9


class OverlapGraph:
    """Candidate pairs ``rows[k]``, ``cols[k]`` (distinct) prepared for matching."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray):
        self.rows, self.cols = rows, cols
        self.alone = np.zeros(rows.size, dtype=bool)
        self.piece = np.zeros(rows.size, dtype=np.int64)
        self.paths = None
        self.path_edges = self.other_edges = np.zeros(0, dtype=np.int64)
        if rows.size == 0:
            return
        self.alone = (np.bincount(rows)[rows] == 1) & (np.bincount(cols)[cols] == 1)
        rest = np.flatnonzero(~self.alone)
        self.piece[self.alone] = -1 - np.arange(np.count_nonzero(self.alone))
        if rest.size == 0:
            return
        _, heads, tails, piece, degree = vertex_graph(_compact(rows[rest]), _compact(cols[rest]))
        self.piece[rest] = piece[heads]
        is_path = path_pieces(heads, piece, degree)
        path = is_path[piece[heads]]
        self.path_edges, self.other_edges = rest[path], rest[~path]
        if self.path_edges.size:
            self.paths = PathLayout(heads[path], tails[path], piece, degree, is_path)

    def best(self, weights: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Mask of the pairs in a one-to-one matching of maximum total weight.

        ``weights`` > 0; only ``active`` pairs (default all) may be chosen. Leaving a
        row or column unmatched is allowed (it adds nothing).
        """
        if active is None:
            active = np.ones(self.rows.size, dtype=bool)
        chosen = self.alone & active
        if self.paths is not None:
            path_weights = np.where(active[self.path_edges], weights[self.path_edges], -np.inf)
            chosen[self.path_edges] = self.paths.best(path_weights)
        other = self.other_edges[active[self.other_edges]]
        if other.size:
            rows, cols = self.rows[other], self.cols[other]
            chosen[other] = _jonker_volgenant(rows, cols, weights[other])
        return chosen

    def threshold_matching(self, iou: np.ndarray, threshold: float, n_matchable: int):
        """StarDist's matching: the most pairs with IoU >= threshold, ties by total IoU.

        As in StarDist's ``matching`` (Schmidt et al. 2018, "Cell Detection with
        Star-convex Polygons"): one assignment maximises ``[IoU >= T] + IoU / (2 n)``
        summed over *all* assigned pairs, ``n`` being the smaller of the numbers of
        ground-truth and predicted objects; the tie-break term sums to at most 1/2,
        so the count of pairs reaching T comes first, then the total IoU of the
        assignment, pairs below T included. The matched pairs are those of the
        assignment with IoU >= T. Exact ties left after that (equal count, equal
        total) go to the assignment whose matched pairs have the higher IoU, so the
        result never depends on the order of the labels; StarDist keeps whichever
        optimum its solver meets first.

        Where no two pairs reaching T share a segment (always above 0.5, where a
        segment has at most one such partner), the count alone asks for all of them:
        only the connected pieces of the overlap graph where such pairs compete need
        the assignment.
        """
        above = iou >= threshold
        rows, cols = self.rows[above], self.cols[above]
        competing = (np.bincount(rows)[rows] > 1) | (np.bincount(cols)[cols] > 1)
        if not competing.any():
            return above
        weights = above * (1.0 + EXACT_TIE * iou) + iou / (2.0 * max(n_matchable, 1))
        active = np.isin(self.piece, self.piece[above][competing])
        return np.where(active, self.best(weights, active), above) & above


def _compact(ids: np.ndarray) -> np.ndarray:
    """Non-negative ids renumbered 0..K-1 in increasing order, in O(n)."""
    present = np.zeros(int(ids.max()) + 1, dtype=np.int64)
    present[ids] = 1
    return (np.cumsum(present) - 1)[ids]


def _jonker_volgenant(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Maximum-weight matching by scipy's sparse LAPJV on a graph with a perfect matching.

    Every row gets a private "unmatched" column and every column a private
    "unmatched" row, and the two copies are linked wherever the original pair is
    (the usual mirror construction), so a full matching always exists and
    matching a real pair never forces another vertex out. All weights are
    shifted by the same constant (every full matching has the same number of
    pairs, so the optimum does not move), which keeps them positive, since scipy
    reads explicit zeros as missing edges.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    r, c = _compact(rows), _compact(cols)
    n_rows, n_cols = int(r.max()) + 1, int(c.max()) + 1
    shift = 10.0 * (1.0 + float(weights.max()))
    left = np.r_[r, np.arange(n_rows), n_rows + np.arange(n_cols), n_rows + c]
    right = np.r_[c, n_cols + np.arange(n_rows), np.arange(n_cols), n_cols + r]
    values = np.r_[weights + shift, np.full(n_rows + n_cols + r.size, shift)]
    size = n_rows + n_cols
    graph = csr_matrix((values, (left, right)), shape=(size, size))
    match_left, match_right = min_weight_full_bipartite_matching(graph, maximize=True)
    real = (match_left < n_rows) & (match_right < n_cols)
    keys = r.astype(np.int64) * n_cols + c
    order = np.argsort(keys)
    found = np.searchsorted(
        keys[order], match_left[real].astype(np.int64) * n_cols + match_right[real]
    )
    chosen = np.zeros(rows.size, dtype=bool)
    chosen[order[found]] = True
    return chosen
