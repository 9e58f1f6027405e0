"""The model of an evaluation run of the dock: the pair checked, the scores, the
segment table and the layers painted from them. Qt-free: :func:`score` runs in the
worker thread; :mod:`.evaluate` only gathers the options and shows the result.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
from napari.layers import Image, Labels

from ..evaluation import Evaluation, check_thresholds, metrics_of, rows_of, threshold_key
from ._layers import image_data
from ._paint import paint_segments

#: layer names that suggest ground truth, for the default pick
TRUTH_NAME = re.compile(r"ground.?truth|truth|\bgt\b|annotation|manual", re.IGNORECASE)
#: IoU thresholds of the "F1 against IoU threshold" plot
CURVE_THRESHOLDS = tuple(np.round(np.arange(0.05, 1.0001, 0.05), 2).tolist())
SEGMENT_COLUMNS = ("annotator", "gt_id", "size", "best_pred_id", "iou", "matched")
#: how label 0 is read: the choices shown and the ``ignore_background`` they pass
BACKGROUND_CHOICES = {"usual per metric": None, "background": True, "a segment": False}


@dataclass(frozen=True)
class EvaluationJob:
    """What one press of Evaluate scores, captured on the GUI thread."""

    labels: object  # the layers' arrays (numpy, dask, zarr): read in the worker
    truth: object
    prediction: Labels
    ground_truth: Labels
    split_components: bool
    ignore_background: bool | None
    thresholds: tuple[float, ...]
    boundary: bool
    heat_map: bool
    missed: bool


@dataclass(frozen=True)
class EvaluationResult:
    job: EvaluationJob
    metrics: dict
    segments: list[dict]
    f1_curve: tuple[float, ...]
    heat_map: np.ndarray | None
    missed: np.ndarray | None
    seconds: float

    def summary(self) -> str:
        """The status line: the headline scores and the time taken."""
        metrics, first = self.metrics, self.job.thresholds[0]
        return (
            f"mIoU {metrics['miou']:.3f} · F1@{first:g} "
            f"{metrics[threshold_key('f1', first)]:.3f} · {metrics['n_gt']} ground-truth and "
            f"{metrics['n_pred']} predicted segments · {self.seconds:.2f} s"
        )


def score(job: EvaluationJob) -> EvaluationResult:
    """Everything the widget shows, from one set of contingency tables (worker thread)."""
    start = time.perf_counter()
    scored = Evaluation(
        np.asarray(job.labels),
        np.asarray(job.truth),
        split_components=job.split_components,
        ignore_background=job.ignore_background,
    )
    metrics = metrics_of(scored, job.thresholds, job.boundary)
    segments = rows_of(scored, job.thresholds[0])
    curve = tuple(scored.matching_scores(t)[threshold_key("f1", t)] for t in CURVE_THRESHOLDS)
    shape = np.shape(job.truth)
    heat = missed = None
    if job.heat_map:
        iou = {(r["annotator"], r["gt_id"]): r["iou"] for r in segments}
        heat = paint_segments(scored.gt_stack, iou, np.nan, np.float32).reshape(shape)
    if job.missed:
        ids = {(r["annotator"], r["gt_id"]): r["gt_id"] for r in segments if not r["matched"]}
        missed = paint_segments(scored.gt_stack, ids, 0, scored.gt_stack.dtype).reshape(shape)
    seconds = time.perf_counter() - start
    return EvaluationResult(job, metrics, segments, curve, heat, missed, seconds)


def check_layers(prediction, truth) -> None:
    """Raise ValueError with a message a user can act on when the pair cannot be scored."""
    for role, layer in (("prediction", prediction), ("ground truth", truth)):
        if layer is None:
            raise ValueError(f"Pick a {role} layer (a Labels layer) first.")
        if isinstance(layer, Image):
            hint = (
                " If it holds label ids, right-click it in the layer list and choose "
                "'Convert to Labels'."
                if np.issubdtype(image_data(layer).dtype, np.integer)
                else " It holds intensities, not label ids: segment it first."
            )
            raise ValueError(f"The {role} '{layer.name}' is an Image layer, not Labels.{hint}")
        if not isinstance(layer, Labels):
            raise ValueError(f"The {role} '{layer.name}' is a {type(layer).__name__} layer.")
        dtype = np.dtype(image_data(layer).dtype)
        if dtype.kind not in "iub":
            raise ValueError(f"The {role} '{layer.name}' holds {dtype} values, not label ids.")
    shape = tuple(image_data(prediction).shape)
    truth_shape = tuple(image_data(truth).shape)
    if truth_shape != shape and truth_shape[1:] != shape:
        raise ValueError(
            f"Shapes differ: prediction '{prediction.name}' is {shape}, ground truth "
            f"'{truth.name}' is {truth_shape}. They must be equal, or the ground truth a "
            f"stack of annotators (n, {', '.join(map(str, shape))})."
        )


def parse_thresholds(text: str) -> tuple[float, ...]:
    """'0.5, 0.75' -> (0.5, 0.75); ValueError with the rule otherwise."""
    parts = [p for p in re.split(r"[,\s;]+", text.strip()) if p]
    try:
        return check_thresholds([float(p) for p in parts])
    except ValueError:
        raise ValueError(
            f"IoU thresholds must be numbers in (0, 1] separated by commas, got '{text}'."
        ) from None


def segment_centre(truth: np.ndarray, labels_ndim: int, row: dict):
    """The centre (data coordinates of the ground truth) of a segment-table row's
    segment, or None when it has no pixel; ``truth`` may be a stack of annotators."""
    stacked = truth.ndim > labels_ndim
    plane = truth[row["annotator"]] if stacked else truth
    coords = np.argwhere(plane == row["gt_id"])
    if not coords.size:
        return None
    centre = coords.mean(axis=0)
    return np.r_[row["annotator"], centre] if stacked else centre
