"""The evaluation dock's plot: the IoU histogram or F1 against the IoU threshold,
drawn by matplotlib into the dock (Qt binding chosen by qtpy / napari)."""

from __future__ import annotations

import numpy as np

from ._evaluate_run import CURVE_THRESHOLDS, EvaluationResult

HISTOGRAM = "IoU histogram"
F1_CURVE = "F1 vs IoU threshold"
#: smallest height of the plot: the dock fits beside the segmenter's
PLOT_HEIGHT = 120


def make_canvas():
    """A matplotlib figure and the Qt canvas that shows it."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 2.6), dpi=100)
    canvas = FigureCanvasQTAgg(figure)
    canvas.setMinimumHeight(PLOT_HEIGHT)
    return figure, canvas


def draw(figure, canvas, kind: str, result: EvaluationResult | None) -> None:
    """Draw ``kind`` of plot for ``result`` (empty axes before the first run)."""
    figure.clear()
    axes = figure.add_subplot()
    if kind == HISTOGRAM:
        ious = [row["iou"] for row in result.segments] if result else []
        axes.hist(ious, bins=np.linspace(0, 1, 21), color="tab:blue")
        if ious:
            axes.axvline(np.mean(ious), color="tab:red", label=f"mIoU {np.mean(ious):.3f}")
            axes.legend(loc="upper left")
        axes.set_xlabel("best-match IoU of each ground-truth segment")
        axes.set_ylabel("segments")
    else:
        if result:
            axes.plot(CURVE_THRESHOLDS, result.f1_curve, marker=".", color="tab:blue")
        axes.set_xlabel("IoU threshold")
        axes.set_ylabel("F1")
        axes.set_ylim(0, 1.02)
    axes.set_xlim(0, 1)
    figure.tight_layout()
    canvas.draw_idle()
