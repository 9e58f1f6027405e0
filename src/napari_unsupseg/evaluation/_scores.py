"""All region and instance metrics from the contingency tables; pooling over annotators.

Definitions (per annotator; rows i are ground-truth segments, columns j predicted
segments, n_ij their overlap, a_i = |G_i|, b_j = |S_j|):

* IoU_ij = n_ij / (a_i + b_j - n_ij); b_j always counts the whole predicted segment.
* Each family of metrics reads label 0 as its community does unless the caller says
  otherwise (``ignore_background`` True or False for all): region metrics score
  ground-truth 0 as a segment like any other, as BSDS does (every pixel belongs to a
  segment); instance metrics (matching scores, SEG) treat it as background and
  predicted 0 as "no object", as StarDist and the Cell Tracking Challenge do.
* Where 0 is background, its ground-truth rows are dropped, and the pixel-pair
  metrics (covering, Rand, ARI, VI, ARE) use only the pixels with a ground-truth
  label. Predicted label 0 can never be matched, but still forms a cluster for the
  pixel-pair metrics.
"""

from __future__ import annotations

import math

import numpy as np

from ._contingency import Contingency, contingency_tables
from ._inputs import as_annotator_stack, as_labels, predicted_segments
from ._matching import OverlapGraph
from ._pooling import pool_best_ious


def check_thresholds(thresholds) -> tuple[float, ...]:
    values = np.atleast_1d(np.asarray(thresholds, dtype=float)).ravel()
    if values.size == 0:
        raise ValueError("thresholds must name at least one IoU threshold")
    if np.isnan(values).any() or (values <= 0).any() or (values > 1).any():
        raise ValueError(f"IoU thresholds must lie in (0, 1], got {list(values)}")
    return tuple(float(v) for v in values)


def check_ignore_background(value) -> bool | None:
    if value is None or isinstance(value, bool | np.bool_):
        return None if value is None else bool(value)
    raise TypeError(
        f"ignore_background must be None (each metric's usual convention), True or False, "
        f"got {value!r}"
    )


def threshold_key(name: str, threshold: float) -> str:
    return f"{name}@{threshold:g}"


def _ratio(numerator: float, denominator: float) -> float:
    """A share of pixel pairs; with no pairs to share, nothing was wrong: 1."""
    return float(numerator / denominator) if denominator else 1.0


def _safe_divide(numerator: float, denominator: float) -> float:
    """StarDist's convention for a score of nothing (no objects at all): 0."""
    return float(numerator / denominator) if denominator else 0.0


def _entropy(sizes: np.ndarray, total: float) -> float:
    p = sizes[sizes > 0] / total
    return float(-(p * np.log2(p)).sum())


def adjusted_rand(sum_n2: int, sum_a2: int, sum_b2: int, total: int) -> float:
    """Hubert & Arabie's adjusted Rand index from sums of squared counts, computed as
    scikit-learn's ``adjusted_rand_score`` does (pair confusion matrix, exact integers;
    1 when no pair is split by one side and joined by the other)."""
    same_both = sum_n2 - total
    only_pred = sum_b2 - sum_n2
    only_gt = sum_a2 - sum_n2
    neither = total * total - only_pred - only_gt - sum_n2
    if only_pred == 0 and only_gt == 0:
        return 1.0
    agree = same_both * neither - only_gt * only_pred
    scale = (same_both + only_gt) * (only_gt + neither) + (same_both + only_pred) * (
        only_pred + neither
    )
    return 2.0 * agree / scale


def _sum_squares(counts: np.ndarray) -> int:
    return int(np.dot(counts.astype(np.int64), counts.astype(np.int64)))


class Annotator:
    """The metrics of the prediction against one annotator, from its contingency table.

    ``ignore_background`` picks the reading of label 0 (see the module docstring); an
    :class:`Evaluation` holds one such view per reading it needs.
    """

    def __init__(self, table: Contingency, assignable: np.ndarray, ignore_background: bool):
        self.table = table
        rows, cols, counts = table.rows, table.cols, table.counts
        self.scored = table.gt_ids != 0 if ignore_background else np.ones(table.gt_ids.size, bool)
        # Every predicted segment that could be matched counts, including those lying
        # wholly in the ground truth's background: there they are false positives.
        self.n_pred = int(np.count_nonzero(assignable))
        candidate = self.scored[rows] & assignable[cols]
        self.cand = np.flatnonzero(candidate)
        a = table.gt_sizes[rows[self.cand]].astype(float)
        b = table.pred_sizes[cols[self.cand]].astype(float)
        n = counts[self.cand].astype(float)
        self.iou = n / (a + b - n)
        self._overlaps = None
        self._best()

    # -- best match (Kim) -----------------------------------------------------------
    def _best(self):
        """Best IoU of every scored row, and the column reaching it (ties: lowest column)."""
        rows = self.table.rows[self.cand]
        cols = self.table.cols[self.cand]
        n_rows = self.table.gt_ids.size
        self.best_iou = np.zeros(n_rows)
        self.best_col = np.full(n_rows, -1, dtype=np.int64)
        if rows.size:
            # Cells are sorted by row, then column: reduce each row's run.
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            best = np.maximum.reduceat(self.iou, starts)
            run = np.repeat(np.arange(starts.size), np.diff(starts, append=rows.size))
            reaching = np.flatnonzero(self.iou == best[run])
            first = reaching[np.r_[True, run[reaching][1:] != run[reaching][:-1]]]
            self.best_iou[rows[starts]] = best
            self.best_col[rows[first]] = cols[first]

    @property
    def n_gt(self) -> int:
        return int(self.scored.sum())

    def best_ious(self) -> np.ndarray:
        return self.best_iou[self.scored]

    # -- one-to-one --------------------------------------------------------------
    @property
    def overlaps(self) -> OverlapGraph:
        """The candidate pairs prepared once for every matching."""
        if self._overlaps is None:
            self._overlaps = OverlapGraph(self.table.rows[self.cand], self.table.cols[self.cand])
        return self._overlaps

    def hungarian_sum(self) -> float:
        chosen = self.overlaps.best(self.iou)
        return float(self.iou[chosen].sum())

    def matching(self, threshold: float):
        """(matched rows, matched columns, their IoUs) at an IoU threshold."""
        n_matchable = min(self.n_gt, self.n_pred)
        chosen = self.overlaps.threshold_matching(self.iou, threshold, n_matchable)
        graph = self.overlaps
        return graph.rows[chosen], graph.cols[chosen], self.iou[chosen]

    def seg_sum(self) -> float:
        """Cell Tracking Challenge SEG: IoU with the segment covering > half of G_i, else 0."""
        rows = self.table.rows[self.cand]
        covers = self.table.counts[self.cand] > 0.5 * self.table.gt_sizes[rows]
        return float(self.iou[covers].sum())

    # -- pixel-pair metrics ------------------------------------------------------
    def pixel_pairs(self) -> dict[str, float] | None:
        """Covering, Rand index, ARI, VI (bits) and adapted Rand precision/recall.

        None when no pixel is scored (all background while it is ignored).
        """
        table = self.table
        keep = self.scored[table.rows]
        counts = table.counts[keep]
        gt_sizes = table.gt_sizes[self.scored]
        total = int(gt_sizes.sum())
        if total == 0:
            return None
        pred_sizes = np.bincount(
            table.cols[keep], weights=counts, minlength=table.pred_sizes.size
        ).astype(np.int64)
        pred_sizes = pred_sizes[pred_sizes > 0]
        sum_a2, sum_b2 = _sum_squares(gt_sizes), _sum_squares(pred_sizes)
        sum_n2 = _sum_squares(counts)
        n, a, b = counts.astype(float), gt_sizes.astype(float), pred_sizes.astype(float)
        pairs = total * (total - 1) // 2
        disagree = (sum_a2 + sum_b2 - 2 * sum_n2) // 2
        h_gt, h_pred, h_joint = _entropy(a, total), _entropy(b, total), _entropy(n, total)
        return {
            "covering": float((a * self.best_iou[self.scored]).sum() / total),
            "rand_index": 1.0 - disagree / pairs if pairs else 1.0,
            "ari": adjusted_rand(sum_n2, sum_a2, sum_b2, total),
            "vi_split": max(0.0, h_joint - h_gt),
            "vi_merge": max(0.0, h_joint - h_pred),
            # Pairs of distinct pixels (hence the - N), as scikit-image counts them.
            "are_precision": _ratio(sum_n2 - total, sum_b2 - total),
            "are_recall": _ratio(sum_n2 - total, sum_a2 - total),
        }


PAIR_METRICS = ("covering", "rand_index", "ari", "vi_split", "vi_merge")
PAIR_METRICS += ("are_precision", "are_recall")


class Evaluation:
    """A prediction scored against one or several annotators; built once, read many ways.

    ``annotators`` read label 0 as the region metrics do, ``instances`` as the
    instance metrics do (the same objects when both read it alike).
    """

    def __init__(self, labels, ground_truth, *, split_components=True, ignore_background=None):
        ignore_background = check_ignore_background(ignore_background)
        labels = as_labels(labels, "labels")
        truth = as_labels(ground_truth, "ground truth")
        self.labels = labels
        self.gt_stack = as_annotator_stack(truth, labels.shape)
        self.ignore_background = ignore_background
        self.segments, self.segment_ids = predicted_segments(labels, split_components)
        tables = contingency_tables(self.segments, self.segment_ids.size, self.gt_stack)
        region_ignores = bool(ignore_background)  # None: BSDS, 0 is a segment
        instance_ignores = ignore_background is not False  # None: StarDist / CTC
        self.annotators = self._views(tables, region_ignores)
        self.instances = (
            self.annotators
            if instance_ignores == region_ignores
            else self._views(tables, instance_ignores)
        )

    def _views(self, tables, ignore_background: bool) -> list[Annotator]:
        assignable = np.ones(self.segment_ids.size, dtype=bool)
        if ignore_background:
            assignable = self.segment_ids != 0
        return [Annotator(table, assignable, ignore_background) for table in tables]

    def metrics(self, thresholds=(0.5,)) -> dict:
        thresholds = check_thresholds(thresholds)
        annotators = self.annotators
        n_gt = sum(a.n_gt for a in annotators)
        pooled = pool_best_ious([[a.best_ious() for a in annotators]])
        result = {
            "n_pred": annotators[0].n_pred,
            "n_gt": n_gt,
            "n_annotators": len(annotators),
            "miou": pooled["miou_all"],
            "miou_fine": pooled["miou_fine"],
            "miou_coarse": pooled["miou_coarse"],
            "miou_hungarian": sum(a.hungarian_sum() for a in annotators) / n_gt
            if n_gt
            else math.nan,
        }
        # Per-annotator means skip annotators with no scored pixel (all ignored).
        pair_metrics = [m for m in (a.pixel_pairs() for a in annotators) if m is not None]
        for key in PAIR_METRICS:
            values = [m[key] for m in pair_metrics]
            result[key] = float(np.mean(values)) if values else math.nan
        result["vi"] = result["vi_split"] + result["vi_merge"]
        n_objects = sum(a.n_gt for a in self.instances)
        result["seg"] = _safe_divide(sum(a.seg_sum() for a in self.instances), n_objects)
        for threshold in thresholds:
            result.update(self.matching_scores(threshold))
        return result

    def matching_scores(self, threshold: float) -> dict:
        """TP/FP/FN summed over annotators, then precision, recall, F1 and panoptic
        quality, with StarDist's answers when there is nothing to divide by (0)."""
        tp = fp = fn = 0
        iou_sum = 0.0
        for annotator in self.instances:
            _, _, ious = annotator.matching(threshold)
            tp += ious.size
            fp += annotator.n_pred - ious.size
            fn += annotator.n_gt - ious.size
            iou_sum += float(ious.sum())
        key = lambda name: threshold_key(name, threshold)  # noqa: E731
        return {
            key("tp"): tp,
            key("fp"): fp,
            key("fn"): fn,
            key("precision"): _safe_divide(tp, tp + fp),
            key("recall"): _safe_divide(tp, tp + fn),
            key("f1"): _safe_divide(2 * tp, 2 * tp + fp + fn),
            key("pq"): _safe_divide(iou_sum, tp + fp / 2 + fn / 2),
        }
