"""The evaluation dock widget: score a Labels layer against a ground-truth Labels layer.

A thin form over :mod:`napari_unsupseg.evaluation`, through the Qt-free
:mod:`._evaluate_run`: the inputs are checked on the GUI thread (so a wrong pick is
told at once and no layer is touched), the scoring runs in a napari thread worker (a
big volume must not freeze the UI), and the results come
back as two tables, a plot, and optional layers over the ground truth: each segment's
best-match IoU as a heat map, and the segments no prediction matched. The user's
layers are only read; selecting a table row changes which label the ground-truth layer
shows, nothing else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, LineEdit, PushButton, Table
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ..evaluation import write_csv
from . import _evaluate_plot
from ._evaluate_plot import F1_CURVE, HISTOGRAM
from ._evaluate_run import (
    BACKGROUND_CHOICES,
    SEGMENT_COLUMNS,
    TRUTH_NAME,
    EvaluationJob,
    EvaluationResult,
    check_layers,
    parse_thresholds,
    score,
    segment_centre,
)
from ._fold import Folded, fit_narrow
from ._form import picker, switch, text_line
from ._layers import image_data
from ._navigate import look_at
from ._outputs import is_evaluation_output, placement, put_evaluation_layer
from ._wording import COLUMN_NAMES, metric_name, number_text

#: smallest height of the tables: the dock fits beside the segmenter's
TABLE_HEIGHT = 90


class EvaluateWidget(Container):
    """Score a prediction Labels layer against a ground-truth Labels layer."""

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        self._job: EvaluationJob | None = None
        self._result: EvaluationResult | None = None

        self._prediction = picker("prediction", self._layer_choices, "Labels layer to score.")
        self._truth = picker(
            "ground_truth",
            self._layer_choices,
            "Labels layer of the right answer: same shape as the prediction, or a stack of "
            "several annotators' label images along a first axis.",
        )
        self._split = switch(
            "split_components",
            "split components",
            "Score every connected piece of a predicted label as its own segment (Kim et "
            "al.): a clustering gives one label to many separate regions.",
            value=True,
        )
        self._ignore_background = picker(
            "ignore_background",
            list(BACKGROUND_CHOICES),
            "Usual per metric: region scores (mIoU, covering, Rand, VI) count ground-truth 0 "
            "as a segment (BSDS); F1, PQ and SEG treat it as background and predicted 0 as "
            "no object (StarDist, Cell Tracking Challenge). Or the same reading for every "
            "score.",
            label="label 0 is",
            value="usual per metric",
        )
        self._thresholds = LineEdit(
            name="thresholds",
            label="IoU thresholds",
            value="0.5",
            tooltip="For precision, recall, F1 and panoptic quality, e.g. '0.5, 0.75'. "
            "The first also decides 'matched' in the segment table and the missed layer.",
        )
        self._boundary = switch(
            "boundary",
            "boundary F-measure (slower)",
            "The BSDS benchmark's boundary precision, recall and F.",
        )
        self._heat_map = switch(
            "heat_map",
            "IoU heat-map layer",
            "An image over the ground truth: each segment coloured by its best IoU.",
            value=True,
        )
        self._missed = switch(
            "missed",
            "missed-segments layer",
            "A Labels layer of the ground-truth segments matched by no prediction at the "
            "first IoU threshold.",
            value=True,
        )
        self._run_button = PushButton(name="evaluate", text="Evaluate")
        self._status = text_line("status", label="")
        self._metrics_table = Table(name="metrics", label="metrics")
        self._segments_table = Table(name="segments", label="segments")
        for table in (self._metrics_table, self._segments_table):
            table.read_only = True
            table.min_height = TABLE_HEIGHT
            table.native.horizontalHeader().setStretchLastSection(True)
        self._segments_table.native.setSelectionBehavior(
            self._segments_table.native.SelectionBehavior.SelectRows
        )
        self._segments_table.native.setSelectionMode(
            self._segments_table.native.SelectionMode.SingleSelection
        )
        self._plot_kind = ComboBox(name="plot", choices=[HISTOGRAM, F1_CURVE], value=HISTOGRAM)
        self._export_button = PushButton(name="export", text="Export tables to CSV…")
        # scoring options folded: with both docks open the window outgrew a laptop screen
        self._options = Folded(
            "Options",
            [
                self._split,
                self._ignore_background,
                self._thresholds,
                self._boundary,
                self._heat_map,
                self._missed,
            ],
        )
        self.extend(
            [
                self._prediction,
                self._truth,
                self._run_button,
                self._status,
                self._metrics_table,
                self._segments_table,
                self._export_button,
                self._plot_kind,
            ]
        )
        self._figure, self._canvas = _evaluate_plot.make_canvas()
        self.native.layout().insertWidget(2, self._options.native)  # under the pickers
        self.native.layout().addWidget(self._canvas)
        fit_narrow(self)

        self._run_button.changed.connect(self.run)
        self._export_button.changed.connect(self._on_export_clicked)
        self._plot_kind.changed.connect(self._draw_plot)
        self._segments_table.native.itemSelectionChanged.connect(self._on_row_selected)
        layers = napari_viewer.layers
        layers.events.inserted.connect(self._on_inserted)
        for event in (layers.events.removed, layers.events.renamed):
            event.connect(self._refresh_layers)
        self._closed = False
        self.native.destroyed.connect(self._on_destroyed)
        self._pick_defaults()
        self._draw_plot()

    def _on_destroyed(self, *_):
        """A run that ends after the dock was closed must not touch deleted widgets."""
        self._closed = True

    # ---------------------------------------------------------------- public API
    @property
    def is_running(self) -> bool:
        return self._job is not None

    @property
    def metrics(self) -> dict:
        """The last run's metrics, exactly as :func:`napari_unsupseg.evaluate` gives them."""
        return dict(self._result.metrics) if self._result else {}

    @property
    def segments(self) -> list[dict]:
        """The last run's per-segment rows (:func:`napari_unsupseg.segment_table`)."""
        return list(self._result.segments) if self._result else []

    def run(self, *_) -> None:
        """Score the chosen pair in a thread; a bad pick is told at once instead."""
        if self._job is not None:
            return
        try:
            job = self._make_job()
        except ValueError as error:
            self._status.value = "Not evaluated: see the notification."
            show_error(str(error))
            return
        worker = create_worker(score, job, _ignore_errors=True)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        self._job = job
        self._run_button.enabled = False
        self._status.value = f"Scoring '{job.prediction.name}' against '{job.ground_truth.name}'…"
        worker.start()

    def select_segment(self, row: int) -> None:
        """Select a row of the segment table, highlighting that segment in the viewer."""
        self._segments_table.native.selectRow(row)

    def export_csv(self, metrics_path, segments_path) -> tuple[Path, Path]:
        """Write the metrics table and the per-segment table of the last run to CSV."""
        if self._result is None:
            raise ValueError("Nothing to export yet: press Evaluate first.")
        return (
            write_csv(metrics_path, self._result.metrics),
            write_csv(segments_path, self._result.segments),
        )

    # ------------------------------------------------------------- layer pickers
    def _layer_choices(self, _=None):
        """Labels layers first; Image layers too, so that picking one is explained."""
        layers = [layer for layer in self._viewer.layers if not is_evaluation_output(layer)]
        labels = [(layer.name, layer) for layer in layers if isinstance(layer, Labels)]
        images = [(f"{layer.name} (image)", layer) for layer in layers if isinstance(layer, Image)]
        return labels + images

    def _refresh_layers(self, *_):
        self._prediction.reset_choices()
        self._truth.reset_choices()

    def _pick_defaults(self):
        """Ground truth: a Labels layer named like one; prediction: the newest other one."""
        self._refresh_layers()
        labels = [layer for _, layer in self._layer_choices() if isinstance(layer, Labels)]
        truth = next((layer for layer in labels if TRUTH_NAME.search(layer.name)), None)
        if truth is not None:
            self._truth.value = truth
        others = [layer for layer in labels if layer is not self._truth.value]
        if others:
            self._prediction.value = others[-1]

    def _on_inserted(self, event):
        """A new Labels layer becomes the prediction (the truth, if named like one)."""
        self._refresh_layers()
        layer = event.value
        if not isinstance(layer, Labels) or is_evaluation_output(layer):
            return
        target = self._truth if TRUTH_NAME.search(layer.name) else self._prediction
        target.value = layer

    # ---------------------------------------------------------------------- runs
    def _make_job(self) -> EvaluationJob:
        prediction, truth = self._prediction.value, self._truth.value
        check_layers(prediction, truth)
        return EvaluationJob(
            labels=image_data(prediction),
            truth=image_data(truth),
            prediction=prediction,
            ground_truth=truth,
            split_components=self._split.value,
            ignore_background=BACKGROUND_CHOICES[self._ignore_background.value],
            thresholds=parse_thresholds(self._thresholds.value),
            boundary=self._boundary.value,
            heat_map=self._heat_map.value,
            missed=self._missed.value,
        )

    def _on_returned(self, result: EvaluationResult) -> None:
        if result.job is not self._job or self._closed:
            return
        self._job = None
        self._run_button.enabled = True
        self._result = result
        self._fill_tables(result)
        self._draw_plot()
        self._write_layers(result)
        self._status.value = result.summary()

    def _on_errored(self, error: BaseException) -> None:
        job, self._job = self._job, None
        if self._closed:
            return
        self._run_button.enabled = True
        self._status.value = "Failed: see the notification."
        names = f"'{job.prediction.name}' against '{job.ground_truth.name}'" if job else ""
        show_error(f"Cannot evaluate {names}: {error}")

    # ------------------------------------------------------------------- results
    def _fill_tables(self, result: EvaluationResult) -> None:
        metrics = result.metrics
        self._metrics_table.value = {  # readable names and text; exact numbers in the CSV
            "data": [[number_text(value)] for value in metrics.values()],
            "index": [metric_name(key) for key in metrics],
            "columns": ["value"],
        }
        columns = list(SEGMENT_COLUMNS)
        if metrics["n_annotators"] == 1:
            columns.remove("annotator")
        table = self._segments_table
        table.native.clearSelection()
        table.native.setUpdatesEnabled(False)  # one repaint for thousands of rows
        table.value = {
            "data": [[number_text(row[c]) for c in columns] for row in result.segments],
            "index": [str(i + 1) for i in range(len(result.segments))],
            "columns": [COLUMN_NAMES[c] for c in columns],
        }
        table.native.setUpdatesEnabled(True)

    def _write_layers(self, result: EvaluationResult) -> None:
        job = result.job
        truth = job.ground_truth
        place = placement(truth)
        if result.heat_map is not None:
            put_evaluation_layer(
                self._viewer,
                f"{job.prediction.name} IoU",
                result.heat_map,
                "image",
                colormap="viridis",
                contrast_limits=(0.0, 1.0),
                opacity=0.7,
                **place,
            )
        if result.missed is not None:
            put_evaluation_layer(
                self._viewer, f"{job.prediction.name} missed", result.missed, "labels", **place
            )

    def _draw_plot(self, *_) -> None:
        _evaluate_plot.draw(self._figure, self._canvas, self._plot_kind.value, self._result)

    def _on_row_selected(self) -> None:
        rows = self._segments_table.native.selectionModel().selectedRows()
        if not rows or self._result is None or rows[0].row() >= len(self._result.segments):
            return
        row = self._result.segments[rows[0].row()]
        truth = self._result.job.ground_truth
        if truth not in self._viewer.layers:
            return
        truth.visible = True
        truth.selected_label = row["gt_id"]
        truth.show_selected_label = True
        self._raise_to_top(truth)
        self._centre_on(truth, row)

    def _raise_to_top(self, truth: Labels) -> None:
        """Draw the ground truth over every other layer: the highlighted segment was
        hidden under the user's predictions and the heat map. Only the order changes."""
        layers = self._viewer.layers
        index = layers.index(truth)
        if index != len(layers) - 1:
            layers.move(index, len(layers))

    def _centre_on(self, layer: Labels, row: dict) -> None:
        """Move the sliders and the camera to the centre of a ground-truth segment."""
        data = np.asarray(image_data(layer))
        centre = segment_centre(data, np.ndim(self._result.job.labels), row)
        if centre is not None:
            look_at(self._viewer, layer, centre)

    def _on_export_clicked(self, *_) -> None:
        if self._result is None:
            show_error("Nothing to export yet: press Evaluate first.")
            return
        from qtpy.QtWidgets import QFileDialog

        suggested = f"{self._result.job.prediction.name} metrics.csv"
        path, _ = QFileDialog.getSaveFileName(
            self.native,
            "Save metrics (the segment table goes next to it)",
            suggested,
            "CSV (*.csv)",
        )
        if not path:
            return
        metrics_path = Path(path).with_suffix(".csv")
        segments_path = metrics_path.with_name(f"{metrics_path.stem} segments.csv")
        try:
            self.export_csv(metrics_path, segments_path)
        except OSError as error:
            show_error(f"Could not write the CSV files: {error}")
            return
        show_info(f"Saved {metrics_path.name} and {segments_path.name} in {metrics_path.parent}")
