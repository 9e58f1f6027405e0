"""Matching boundary pixels one-to-one within a distance, with bounded cost.

The BSDS benchmark matches predicted and ground-truth boundary pixels one-to-one,
each pair no farther apart than a tolerance, and counts the matched pixels. Its code
solves a minimum-cost assignment that first maximises the number of pairs, then
prefers short ones. Here, own code on numpy and scipy:

1. Nearest first: for every offset within the tolerance, shortest first, each still
   free predicted pixel takes the free ground-truth pixel at that offset (a single
   offset never gives two pixels the same partner). This leaves no free pair within
   reach, and most pixels matched to a partner at distance 0 or 1.
2. Then a maximum matching from there: the matching becomes a flow and scipy's Dinic
   maximum flow (``scipy.sparse.csgraph.maximum_flow``) adds the augmenting paths
   that are left. Every vertex of that network has one edge in or one edge out with
   capacity 1, and on such unit networks Dinic's algorithm takes O(E sqrt(V)) time
   (Even & Tarjan 1975, "Network flow and testing graph connectivity"), the bound of
   Hopcroft-Karp; memory is O(E). Augmenting never unmatches a pixel, so the pixels
   matched in step 1 stay matched.

E is the number of pixel pairs within the tolerance, which grows with boundary length
times tolerance squared; past ``MAX_PAIRS`` the matching is refused with a clear
message rather than exhausting memory.
"""

from __future__ import annotations

import numpy as np

MAX_PAIRS = 60_000_000  # about 3 GiB at the peak of the maximum flow
_CHUNK = 4096  # predicted pixels whose neighbourhoods are gathered at once


def ball_offsets(ndim: int, radius: float) -> np.ndarray:
    """Integer offsets (rows) with length <= radius, in raster order."""
    reach = int(np.floor(radius))
    axis = np.arange(-reach, reach + 1)
    grid = np.stack(np.meshgrid(*[axis] * ndim, indexing="ij"), axis=-1).reshape(-1, ndim)
    return grid[(grid.astype(float) ** 2).sum(axis=1) <= radius * radius]


def match_pixels(pred_edge: np.ndarray, gt_edge: np.ndarray, radius: float):
    """Maximum one-to-one matching of True pixels of two maps within ``radius``.

    Returns (for each True pixel of ``pred_edge`` in raster order: matched?;
    number of matched pairs).
    """
    from scipy.ndimage import distance_transform_edt

    pred_points = np.flatnonzero(pred_edge)
    matched = np.zeros(pred_points.size, dtype=bool)
    if not pred_points.size or not gt_edge.any():
        return matched, 0
    # Only pixels with a partner in reach can be matched (as the BSDS code prunes).
    reachable = (distance_transform_edt(~gt_edge) <= radius).ravel()[pred_points]
    offsets = ball_offsets(pred_edge.ndim, radius)
    reach = int(np.abs(offsets).max(initial=0))
    padded_shape = tuple(n + 2 * reach for n in pred_edge.shape)
    strides = np.cumprod((1, *padded_shape[:0:-1]))[::-1]

    def padded_index(points):
        return (np.stack(np.unravel_index(points, pred_edge.shape), axis=1) + reach) @ strides

    pred_at = padded_index(pred_points[reachable])
    gt_points = np.flatnonzero(gt_edge)
    gt_index = np.full(int(np.prod(padded_shape)), -1, dtype=np.int32)
    gt_index[padded_index(gt_points)] = np.arange(gt_points.size, dtype=np.int32)
    steps = offsets @ strides
    lengths = (offsets.astype(float) ** 2).sum(axis=1)

    shortest_first = steps[np.argsort(lengths, kind="stable")]
    mate, gt_mate = _nearest_first(pred_at, gt_index, shortest_first, gt_points.size)
    n_greedy = int(np.count_nonzero(mate >= 0))
    gained = _augment(pred_at, gt_index, steps, mate, gt_mate, radius)
    hit = mate >= 0
    hit[gained] = True
    matched[np.flatnonzero(reachable)[hit]] = True
    return matched, n_greedy + gained.size


def _nearest_first(pred_at, gt_index, steps, n_gt: int):
    """Greedy matching, offsets shortest first: (partner of each pred, of each gt)."""
    mate = np.full(pred_at.size, -1, dtype=np.int32)
    gt_mate = np.full(n_gt, -1, dtype=np.int32)
    free = np.arange(pred_at.size)
    for step in steps:
        if not free.size:
            break
        target = gt_index[pred_at[free] + step]
        ok = target >= 0
        ok[ok] = gt_mate[target[ok]] < 0
        mate[free[ok]] = target[ok]
        gt_mate[target[ok]] = free[ok]
        free = free[~ok]
    return mate, gt_mate


def _augment(pred_at, gt_index, steps, mate, gt_mate, radius) -> np.ndarray:
    """Predicted pixels (indices) that a maximum matching adds to ``mate``.

    The residual network of the matching: source -> free pred; pred -> gt for every
    unmatched pair in reach; gt -> its pred for matched pairs; free gt -> sink.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    free_pred = np.flatnonzero(mate < 0)
    free_gt = gt_mate < 0
    if not free_pred.size or not free_gt.any():
        return free_pred[:0]
    n_pred, n_gt = pred_at.size, gt_mate.size
    counts = np.empty(n_pred, dtype=np.int64)
    parts, total = [], 0
    for start in range(0, n_pred, _CHUNK):
        stop = min(start + _CHUNK, n_pred)
        # Raster-ordered offsets give every row its gt indices in increasing order,
        # which is the sorted CSR layout maximum_flow needs, without a sort.
        target = gt_index[pred_at[start:stop, None] + steps[None, :]]
        keep = (target >= 0) & (target != mate[start:stop, None])
        counts[start:stop] = keep.sum(axis=1)
        parts.append(target[keep])
        total += int(counts[start:stop].sum())
        if total > MAX_PAIRS:
            raise ValueError(
                f"the boundary F-measure would have to match more than {MAX_PAIRS:,} "
                f"pairs of boundary pixels within its tolerance of {radius:.1f} pixels "
                "(0.0075 x the image diagonal, as in the BSDS benchmark), more memory "
                "than it may take: score a smaller image (BSDS images are 481 x 321), "
                "or leave the boundary F-measure off"
            )
    source, sink = n_pred + n_gt, n_pred + n_gt + 1
    gt_next = np.where(free_gt, sink, gt_mate)
    indices = np.concatenate([*parts, gt_next, free_pred]).astype(np.int32)
    del parts
    indices[:total] += n_pred  # gt vertices follow the pred vertices
    indptr = np.concatenate(
        [
            [0],
            np.cumsum(counts),
            total + np.arange(1, n_gt + 1),
            [total + n_gt + free_pred.size] * 2,
        ]
    )
    network = csr_matrix(
        (np.ones(indices.size, dtype=np.int32), indices, indptr.astype(np.int32)),
        shape=(sink + 1, sink + 1),
    )
    del indices
    flow = maximum_flow(network, source, sink, method="dinic").flow
    first, last = flow.indptr[source], flow.indptr[source + 1]
    return flow.indices[first:last][flow.data[first:last] > 0]
