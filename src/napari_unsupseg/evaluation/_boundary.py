"""Boundary F-measure: do the predicted edges lie where the annotators drew theirs?

Own implementation on scipy (the classic BSDS code is GPL C++). A boundary pixel is a
pixel with a face neighbour of another label (both sides of an edge are marked, the
image border is not an edge). Predicted and ground-truth boundary pixels are matched
one-to-one when they lie within ``0.0075 x image diagonal`` pixels of each other, by a
maximum-cardinality bipartite matching (Hopcroft-Karp) on the pairs within the
tolerance; pixels with no partner within reach are pruned first.
"""

from __future__ import annotations

import numpy as np

from .._labels import face_neighbour_slices

TOLERANCE = 0.0075


def boundary_pixels(labels: np.ndarray, ignore_background: bool) -> np.ndarray:
    """Boolean map of the pixels that touch (by a face) a pixel of another label.

    With ``ignore_background`` the pixels of label 0 are not boundary pixels: only the
    inner edges of labelled segments count.
    """
    edge = np.zeros(labels.shape, dtype=bool)
    for lower, upper in face_neighbour_slices(labels.shape):
        differs = labels[upper] != labels[lower]
        edge[upper] |= differs
        edge[lower] |= differs
    if ignore_background:
        edge &= labels != 0
    return edge


def _match(pred_edge: np.ndarray, gt_edge: np.ndarray, radius: float):
    """Match boundary pixels one-to-one within ``radius``, as many pairs as possible.

    Returns (for each predicted boundary pixel, in raster order: matched or not;
    number of matched ground-truth pixels).
    """
    from scipy.ndimage import distance_transform_edt
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching
    from scipy.spatial import cKDTree

    matched = np.zeros(int(pred_edge.sum()), dtype=bool)
    if not matched.size or not gt_edge.any():
        return matched, 0
    # Only pixels with a partner within reach can be matched: prune the others first.
    pred_near = pred_edge & (distance_transform_edt(~gt_edge) <= radius)
    gt_near = gt_edge & (distance_transform_edt(~pred_edge) <= radius)
    pred_points = np.argwhere(pred_near)
    gt_points = np.argwhere(gt_near)
    if not len(pred_points):
        return matched, 0
    pairs = cKDTree(pred_points).sparse_distance_matrix(
        cKDTree(gt_points), radius, output_type="coo_matrix"
    )
    # sparse_distance_matrix drops pairs at distance 0 (coinciding pixels): add them.
    same = np.flatnonzero((pred_near & gt_near)[pred_near])
    same_gt = np.flatnonzero((pred_near & gt_near)[gt_near])
    rows = np.r_[pairs.row, same]
    cols = np.r_[pairs.col, same_gt]
    graph = csr_matrix((np.ones(rows.size), (rows, cols)), shape=(len(pred_points), len(gt_points)))
    partner = maximum_bipartite_matching(graph, perm_type="column")
    hit = partner >= 0
    matched[np.flatnonzero(pred_near[pred_edge])[hit]] = True
    return matched, int(hit.sum())


def boundary_scores(labels: np.ndarray, gt_stack: np.ndarray, ignore_background: bool):
    """Boundary precision, recall and F over all annotators.

    Precision: share of predicted boundary pixels matched to at least one annotator's
    boundary; recall: matched ground-truth boundary pixels over all annotators' boundary
    pixels. No boundary at all on a side counts as perfect on that side (0/0 = 1).
    """
    radius = TOLERANCE * float(np.sqrt(np.sum(np.square(labels.shape, dtype=float))))
    pred_edge = boundary_pixels(labels, ignore_background)
    pred_hit = np.zeros(int(pred_edge.sum()), dtype=bool)
    gt_total = gt_hit = 0
    for truth in gt_stack:
        gt_edge = boundary_pixels(truth, ignore_background)
        hit, n_gt_hit = _match(pred_edge, gt_edge, radius)
        pred_hit |= hit
        gt_hit += n_gt_hit
        gt_total += int(gt_edge.sum())
    precision = pred_hit.mean() if pred_hit.size else 1.0
    recall = gt_hit / gt_total if gt_total else 1.0
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f)
