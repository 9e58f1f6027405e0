"""Exact maximum-weight matching on graphs whose pieces are simple paths, vectorised.

Chain-like overlaps (thin stripes against the same stripes shifted by a pixel, rings
against shifted rings) make overlap graphs that are long paths. On a path, a matching
is a set of edges no two of which touch, and the best one follows the recurrence
``F[k] = max(F[k-1], F[k-2] + w_k)`` over the edges in path order. That recurrence is
a product of 2 x 2 matrices in the (max, +) algebra, so all its prefixes come from a
parallel prefix scan in O(n) vectorised work rather than n Python steps; walking back
from the end to read off the chosen edges is another closed-form pass.
"""

from __future__ import annotations

import numpy as np


def vertex_graph(rows: np.ndarray, cols: np.ndarray):
    """Rows and columns as vertices 0..R-1 and R..R+C-1 of one sparse graph.

    Returns (graph with an entry per edge, head and tail vertex of each edge, the
    connected piece of each vertex, the degree of each vertex).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n_rows = int(rows.max()) + 1
    size = n_rows + int(cols.max()) + 1
    heads, tails = rows, n_rows + cols
    graph = coo_matrix((np.ones(rows.size, np.int8), (heads, tails)), shape=(size, size))
    graph = graph.tocsr()
    _, piece = connected_components(graph, directed=False)
    degree = np.bincount(heads, minlength=size) + np.bincount(tails, minlength=size)
    return graph, heads, tails, piece, degree


def path_pieces(heads, piece, degree) -> np.ndarray:
    """For each connected piece: is it a simple path?"""
    n_pieces = int(piece.max()) + 1
    vertices = np.bincount(piece, minlength=n_pieces)
    edges = np.bincount(piece[heads], minlength=n_pieces)
    branching = np.bincount(piece, weights=degree > 2, minlength=n_pieces) > 0
    return (edges == vertices - 1) & ~branching


class PathLayout:
    """The edges of a graph of simple paths laid end to end, for :meth:`best`.

    Edge slot k joins the k-th and (k+1)-th vertex of one walk through all paths;
    ``edge_of_slot[k]`` is the edge it is (-1 between two paths). ``heads`` and
    ``tails`` are the edges of the path pieces, ``piece`` and ``degree`` per vertex of
    the whole graph, ``is_path`` per piece.
    """

    def __init__(self, heads, tails, piece, degree, is_path):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import depth_first_order

        size = degree.size
        # A root joined to one end of every path: one depth-first walk lays all paths
        # out end to end (a path has no branch, so the walk runs to its far end).
        root = size
        ends = np.flatnonzero((degree == 1) & is_path[piece])
        _, first_end = np.unique(piece[ends], return_index=True)
        starts = ends[first_end]
        n_links = 2 * heads.size + starts.size
        links = coo_matrix(
            (
                np.ones(n_links, np.int8),
                (np.r_[heads, tails, np.full(starts.size, root)], np.r_[tails, heads, starts]),
            ),
            shape=(size + 1, size + 1),
        ).tocsr()
        order, parent = depth_first_order(links, root, directed=True, return_predecessors=True)
        order = order[1:]  # drop the root
        joined = parent[order[1:]] == order[:-1]
        lower = np.minimum(order[:-1], order[1:])[joined]
        upper = np.maximum(order[:-1], order[1:])[joined]
        keys = heads.astype(np.int64) * (size + 1) + tails
        by_key = np.arange(keys.size)
        if np.any(keys[1:] < keys[:-1]):
            by_key = np.argsort(keys)
        found = np.searchsorted(keys[by_key], lower.astype(np.int64) * (size + 1) + upper)
        self.edge_of_slot = np.full(max(order.size - 1, 0), -1, dtype=np.int64)
        self.edge_of_slot[joined] = by_key[found]
        self.n_edges = heads.size

    def best(self, weights: np.ndarray) -> np.ndarray:
        """Maximum-weight matching (mask over the edges); weight -inf leaves an edge out."""
        joined = self.edge_of_slot >= 0
        slot_weight = np.full(self.edge_of_slot.size, -np.inf)
        slot_weight[joined] = weights[self.edge_of_slot[joined]]
        best = prefix_best(slot_weight)  # best[k]: slots 0..k-1
        # Take slot k when it beats leaving it (strictly: ties leave it, -inf never wins).
        before_previous = np.r_[0.0, best[:-2]]
        take = before_previous + slot_weight > best[:-1]
        chosen = np.zeros(self.n_edges, dtype=bool)
        chosen[self.edge_of_slot[walk_back(take)]] = True
        return chosen


def _times(c, b):
    """(max, +) products c (x) b of stacks of 2 x 2 matrices, given as 4-tuples."""
    c00, c01, c10, c11 = c
    b00, b01, b10, b11 = b
    return (
        np.maximum(c00 + b00, c01 + b10),
        np.maximum(c00 + b01, c01 + b11),
        np.maximum(c10 + b00, c11 + b10),
        np.maximum(c10 + b01, c11 + b11),
    )


def _prefix_products(m):
    """Inclusive prefix products m[k] (x) ... (x) m[0], by pairing neighbours: O(n) work."""
    n = m[0].size
    if n == 1:
        return m
    odd = tuple(x[1::2] for x in m)
    even = tuple(x[0::2] for x in m)
    pairs = _prefix_products(_times(odd, tuple(x[: odd[0].size] for x in even)))
    out = tuple(np.empty(n) for _ in range(4))
    for part, whole, first in zip(pairs, out, (x[0] for x in m), strict=True):
        whole[1::2] = part
        whole[0] = first
    later = tuple(x[2::2] for x in m)
    if later[0].size:
        rest = _times(later, tuple(p[: later[0].size] for p in pairs))
        for part, whole in zip(rest, out, strict=True):
            whole[2::2] = part
    return out


def prefix_best(weights: np.ndarray) -> np.ndarray:
    """F[k] for k = 0..n: the best total of non-touching edges among the first k.

    Each step maps (F[k-1], F[k-2]) to (F[k], F[k-1]) by the (max, +) matrix
    [[0, w_k], [0, -inf]]; the prefix products of these give every F[k].
    """
    n = weights.size
    if n == 0:
        return np.zeros(1)
    steps = (np.zeros(n), weights.astype(float), np.zeros(n), np.full(n, -np.inf))
    p00, p01, _, _ = _prefix_products(steps)
    # Starting state (F[0], F[-1]) = (0, 0).
    return np.r_[0.0, np.maximum(p00, p01)]


def walk_back(take: np.ndarray) -> np.ndarray:
    """Slots chosen when walking back from the last slot: at slot k, if ``take[k]``
    choose it and jump to k - 2, else go to k - 1.

    Slot k is skipped exactly when slot k + 1 was visited and taken, so visits
    alternate along every run of ``take`` and restart after each False: slot k is
    visited when the distance to the first False above it is odd.
    """
    n = take.size
    position = np.arange(n)
    stop = np.where(take, n, position)  # the walk starts at n - 1: a False at n
    first_false_above = np.r_[np.minimum.accumulate(stop[::-1])[::-1][1:], n]
    visited = (first_false_above - 1 - position) % 2 == 0
    return visited & take
