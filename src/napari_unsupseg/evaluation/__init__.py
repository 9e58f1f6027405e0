"""Scoring a segmentation against ground truth: the papers' mIoU and the usual companions.

Every region and instance metric is computed from one contingency table per annotator
(see ``_contingency``), in O(pixels) time and memory whatever the label values are,
for 2D images and 3D volumes alike; the boundary F-measure is the BSDS benchmark's
(``_boundary``). ``docs/evaluation.md`` explains every metric, the convention it
follows and when to use it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import _csv
from ._boundary import boundary_counts, boundary_scores
from ._pooling import pool_best_ious
from ._scores import Evaluation, check_thresholds, threshold_key

__all__ = [
    "Evaluation",
    "best_match_ious",
    "check_thresholds",
    "evaluate",
    "pool_best_ious",
    "segment_table",
    "threshold_key",
    "write_csv",
]


def evaluate(
    labels,
    ground_truth,
    *,
    split_components: bool = True,
    ignore_background: bool | None = None,
    thresholds=(0.5,),
    boundary: bool = False,
) -> dict:
    """Score predicted ``labels`` against ``ground_truth``; return a dict of numbers.

    Parameters
    ----------
    labels : array of int (bool, or float holding whole numbers, also accepted)
        The prediction, 2D or 3D (any ndim >= 1). Label values are arbitrary ids:
        negative or huge ones are fine, only equality matters.
    ground_truth : array of int
        One label image of the same shape, or a stack of annotators' label images
        along a new first axis (``ground_truth.ndim == labels.ndim + 1``).
    split_components : bool
        Score every 4-connected (6-connected in 3D) component of each predicted label
        as its own segment, as Kim et al. do
        (``skimage.measure.label(pred, background=-1, connectivity=1)``). Clustering
        methods give one label to many separate regions; without the split one
        "segment" would be all the sky and all the water at once.
    ignore_background : None, True or False
        How label 0 is read. None (default): as each metric's community reads it.
        The region metrics (mIoU, covering, Rand, ARI, VI, ARE) score ground-truth 0
        as a segment like any other, as BSDS does; the instance metrics (the
        matching scores at each threshold and SEG) treat ground-truth 0 as
        background and predicted 0 as "no object", as StarDist and the Cell Tracking
        Challenge do. True: every metric treats 0 as background (covering, Rand,
        ARI, VI and ARE then use only labelled pixels); False: every metric scores
        0 as a segment. Where 0 is background, a predicted segment's size still
        counts all its pixels, so spilling into the background lowers its IoU, and
        a predicted segment lying in the background is a false positive. The
        boundary F-measure does not depend on it (an outline against the background
        is a boundary).
    thresholds : sequence of float in (0, 1]
        IoU thresholds for the one-to-one matching scores.
    boundary : bool
        Also compute the BSDS boundary F-measure (slower: it matches pixels).

    Returns
    -------
    dict
        With G_i the ground-truth segments, S_j the predicted segments (after the
        component split), n_ij = |G_i ∩ S_j| and IoU_ij = n_ij / |G_i ∪ S_j|:

        - ``miou``: Kim et al.'s best-match IoU: every GT segment takes its best IoU over
          all predicted segments (not one-to-one); mean over all GT segments of all
          annotators pooled ("All").
        - ``miou_fine`` / ``miou_coarse``: the same for the annotator with the most /
          fewest segments only (first such annotator on ties).
        - ``miou_hungarian``: one-to-one matching maximising the summed IoU; unmatched
          GT segments score 0; mean over all GT segments of all annotators.
        - ``covering``: Arbeláez's covering of the ground truth, Σ_i |G_i| max_j IoU_ij / N;
          mean over annotators.
        - ``rand_index``: 1 - (½Σa_i² + ½Σb_j² - Σn_ij²) / C(N, 2); mean over annotators
          (the PRI with several).
        - ``ari``: Hubert & Arabie's adjusted Rand index, as scikit-learn's
          ``adjusted_rand_score``; mean over annotators.
        - ``vi``, ``vi_split``, ``vi_merge``: variation of information in bits,
          ``vi_split`` = H(S|G) (the prediction cuts GT segments), ``vi_merge`` = H(G|S)
          (it merges them); mean over annotators.
        - ``are_precision`` = Σn_ij²/Σb_j², ``are_recall`` = Σn_ij²/Σa_i² (adapted Rand;
          the pair precision and recall the right way round, unlike scikit-image).
        - ``seg``: Cell Tracking Challenge SEG: IoU with the predicted segment covering
          more than half of G_i, 0 when none does; mean over GT segments.
        - per threshold T (keys like ``"f1@0.5"``): ``tp@T``, ``fp@T``, ``fn@T`` from
          StarDist's one-to-one matching (most pairs with IoU >= T, then the highest
          total IoU of the assignment), summed over annotators; ``precision@T`` =
          TP/(TP+FP), ``recall@T`` = TP/(TP+FN), ``f1@T``, ``pq@T`` = Σ matched IoU /
          (TP + FP/2 + FN/2); 0 where there is nothing to divide by, as StarDist.
        - ``boundary_precision``, ``boundary_recall``, ``boundary_f`` when ``boundary``
          (the BSDS benchmark's), with the counts to pool over a data set:
          ``boundary_pred``, ``boundary_pred_matched``, ``boundary_gt``,
          ``boundary_gt_matched``.
        - counts ``n_pred`` (predicted segments after the split), ``n_gt`` (GT segments
          over all annotators), as the region metrics count them; ``n_annotators``.

        Region metrics with nothing to score (``ignore_background=True`` and no
        labelled pixel in any annotator) are NaN.

    Inputs are never modified.
    """
    thresholds = check_thresholds(thresholds)
    scored = Evaluation(
        labels, ground_truth, split_components=split_components, ignore_background=ignore_background
    )
    return metrics_of(scored, thresholds, boundary)


def metrics_of(scored: Evaluation, thresholds=(0.5,), boundary: bool = False) -> dict:
    """The dict of :func:`evaluate` from an :class:`Evaluation` already made.

    Lets a caller that also wants :func:`rows_of` (the napari widget) build the
    contingency tables once.
    """
    result = scored.metrics(check_thresholds(thresholds))
    if boundary:
        counts = boundary_counts(scored.labels, scored.gt_stack)
        result.update(boundary_scores(counts))
        result.update(counts)
    return result


def best_match_ious(
    labels, ground_truth, *, split_components: bool = True, ignore_background: bool | None = None
) -> list[np.ndarray]:
    """Per annotator, the best-match IoU of each of its ground-truth segments.

    Returns one float array per annotator (one array for a single label image), in
    ascending ground-truth id order, with the definitions of :func:`evaluate`. This is
    what a benchmark over many images pools (:func:`pool_best_ious`), as the papers
    do on BSDS500:

    - **All**: concatenate the arrays of every annotator of every image; take the mean.
    - **Fine**: per image keep only the longest array (the annotator with the most
      segments; the first on ties); concatenate over images; mean.
    - **Coarse**: likewise with the shortest array.

    For one image ``evaluate(...)["miou"]`` equals the mean of the concatenated arrays.
    """
    scored = Evaluation(
        labels, ground_truth, split_components=split_components, ignore_background=ignore_background
    )
    return [annotator.best_ious() for annotator in scored.annotators]


def segment_table(
    labels,
    ground_truth,
    *,
    split_components: bool = True,
    ignore_background: bool | None = None,
    threshold: float = 0.5,
) -> list[dict]:
    """One row per ground-truth segment (per annotator): how well it was found.

    Columns: ``annotator`` (0 for a single label image), ``gt_id``, ``size`` (pixels),
    ``best_pred_id`` (the predicted label of the best-matching segment; with
    ``split_components`` several components may share it; None when nothing
    overlaps), ``iou`` (best-match IoU, as in ``miou``) and ``matched`` (whether the
    segment is matched one-to-one at IoU >= ``threshold``, as in ``f1@threshold``;
    False for a ground-truth 0 that the instance metrics read as background). Rows
    are the segments the region metrics score.
    Write it with :func:`write_csv`.
    """
    scored = Evaluation(
        labels, ground_truth, split_components=split_components, ignore_background=ignore_background
    )
    return rows_of(scored, check_thresholds(threshold)[0])


def rows_of(scored: Evaluation, threshold: float) -> list[dict]:
    """The rows of :func:`segment_table` from an :class:`Evaluation` already made."""
    rows = []
    views = zip(scored.annotators, scored.instances, strict=True)
    for index, (annotator, instances) in enumerate(views):
        table = annotator.table
        matched = np.zeros(table.gt_ids.size, dtype=bool)
        matched[instances.matching(threshold)[0]] = True
        for row in np.flatnonzero(annotator.scored):
            column = annotator.best_col[row]
            rows.append(
                {
                    "annotator": index,
                    "gt_id": table.gt_ids[row].item(),
                    "size": int(table.gt_sizes[row]),
                    "best_pred_id": scored.segment_ids[column].item() if column >= 0 else None,
                    "iou": float(annotator.best_iou[row]),
                    "matched": bool(matched[row]),
                }
            )
    return rows


def write_csv(path, rows) -> Path:
    """Write rows (a list of dicts, e.g. :func:`segment_table`) or a metrics dict to CSV.

    A metrics dict becomes two columns, ``metric`` and ``value``. Returns the path.
    """
    if isinstance(rows, dict):
        rows = [{"metric": key, "value": value} for key, value in rows.items()]
    rows = list(rows)
    return _csv.write_csv(path, rows, list(rows[0]) if rows else ["metric", "value"])
