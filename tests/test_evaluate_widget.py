"""The evaluation dock widget in a real napari viewer (run under Xvfb)."""

import csv

import numpy as np
import pytest
from napari.layers import Image, Labels

import napari_unsupseg
from napari_unsupseg._widgets import evaluate as evaluate_module
from napari_unsupseg._widgets._evaluate_run import CURVE_THRESHOLDS
from napari_unsupseg._widgets._navigate import camera
from napari_unsupseg._widgets._wording import metric_name
from napari_unsupseg._widgets.evaluate import EvaluateWidget
from napari_unsupseg.evaluation import _pixel_matching

SCALE, TRANSLATE = (0.5, 2.0), (10.0, -5.0)


@pytest.fixture
def cells(make_napari_viewer):
    """The cells sample, its ground truth, and a k-means segmentation of it as layers."""
    viewer = make_napari_viewer()
    viewer.open_sample("napari-unsupseg", "cells")
    image = viewer.layers["cells (2 channels)"]
    truth = viewer.layers["cells ground truth"]
    truth.scale, truth.translate = SCALE, TRANSLATE
    labels = napari_unsupseg.segment(
        image.data, "kmeans", channel_axis=0, n_clusters=3, seed=0, output="classes"
    )
    viewer.add_labels(labels, name="kmeans", scale=SCALE, translate=TRANSLATE)
    widget = EvaluateWidget(viewer)
    viewer.window.add_dock_widget(widget, name="evaluate")
    return viewer, widget, labels, np.asarray(truth.data)


def run_to_end(qtbot, widget):
    widget.run()
    assert widget.is_running
    qtbot.waitUntil(lambda: not widget.is_running, timeout=60_000)


def snapshot(viewer):
    return [(layer.name, type(layer), np.array(layer.data, copy=True)) for layer in viewer.layers]


def assert_unchanged(viewer, before):
    assert [(n, t) for n, t, _ in before] == [(layer.name, type(layer)) for layer in viewer.layers]
    for (_, _, data), layer in zip(before, viewer.layers, strict=True):
        assert np.array_equal(np.asarray(layer.data), data)


def shown_metrics(widget):
    """The metrics table by engine key (it shows readable names, numbers as text)."""
    table = widget._metrics_table
    names = {metric_name(key): key for key in widget.metrics}
    values = [float("nan") if row[0] == "n/a" else float(row[0]) for row in table.data]
    return {names[name]: value for name, value in zip(table.row_headers, values, strict=True)}


def test_pickers_default_to_prediction_and_ground_truth(cells):
    viewer, widget, _, _ = cells
    assert widget._prediction.value is viewer.layers["kmeans"]
    assert widget._truth.value is viewer.layers["cells ground truth"]
    viewer.add_labels(np.zeros((256, 256), int), name="second try")
    assert widget._prediction.value is viewer.layers["second try"]
    viewer.layers["second try"].name = "renamed"
    assert "renamed" in [name for name, _ in widget._layer_choices()]
    viewer.layers.remove("renamed")
    assert "renamed" not in [name for name, _ in widget._layer_choices()]


def test_metrics_shown_equal_evaluate(qtbot, cells, errors):
    viewer, widget, labels, truth = cells
    widget._thresholds.value = "0.5, 0.75"
    before = snapshot(viewer)

    run_to_end(qtbot, widget)

    assert errors == []
    expected = napari_unsupseg.evaluate(labels, truth, thresholds=(0.5, 0.75))
    assert widget.metrics == expected
    shown = shown_metrics(widget)
    assert list(shown) == list(expected)
    for key, value in expected.items():
        assert shown[key] == pytest.approx(value, abs=5e-5), key
    rows = napari_unsupseg.segment_table(labels, truth, threshold=0.5)
    assert widget.segments == rows
    assert widget._segments_table.shape == (len(rows), 5)  # no annotator column for one GT
    assert f"{expected['miou']:.3f}" in widget._status.value
    # the user's layers are untouched; the outputs are new layers
    new = [layer.name for layer in viewer.layers][len(before) :]
    assert new == ["kmeans IoU", "kmeans missed"]
    for (name, _, data), layer in zip(before, viewer.layers, strict=False):
        assert layer.name == name and np.array_equal(np.asarray(layer.data), data)


def test_output_layers_overlay_the_ground_truth(qtbot, cells):
    viewer, widget, labels, truth = cells
    widget._thresholds.value = "0.99"  # strict enough that some k-means cells miss it
    run_to_end(qtbot, widget)
    heat, missed = viewer.layers["kmeans IoU"], viewer.layers["kmeans missed"]
    assert isinstance(heat, Image) and isinstance(missed, Labels)
    for layer in (heat, missed):
        np.testing.assert_allclose(layer.scale, SCALE)
        np.testing.assert_allclose(layer.translate, TRANSLATE)
        assert layer.data.shape == truth.shape
    by_id = {row["gt_id"]: row for row in widget.segments}
    for gt_id, row in by_id.items():
        np.testing.assert_allclose(heat.data[truth == gt_id], row["iou"], rtol=1e-6)
        expected_missed = 0 if row["matched"] else gt_id
        assert np.all(missed.data[truth == gt_id] == expected_missed)
    matched = {row["matched"] for row in widget.segments}
    assert matched == {True, False}  # both cases were checked
    # a second run updates the same layers instead of piling up new ones
    count = len(viewer.layers)
    widget._split.value = False
    run_to_end(qtbot, widget)
    assert len(viewer.layers) == count
    expected = napari_unsupseg.evaluate(labels, truth, split_components=False, thresholds=0.99)
    assert widget.metrics == expected


def test_selecting_a_row_highlights_that_segment(qtbot, cells):
    viewer, widget, _, truth = cells
    run_to_end(qtbot, widget)
    layer = viewer.layers["cells ground truth"]
    assert not layer.visible  # the sample hides it
    row = 7
    gt_id = widget.segments[row]["gt_id"]

    widget.select_segment(row)

    assert layer.visible and layer.show_selected_label
    assert layer.selected_label == gt_id
    names = [layer.name for layer in viewer.layers]
    assert names[-1] == "cells ground truth"  # over the prediction and the heat map
    user_layers = [n for n in names if n not in ("kmeans IoU", "kmeans missed")]
    assert user_layers == ["cells (2 channels)", "kmeans", "cells ground truth"]
    centre = np.argwhere(truth == gt_id).mean(axis=0) * SCALE + TRANSLATE
    np.testing.assert_allclose(camera(viewer).center[-2:], centre, atol=1e-6)
    np.testing.assert_array_equal(layer.data, truth)


def test_plot_draws_the_histogram_and_the_f1_curve(qtbot, cells):
    _, widget, labels, truth = cells
    run_to_end(qtbot, widget)
    axes = widget._figure.axes[0]
    assert sum(patch.get_height() for patch in axes.patches) == len(widget.segments)
    widget._plot_kind.value = evaluate_module.F1_CURVE
    (line,) = widget._figure.axes[0].get_lines()
    assert line.get_ydata()[9] == pytest.approx(
        napari_unsupseg.evaluate(labels, truth, thresholds=0.5)["f1@0.5"]
    )
    assert list(line.get_xdata()) == list(CURVE_THRESHOLDS)


def test_csv_export_reads_back(qtbot, cells, tmp_path):
    _, widget, _, _ = cells
    with pytest.raises(ValueError, match="Evaluate first"):
        widget.export_csv(tmp_path / "m.csv", tmp_path / "s.csv")
    run_to_end(qtbot, widget)

    widget.export_csv(tmp_path / "m.csv", tmp_path / "s.csv")

    with (tmp_path / "m.csv").open() as handle:
        metrics = {row["metric"]: float(row["value"]) for row in csv.DictReader(handle)}
    assert metrics == pytest.approx(widget.metrics)
    with (tmp_path / "s.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["gt_id"]) for r in rows] == [r["gt_id"] for r in widget.segments]
    assert [float(r["iou"]) for r in rows] == pytest.approx([r["iou"] for r in widget.segments])
    assert [r["matched"] == "True" for r in rows] == [r["matched"] for r in widget.segments]


def test_annotator_stack_and_options(qtbot, make_napari_viewer, errors):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    truths = np.stack([np.kron(rng.integers(0, 4, (6, 6)), np.ones((8, 8), int)) for _ in range(3)])
    labels = np.kron(rng.integers(0, 3, (6, 6)), np.ones((8, 8), int))
    viewer.add_labels(truths, name="annotators ground truth")
    viewer.add_labels(labels, name="pred")
    widget = EvaluateWidget(viewer)
    assert widget._ignore_background.value == "usual per metric"  # None: each its own
    widget._ignore_background.value = "background"
    widget._boundary.value = True
    widget._thresholds.value = "0.3 0.6"
    run_to_end(qtbot, widget)
    assert errors == []
    expected = napari_unsupseg.evaluate(
        labels, truths, ignore_background=True, thresholds=(0.3, 0.6), boundary=True
    )
    assert widget.metrics == expected
    assert widget._segments_table.column_headers[0] == "annotator"
    assert viewer.layers["pred IoU"].data.shape == truths.shape
    background = truths == 0
    assert np.isnan(viewer.layers["pred IoU"].data[background]).all()
    widget.select_segment(len(widget.segments) - 1)  # last annotator's last segment
    assert viewer.dims.point[0] == 2


def test_volumes_are_scored_in_3d(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-unsupseg", "cells_3d")
    truth = np.asarray(viewer.layers["cells 3D ground truth"].data)
    prediction = np.where(np.roll(truth, 1, axis=2) > 0, 1, 0)  # a shifted foreground mask
    viewer.add_labels(prediction, name="mask")
    widget = EvaluateWidget(viewer)
    run_to_end(qtbot, widget)
    assert widget.metrics == napari_unsupseg.evaluate(prediction, truth)
    widget.select_segment(3)
    gt_id = widget.segments[3]["gt_id"]
    z = np.argwhere(truth == gt_id)[:, 0].mean()
    assert viewer.dims.point[0] == pytest.approx(z, abs=0.5)  # the slider is on the cell


@pytest.mark.parametrize(
    "case, message",
    [
        ("shape", "Shapes differ"),
        ("image", "is an Image layer"),
        ("float image", "intensities"),
        ("thresholds", "IoU thresholds"),
        ("no layers", "Pick a prediction"),
    ],
)
def test_bad_picks_notify_and_touch_nothing(qtbot, make_napari_viewer, errors, case, message):
    viewer = make_napari_viewer()
    truth = np.kron(np.arange(4).reshape(2, 2), np.ones((8, 8), int))
    if case != "no layers":
        viewer.add_labels(truth, name="ground truth")
        pred = truth[:, :15] if case == "shape" else truth
        viewer.add_labels(pred, name="pred")
    if case == "image":
        viewer.add_image(truth.astype(np.uint16), name="ids as image")
    if case == "float image":
        viewer.add_image(truth + 0.5, name="intensities")
    widget = EvaluateWidget(viewer)
    if case in ("image", "float image"):
        widget._prediction.value = viewer.layers[-1]
    if case == "thresholds":
        widget._thresholds.value = "0.5, 1.5"
    before = snapshot(viewer)

    widget.run()

    assert not widget.is_running
    assert len(errors) == 1 and message in errors[0]
    assert_unchanged(viewer, before)
    assert widget.metrics == {}


def test_engine_errors_come_back_as_a_notification(qtbot, make_napari_viewer, errors, monkeypatch):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(1)
    viewer.add_labels(rng.integers(0, 2, (200, 200)), name="ground truth")
    viewer.add_labels(rng.integers(0, 2, (200, 200)), name="pred")
    widget = EvaluateWidget(viewer)
    widget._boundary.value = True
    # a boundary matching past the size the engine allows (made tiny here)
    monkeypatch.setattr(_pixel_matching, "MAX_PAIRS", 10)
    before = snapshot(viewer)
    run_to_end(qtbot, widget)
    assert len(errors) == 1 and "boundary F-measure" in errors[0]
    assert_unchanged(viewer, before)
    assert widget._run_button.enabled


def test_the_manifest_opens_the_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-unsupseg", "Evaluate segmentation")
    assert isinstance(widget, EvaluateWidget)
