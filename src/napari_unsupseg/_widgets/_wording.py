"""How the evaluation widget names metrics and writes numbers for a reader.

The engine's keys (``vi_split``, ``tp@0.5``) stay what the API, the CSV export and the
command line give; the dock shows names a biologist reads at once, and numbers as text
so that a count is never shown as ``3.675e+05`` (a table column mixing counts and
scores was shown in floating point).
"""

from __future__ import annotations

import math

METRIC_NAMES = {
    "n_pred": "predicted segments",
    "n_gt": "ground-truth segments",
    "n_annotators": "annotators",
    "miou": "mean IoU",
    "miou_fine": "mean IoU, finest annotator",
    "miou_coarse": "mean IoU, coarsest annotator",
    "miou_hungarian": "mean IoU, one-to-one matching",
    "covering": "segmentation covering",
    "rand_index": "Rand index",
    "ari": "adjusted Rand index",
    "vi_split": "variation of information: split",
    "vi_merge": "variation of information: merge",
    "vi": "variation of information",
    "are_precision": "adapted Rand precision",
    "are_recall": "adapted Rand recall",
    "seg": "SEG (Cell Tracking Challenge)",
    "boundary_precision": "boundary precision",
    "boundary_recall": "boundary recall",
    "boundary_f": "boundary F-measure",
    "boundary_pred": "predicted boundary pixels",
    "boundary_pred_matched": "predicted boundary pixels matched",
    "boundary_gt": "ground-truth boundary pixels",
    "boundary_gt_matched": "ground-truth boundary pixels matched",
}
THRESHOLD_NAMES = {
    "tp": "true positives",
    "fp": "false positives",
    "fn": "false negatives",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "pq": "panoptic quality",
}
COLUMN_NAMES = {
    "annotator": "annotator",
    "gt_id": "segment",
    "size": "pixels",
    "best_pred_id": "best prediction",
    "iou": "IoU",
    "matched": "matched",
}


def metric_name(key: str) -> str:
    """``"tp@0.5"`` -> ``"true positives at IoU 0.5"``; unknown keys lose underscores."""
    name, at, threshold = key.partition("@")
    if at and name in THRESHOLD_NAMES:
        return f"{THRESHOLD_NAMES[name]} at IoU {threshold}"
    return METRIC_NAMES.get(key, key.replace("_", " "))


def number_text(value) -> str:
    """Counts as integers, scores to four decimals, never in e-notation."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return str(int(value))
    if isinstance(value, float) or hasattr(value, "dtype"):
        value = float(value)
        if math.isnan(value):
            return "n/a"
        if value.is_integer() or abs(value) >= 1000:
            return f"{value:.0f}"
        return f"{value:.4f}"
    return str(value)
