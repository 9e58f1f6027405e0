"""Boundary precision, recall and F-measure as the BSDS benchmark computes them.

Martin, Fowlkes & Malik (2004), "Learning to Detect Natural Image Boundaries Using
Local Brightness, Color, and Texture Cues", and Arbeláez, Maire, Fowlkes & Malik
(2011), "Contour Detection and Hierarchical Image Segmentation", score a segmentation
by its boundary map. Own implementation on numpy/scipy (the benchmark's code is
GPL), following its definitions:

* A boundary map marks a pixel when the 2 x 2 block of which it is the top-left
  corner is not one label (the image's last row and column are repeated): one-sided
  boundaries, one pixel thick, as the benchmark's ``seg2bdry(seg, 'imageSize')``.
* The predicted map is thinned (``skimage.morphology.thin``, the two-subiteration
  thinning of MATLAB's ``bwmorph(..., 'thin', inf)``); ground-truth maps are not.
* Predicted and ground-truth boundary pixels are matched one-to-one within
  0.0075 x the image diagonal (``_pixel_matching``), annotator by annotator.
* Pooled over annotators as the benchmark does: recall counts matched pixels over
  all annotators' boundary pixels; precision counts the predicted pixels matched to
  at least one annotator. No boundary pixel on a side makes its ratio 0, not 1, and
  F = 0 when precision + recall = 0.

Volumes use the same block rule (2 x 2 x 2) without thinning: BSDS defines the
measure on 2D images only, and thinning would erode a boundary surface to lines.
"""

from __future__ import annotations

import itertools

import numpy as np

from ._pixel_matching import match_pixels

TOLERANCE = 0.0075


def boundary_map(labels: np.ndarray) -> np.ndarray:
    """Pixels whose block with the next pixel along every axis is not one label."""
    padded = np.pad(labels, [(0, 1)] * labels.ndim, mode="edge")
    corner = tuple(slice(0, n) for n in labels.shape)
    edge = np.zeros(labels.shape, dtype=bool)
    for shift in itertools.product((0, 1), repeat=labels.ndim):
        if any(shift):
            block = tuple(slice(s, s + n) for s, n in zip(shift, labels.shape, strict=True))
            edge |= padded[block] != padded[corner]
    return edge


def thinned(edge: np.ndarray) -> np.ndarray:
    """The predicted boundary thinned as BSDS thins it (images only, see module doc)."""
    plane = np.squeeze(edge)
    if plane.ndim != 2:
        return edge
    from skimage.morphology import thin

    return thin(plane).reshape(edge.shape)


def tolerance_radius(shape: tuple[int, ...]) -> float:
    """The matching tolerance in pixels: 0.0075 x the image diagonal."""
    return TOLERANCE * float(np.sqrt(np.sum(np.square(shape, dtype=float))))


def boundary_counts(labels: np.ndarray, gt_stack: np.ndarray) -> dict[str, int]:
    """The benchmark's four counts for one image: pool them over a data set.

    ``boundary_pred``: thinned predicted boundary pixels; ``boundary_pred_matched``:
    those matched to at least one annotator; ``boundary_gt``: boundary pixels of all
    annotators; ``boundary_gt_matched``: those matched.
    """
    radius = tolerance_radius(labels.shape)
    pred_edge = thinned(boundary_map(labels))
    pred_hit = np.zeros(int(np.count_nonzero(pred_edge)), dtype=bool)
    gt_total = gt_hit = 0
    for truth in gt_stack:
        gt_edge = boundary_map(truth)
        hit, n_hit = match_pixels(pred_edge, gt_edge, radius)
        pred_hit |= hit
        gt_hit += n_hit
        gt_total += int(np.count_nonzero(gt_edge))
    return {
        "boundary_pred": int(pred_hit.size),
        "boundary_pred_matched": int(np.count_nonzero(pred_hit)),
        "boundary_gt": gt_total,
        "boundary_gt_matched": gt_hit,
    }


def boundary_scores(counts: dict[str, int]) -> dict[str, float]:
    """Precision, recall and F from the counts of one image or summed over many."""
    precision = _share(counts["boundary_pred_matched"], counts["boundary_pred"])
    recall = _share(counts["boundary_gt_matched"], counts["boundary_gt"])
    total = precision + recall
    return {
        "boundary_precision": precision,
        "boundary_recall": recall,
        "boundary_f": 2 * precision * recall / total if total else 0.0,
    }


def _share(part: int, whole: int) -> float:
    """part / whole, and 0 for 0 / 0 as the benchmark's ``cnt ./ (sum + (sum == 0))``."""
    return part / whole if whole else 0.0
