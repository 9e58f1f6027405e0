"""The evaluation dock widget: score a Labels layer against a ground-truth Labels layer.

A thin front end over :mod:`napari_unsupseg.evaluation`: the inputs are checked on the
GUI thread (so a wrong pick is told at once and no layer is touched), the scoring runs
in a napari thread worker (a big volume must not freeze the UI), and the results come
back as two tables, a plot, and optional layers over the ground truth: each segment's
best-match IoU as a heat map, and the segments no prediction matched. The user's
layers are only read; selecting a table row changes which label the ground-truth layer
shows, nothing else.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, LineEdit, PushButton, Table
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ..evaluation import metrics_of, rows_of, write_csv
from ..evaluation._scores import Evaluation, check_thresholds, threshold_key
from ._fold import Folded, fit_narrow
from ._wording import COLUMN_NAMES, metric_name, number_text

#: metadata marking the layers this widget made (kept out of its own pickers)
OUTPUT_TAG = {"created_by": "napari-unsupseg", "evaluation_output": True}
#: layer names that suggest ground truth, for the default pick
_TRUTH_NAME = re.compile(r"ground.?truth|truth|\bgt\b|annotation|manual", re.IGNORECASE)
#: IoU thresholds of the "F1 against IoU threshold" plot
CURVE_THRESHOLDS = tuple(np.round(np.arange(0.05, 1.0001, 0.05), 2).tolist())
HISTOGRAM = "IoU histogram"
F1_CURVE = "F1 vs IoU threshold"
SEGMENT_COLUMNS = ("annotator", "gt_id", "size", "best_pred_id", "iou", "matched")
#: smallest heights of the tables and the plot: the dock fits beside the segmenter's
TABLE_HEIGHT, PLOT_HEIGHT = 90, 120
#: how label 0 is read: the choices shown and the ``ignore_background`` they pass
BACKGROUND_CHOICES = {"usual per metric": None, "background": True, "a segment": False}


@dataclass(frozen=True)
class _Job:
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
class _Result:
    job: _Job
    metrics: dict
    segments: list[dict]
    f1_curve: tuple[float, ...]
    heat_map: np.ndarray | None
    missed: np.ndarray | None
    seconds: float


def _score(job: _Job) -> _Result:
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
    return _Result(job, metrics, segments, curve, heat, missed, seconds)


def paint_segments(truth_stack: np.ndarray, values: dict, fill, dtype) -> np.ndarray:
    """An array shaped like ``truth_stack`` where every pixel of ground-truth segment
    ``(annotator, id)`` holds ``values[(annotator, id)]`` and all other pixels ``fill``.

    Looks ids up by binary search, so huge or negative ids cost nothing extra.
    """
    out = np.full(truth_stack.shape, fill, dtype=dtype)
    for annotator, truth in enumerate(truth_stack):
        keys = sorted(gt for a, gt in values if a == annotator)
        if not keys:
            continue
        ids = np.array(keys, dtype=truth.dtype)
        painted = np.array([values[annotator, k] for k in keys], dtype=dtype)
        index = np.minimum(np.searchsorted(ids, truth), ids.size - 1)
        found = ids[index] == truth
        out[annotator][found] = painted[index[found]]
    return out


def layer_data(layer):
    """The full-resolution array of a layer (level 0 of a multiscale one)."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def check_layers(prediction, truth) -> None:
    """Raise ValueError with a message a user can act on when the pair cannot be scored."""
    for role, layer in (("prediction", prediction), ("ground truth", truth)):
        if layer is None:
            raise ValueError(f"Pick a {role} layer (a Labels layer) first.")
        if isinstance(layer, Image):
            hint = (
                " If it holds label ids, right-click it in the layer list and choose "
                "'Convert to Labels'."
                if np.issubdtype(layer_data(layer).dtype, np.integer)
                else " It holds intensities, not label ids: segment it first."
            )
            raise ValueError(f"The {role} '{layer.name}' is an Image layer, not Labels.{hint}")
        if not isinstance(layer, Labels):
            raise ValueError(f"The {role} '{layer.name}' is a {type(layer).__name__} layer.")
        dtype = np.dtype(layer_data(layer).dtype)
        if dtype.kind not in "iub":
            raise ValueError(f"The {role} '{layer.name}' holds {dtype} values, not label ids.")
    shape = tuple(layer_data(prediction).shape)
    truth_shape = tuple(layer_data(truth).shape)
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


class EvaluateWidget(Container):
    """Score a prediction Labels layer against a ground-truth Labels layer."""

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        self._job: _Job | None = None
        self._result: _Result | None = None

        self._prediction = ComboBox(
            name="prediction", choices=self._layer_choices, tooltip="Labels layer to score."
        )
        self._truth = ComboBox(
            name="ground_truth",
            label="ground truth",
            choices=self._layer_choices,
            tooltip="Labels layer of the right answer: same shape as the prediction, or a "
            "stack of several annotators' label images along a first axis.",
        )
        self._split = CheckBox(
            name="split_components",
            text="split components",
            value=True,
            tooltip="Score every connected piece of a predicted label as its own segment "
            "(Kim et al.): a clustering gives one label to many separate regions.",
        )
        self._ignore_background = ComboBox(
            name="ignore_background",
            label="label 0 is",
            choices=list(BACKGROUND_CHOICES),
            value="usual per metric",
            tooltip="Usual per metric: region scores (mIoU, covering, Rand, VI) count "
            "ground-truth 0 as a segment (BSDS); F1, PQ and SEG treat it as background and "
            "predicted 0 as no object (StarDist, Cell Tracking Challenge). Or the same "
            "reading for every score.",
        )
        self._thresholds = LineEdit(
            name="thresholds",
            label="IoU thresholds",
            value="0.5",
            tooltip="For precision, recall, F1 and panoptic quality, e.g. '0.5, 0.75'. "
            "The first also decides 'matched' in the segment table and the missed layer.",
        )
        self._boundary = CheckBox(
            name="boundary",
            text="boundary F-measure (slower)",
            tooltip="The BSDS benchmark's boundary precision, recall and F.",
        )
        self._heat_map = CheckBox(
            name="heat_map",
            text="IoU heat-map layer",
            value=True,
            tooltip="An image over the ground truth: each segment coloured by its best IoU.",
        )
        self._missed = CheckBox(
            name="missed",
            text="missed-segments layer",
            value=True,
            tooltip="A Labels layer of the ground-truth segments matched by no prediction "
            "at the first IoU threshold.",
        )
        self._run_button = PushButton(name="evaluate", text="Evaluate")
        self._status = Label(name="status", label="")
        self._status.native.setWordWrap(True)
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
        self._figure, self._canvas = _make_canvas()
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
        worker = create_worker(_score, job, _ignore_errors=True)
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
        layers = [layer for layer in self._viewer.layers if not _is_output(layer)]
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
        truth = next((layer for layer in labels if _TRUTH_NAME.search(layer.name)), None)
        if truth is not None:
            self._truth.value = truth
        others = [layer for layer in labels if layer is not self._truth.value]
        if others:
            self._prediction.value = others[-1]

    def _on_inserted(self, event):
        """A new Labels layer becomes the prediction (the truth, if named like one)."""
        self._refresh_layers()
        layer = event.value
        if not isinstance(layer, Labels) or _is_output(layer):
            return
        target = self._truth if _TRUTH_NAME.search(layer.name) else self._prediction
        target.value = layer

    # ---------------------------------------------------------------------- runs
    def _make_job(self) -> _Job:
        prediction, truth = self._prediction.value, self._truth.value
        check_layers(prediction, truth)
        return _Job(
            labels=layer_data(prediction),
            truth=layer_data(truth),
            prediction=prediction,
            ground_truth=truth,
            split_components=self._split.value,
            ignore_background=BACKGROUND_CHOICES[self._ignore_background.value],
            thresholds=parse_thresholds(self._thresholds.value),
            boundary=self._boundary.value,
            heat_map=self._heat_map.value,
            missed=self._missed.value,
        )

    def _on_returned(self, result: _Result) -> None:
        if result.job is not self._job or self._closed:
            return
        self._job = None
        self._run_button.enabled = True
        self._result = result
        self._fill_tables(result)
        self._draw_plot()
        self._write_layers(result)
        metrics, first = result.metrics, result.job.thresholds[0]
        self._status.value = (
            f"mIoU {metrics['miou']:.3f} · F1@{first:g} "
            f"{metrics[threshold_key('f1', first)]:.3f} · {metrics['n_gt']} ground-truth and "
            f"{metrics['n_pred']} predicted segments · {result.seconds:.2f} s"
        )

    def _on_errored(self, error: BaseException) -> None:
        job, self._job = self._job, None
        if self._closed:
            return
        self._run_button.enabled = True
        self._status.value = "Failed: see the notification."
        names = f"'{job.prediction.name}' against '{job.ground_truth.name}'" if job else ""
        show_error(f"Cannot evaluate {names}: {error}")

    # ------------------------------------------------------------------- results
    def _fill_tables(self, result: _Result) -> None:
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

    def _write_layers(self, result: _Result) -> None:
        job = result.job
        truth = job.ground_truth
        place = _placement(truth)
        if result.heat_map is not None:
            _put_layer(
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
            _put_layer(
                self._viewer, f"{job.prediction.name} missed", result.missed, "labels", **place
            )

    def _draw_plot(self, *_) -> None:
        figure = self._figure
        figure.clear()
        axes = figure.add_subplot()
        result = self._result
        if self._plot_kind.value == HISTOGRAM:
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
        self._canvas.draw_idle()

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
        data = np.asarray(layer_data(layer))
        stacked = data.ndim > np.ndim(self._result.job.labels)
        plane = data[row["annotator"]] if stacked else data
        coords = np.argwhere(plane == row["gt_id"])
        if not coords.size:
            return
        centre = coords.mean(axis=0)
        if stacked:
            centre = np.r_[row["annotator"], centre]
        world = np.asarray(layer.data_to_world(centre), dtype=float)
        dims = self._viewer.dims
        offset = dims.ndim - world.size
        for axis, value in enumerate(world):
            if axis + offset not in dims.displayed:
                dims.set_point(axis + offset, value)
        displayed = [axis - offset for axis in dims.displayed if axis >= offset]
        _camera(self._viewer).center = tuple(world[displayed])

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


def _camera(viewer):
    """The viewer's camera: ``viewer.scene.camera`` since napari 0.9, ``viewer.camera`` before."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def _is_output(layer) -> bool:
    metadata = layer.metadata if isinstance(layer.metadata, dict) else {}
    return bool(metadata.get("evaluation_output"))


def _placement(layer) -> dict:
    """Where the ground truth lies in the world, for layers that must overlay it."""
    place = {"scale": tuple(layer.scale), "translate": tuple(layer.translate)}
    for name in ("units", "axis_labels"):
        if getattr(layer, name, None) is not None:
            place[name] = tuple(getattr(layer, name))
    return place


def _put_layer(viewer, name: str, data, kind: str, **kwargs):
    """Update this widget's output layer of that name, or add it: one per prediction."""
    kinds = {"image": Image, "labels": Labels}
    existing = next(
        (
            layer
            for layer in viewer.layers
            if layer.name == name and _is_output(layer) and isinstance(layer, kinds[kind])
        ),
        None,
    )
    if existing is None:
        add = viewer.add_image if kind == "image" else viewer.add_labels
        return add(data, name=name, metadata=dict(OUTPUT_TAG), **kwargs)
    existing.data = data
    existing.scale, existing.translate = kwargs["scale"], kwargs["translate"]
    return existing


def _make_canvas():
    """A matplotlib figure drawn into the dock (Qt binding chosen by qtpy / napari)."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 2.6), dpi=100)
    canvas = FigureCanvasQTAgg(figure)
    canvas.setMinimumHeight(PLOT_HEIGHT)
    return figure, canvas
