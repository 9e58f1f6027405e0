"""All region metrics from the contingency tables; pooling over annotators.

Definitions (per annotator; rows i are ground-truth segments, columns j predicted
segments, n_ij their overlap, a_i = |G_i|, b_j = |S_j|):

* IoU_ij = n_ij / (a_i + b_j - n_ij); b_j always counts the whole predicted segment.
* With ``ignore_background``, ground-truth label 0 is not a segment: its rows are
  dropped from every metric, and the pixel-pair metrics (covering, Rand, VI, ARE) use
  only the pixels with a ground-truth label. Predicted label 0 is then "no segment"
  too: it can never be matched, but still forms a cluster for the pixel-pair metrics.
"""

from __future__ import annotations

import numpy as np

from ._contingency import Contingency, contingency_tables
from ._inputs import as_annotator_stack, as_labels, predicted_segments
from ._matching import max_weight_matching, threshold_matching


def check_thresholds(thresholds) -> tuple[float, ...]:
    values = np.atleast_1d(np.asarray(thresholds, dtype=float)).ravel()
    if values.size == 0:
        raise ValueError("thresholds must name at least one IoU threshold")
    if np.isnan(values).any() or (values <= 0).any() or (values > 1).any():
        raise ValueError(f"IoU thresholds must lie in (0, 1], got {list(values)}")
    return tuple(float(v) for v in values)


def threshold_key(name: str, threshold: float) -> str:
    return f"{name}@{threshold:g}"


def _ratio(numerator: float, denominator: float) -> float:
    """A share of pixel pairs; with no pairs to share, nothing was wrong: 1."""
    return float(numerator / denominator) if denominator else 1.0


def _entropy(sizes: np.ndarray, total: float) -> float:
    p = sizes[sizes > 0] / total
    return float(-(p * np.log2(p)).sum())


class Annotator:
    """The metrics of the prediction against one annotator, from its contingency table."""

    def __init__(self, table: Contingency, assignable: np.ndarray, ignore_background: bool):
        self.table = table
        rows, cols, counts = table.rows, table.cols, table.counts
        self.scored = table.gt_ids != 0 if ignore_background else np.ones(table.gt_ids.size, bool)
        if not self.scored.any():
            raise ValueError("ground truth is all background (0) while ignore_background=True")
        # Every predicted segment that could be matched counts, including those lying
        # wholly in the ground truth's background: there they are false positives.
        self.n_pred = int(np.count_nonzero(assignable))
        candidate = self.scored[rows] & assignable[cols]
        self.cand = np.flatnonzero(candidate)
        a = table.gt_sizes[rows[self.cand]].astype(float)
        b = table.pred_sizes[cols[self.cand]].astype(float)
        n = counts[self.cand].astype(float)
        self.iou = n / (a + b - n)
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
            order = np.lexsort((-cols, self.iou, rows))
            last = order[np.r_[rows[order][1:] != rows[order][:-1], True]]
            self.best_iou[rows[last]] = self.iou[last]
            self.best_col[rows[last]] = cols[last]

    @property
    def n_gt(self) -> int:
        return int(self.scored.sum())

    def best_ious(self) -> np.ndarray:
        return self.best_iou[self.scored]

    # -- one-to-one --------------------------------------------------------------
    def hungarian_sum(self) -> float:
        rows = self.table.rows[self.cand]
        cols = self.table.cols[self.cand]
        chosen = max_weight_matching(rows, cols, self.iou)
        return float(self.iou[chosen].sum())

    def matching(self, threshold: float):
        """(matched rows, matched columns, their IoUs) at an IoU threshold."""
        rows = self.table.rows[self.cand]
        cols = self.table.cols[self.cand]
        chosen = threshold_matching(rows, cols, self.iou, threshold)
        return rows[chosen], cols[chosen], self.iou[chosen]

    def seg_sum(self) -> float:
        """Cell Tracking Challenge SEG: IoU with the segment covering > half of G_i, else 0."""
        rows = self.table.rows[self.cand]
        covers = self.table.counts[self.cand] > 0.5 * self.table.gt_sizes[rows]
        return float(self.iou[covers].sum())

    # -- pixel-pair metrics ------------------------------------------------------
    def pixel_pairs(self) -> dict[str, float]:
        """Covering, Rand index, VI (bits) and adapted Rand precision/recall."""
        table = self.table
        keep = self.scored[table.rows]
        n = table.counts[keep].astype(float)
        a = table.gt_sizes[self.scored].astype(float)
        b = np.bincount(table.cols[keep], weights=n, minlength=table.pred_sizes.size)
        b = b[b > 0]
        total = a.sum()
        sum_a2, sum_b2, sum_n2 = (a**2).sum(), (b**2).sum(), (n**2).sum()
        pairs = total * (total - 1) / 2
        rand = 1.0 - (0.5 * sum_a2 + 0.5 * sum_b2 - sum_n2) / pairs if pairs else 1.0
        h_gt, h_pred, h_joint = _entropy(a, total), _entropy(b, total), _entropy(n, total)
        return {
            "covering": float((a * self.best_iou[self.scored]).sum() / total),
            "rand_index": float(rand),
            "vi_split": max(0.0, h_joint - h_gt),
            "vi_merge": max(0.0, h_joint - h_pred),
            # Pairs of distinct pixels (hence the - N), as scikit-image counts them.
            "are_precision": _ratio(sum_n2 - total, sum_b2 - total),
            "are_recall": _ratio(sum_n2 - total, sum_a2 - total),
        }


class Evaluation:
    """A prediction scored against one or several annotators; built once, read many ways."""

    def __init__(self, labels, ground_truth, *, split_components=True, ignore_background=False):
        labels = as_labels(labels, "labels")
        truth = as_labels(ground_truth, "ground truth")
        self.labels = labels
        self.gt_stack = as_annotator_stack(truth, labels.shape)
        self.ignore_background = bool(ignore_background)
        self.segments, self.segment_ids = predicted_segments(labels, split_components)
        n_segments = self.segment_ids.size
        tables = contingency_tables(self.segments, n_segments, self.gt_stack)
        assignable = np.ones(n_segments, dtype=bool)
        if self.ignore_background:
            assignable = self.segment_ids != 0
        self.annotators = []
        for index, table in enumerate(tables):
            try:
                self.annotators.append(Annotator(table, assignable, self.ignore_background))
            except ValueError as error:
                raise ValueError(f"annotator {index}: {error}") from None

    def pooled_best(self, which: str = "all") -> np.ndarray:
        """Best IoUs of every scored GT segment: of all annotators, or the fine/coarse one."""
        if which == "all":
            return np.concatenate([a.best_ious() for a in self.annotators])
        counts = [a.n_gt for a in self.annotators]
        pick = int(np.argmax(counts) if which == "fine" else np.argmin(counts))
        return self.annotators[pick].best_ious()

    def metrics(self, thresholds=(0.5,)) -> dict:
        thresholds = check_thresholds(thresholds)
        annotators = self.annotators
        n_gt = sum(a.n_gt for a in annotators)
        result = {
            "n_pred": annotators[0].n_pred,
            "n_gt": n_gt,
            "n_annotators": len(annotators),
            "miou": float(self.pooled_best("all").mean()),
            "miou_fine": float(self.pooled_best("fine").mean()),
            "miou_coarse": float(self.pooled_best("coarse").mean()),
            "miou_hungarian": sum(a.hungarian_sum() for a in annotators) / n_gt,
        }
        pair_metrics = [a.pixel_pairs() for a in annotators]
        for key in pair_metrics[0]:
            result[key] = float(np.mean([m[key] for m in pair_metrics]))
        result["vi"] = result["vi_split"] + result["vi_merge"]
        result["seg"] = sum(a.seg_sum() for a in annotators) / n_gt
        for threshold in thresholds:
            result.update(self.matching_scores(threshold))
        return result

    def matching_scores(self, threshold: float) -> dict:
        """TP/FP/FN summed over annotators, then precision, recall, F1 and panoptic quality."""
        tp = fp = fn = 0
        iou_sum = 0.0
        for annotator in self.annotators:
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
            key("precision"): tp / (tp + fp) if tp + fp else 0.0,
            key("recall"): tp / (tp + fn) if tp + fn else 0.0,
            key("f1"): 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
            key("pq"): iou_sum / (tp + fp / 2 + fn / 2) if tp else 0.0,
        }
