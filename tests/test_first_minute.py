"""Traps a new user met in the first minutes (issue 21), each in a real napari viewer."""

import numpy as np
import pytest

import napari_unsupseg
import napari_unsupseg.sample_data
import test_segment_widget as segment_tests
from napari_unsupseg._widgets.evaluate import EvaluateWidget
from test_segment_widget import ENDLESS, _wait_for_preview, blocks, configure, run_to_end

viewer_widget = segment_tests.viewer_widget


def _evaluated(qtbot, viewer):
    """An evaluation of a k-means result against its truth, with the IoU heat map."""
    image, truth = napari_unsupseg.sample_data.cells(shape=(96, 96), n_cells=4)
    labels = napari_unsupseg.segment(image, "kmeans", channel_axis=0, n_clusters=3, seed=0)
    viewer.add_labels(truth, name="cells ground truth")
    viewer.add_labels(labels, name="kmeans")
    evaluate = EvaluateWidget(viewer)
    viewer.window.add_dock_widget(evaluate, name="evaluate")
    evaluate.run()
    qtbot.waitUntil(lambda: not evaluate.is_running, timeout=60_000)
    assert "kmeans IoU" in viewer.layers
    return evaluate


def test_evaluation_outputs_are_never_offered_as_images_to_segment(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    _evaluated(qtbot, viewer)  # its heat map becomes the active layer

    assert widget._image.value is viewer.layers["img"]
    assert [name for name, _ in widget._image_choices()] == ["img"]
    configure(widget, "kmeans", n_clusters=2)
    run_to_end(qtbot, widget)
    assert viewer.layers[-1].name == "img kmeans"
    assert "img kmeans" not in [name for name, _ in widget._scribble_choices()]


def test_a_selected_segment_is_drawn_over_the_predictions(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    evaluate = _evaluated(qtbot, viewer)
    truth = viewer.layers["cells ground truth"]
    evaluate.select_segment(0)
    assert viewer.layers[-1] is truth  # over 'kmeans', the heat map and the missed layer
    assert truth.visible and truth.show_selected_label
    assert truth.selected_label == evaluate.segments[0]["gt_id"]


def test_metric_names_and_numbers_read_plainly(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    evaluate = _evaluated(qtbot, viewer)
    table = evaluate._metrics_table
    names = list(table.row_headers)
    assert "variation of information: split" in names
    assert "true positives at IoU 0.5" in names and "F1 at IoU 0.5" in names
    assert not [name for name in names if "_" in name or "@" in name]
    cells = [str(row[0]) for row in table.data]
    assert not [cell for cell in cells if "e+" in cell or "e-" in cell]
    shown = dict(zip(names, cells, strict=True))
    assert shown["predicted segments"] == str(evaluate.metrics["n_pred"])  # a count: an integer
    columns = evaluate._segments_table.column_headers
    assert "pixels" in columns and "size" not in columns
    assert all("e+" not in str(v) for row in evaluate._segments_table.data for v in row)


def test_removing_the_source_image_cancels_the_run(qtbot, viewer_widget, errors):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    configure(widget, "cnn", n_channels=8, **ENDLESS)
    widget.run()
    _wait_for_preview(qtbot, viewer, "img cnn (preview)")

    viewer.layers.remove("img")

    qtbot.waitUntil(lambda: not widget.is_running, timeout=10_000)
    assert "removed" in widget._status.value and "'img'" in widget._status.value
    assert [layer.name for layer in viewer.layers] == []
    assert errors == []


def test_a_one_pixel_image_is_reported_with_its_own_shape(qtbot, viewer_widget, errors):
    viewer, widget = viewer_widget
    viewer.add_image(np.array([[3.0]]), name="dot")
    configure(widget, "kmeans")
    widget.run()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=30_000)
    assert len(errors) == 1
    assert "(1, 1)" in errors[0] and "(1, 1, 1)" not in errors[0]


def test_two_planes_are_channels_and_a_ten_plane_stack_is_segmented_whole(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    image, _ = napari_unsupseg.sample_data.cells(shape=(64, 64), n_cells=3)
    viewer.add_image(image, name="two channels")  # no metadata, as a TIFF often opens
    assert widget._channel.value == 0
    assert widget._extent.native.isHidden()  # one 2D image: nothing to choose

    viewer.add_image(blocks((10, 48, 48)), name="stack")
    assert widget._channel.value is None
    assert widget._extent.value == "whole stack"
    configure(widget, "kmeans", n_clusters=3)
    widget._output.value = "classes"
    run_to_end(qtbot, widget)
    result = viewer.layers["stack kmeans"]
    assert result.data.shape == (10, 48, 48) and (result.data > 0).all()
    assert result.metadata["plane"] is None


@pytest.mark.parametrize("method", ["cnn-fsf", "cnn-continuity"])
def test_progress_follows_the_label_count_that_ends_the_run(qtbot, viewer_widget, method):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    configure(widget, method, n_channels=16, max_iter=1000, min_labels=8)
    seen = []
    widget._relay.progressed.connect(
        lambda _: seen.append((widget._progress.value, widget._status.value))
    )
    run_to_end(qtbot, widget)
    assert viewer.layers[f"img {method}"].metadata["params"]["max_iter"] == 1000
    last_iteration = max(int(text.split("iteration ")[1].split(" /")[0]) for _, text in seen)
    assert last_iteration < 500  # the label count ended it, not max_iter
    assert max(value for value, _ in seen) >= 90  # iteration / max_iter: under 50
    assert any("labels, stops at 8" in text for _, text in seen)


#: the widest the dock may be (cellpose-napari and stardist-napari fit in about this)
DOCK_WIDTH = 420


def test_the_dock_shows_a_handful_of_fields_and_folds_the_rest(viewer_widget):
    viewer, widget = viewer_widget
    widget._output.value = "auto"  # what a new user sees (the shared fixture asks for classes)
    viewer.add_image(blocks((2, 64, 64)), name="a long image layer name, as files have")
    dock = widget.native.parentWidget()
    while dock is not None and not hasattr(dock, "setFeatures"):  # the QDockWidget
        dock = dock.parentWidget()
    assert not widget._advanced.expanded
    top = [w.name for w in widget if not w.native.isHidden()]
    assert top == [
        "image",
        "method",
        "about",
        "output",
        "object_diameter",
        "run",
        "progress",
        "status",
    ]
    folded = widget._advanced.native
    for method in segment_tests.METHODS:
        widget._method.value = method
        assert widget._advanced.title == f"Advanced: {method} settings"
        for field in widget.param_widgets.values():
            assert folded.isAncestorOf(field.native)
        for field in (widget._channel, widget._seed, widget._device, widget._threads):
            assert folded.isAncestorOf(field.native)
        about = widget._about.value
        assert about and "seed 0" not in about and "Kim" not in about  # no paper jargon
        assert "Source:" in widget._about.tooltip or method in ("gmm+kmeans", "cnn+kmeans")
        for expanded in (False, True):
            widget._advanced.expanded = expanded
            assert widget.native.minimumSizeHint().width() <= DOCK_WIDTH, method
            assert dock.minimumSizeHint().width() <= DOCK_WIDTH, method
    widget._advanced.expanded = False
    assert widget.native.sizeHint().height() < 500  # fits beside the canvas on a laptop


def test_both_docks_open_fit_a_1000_pixel_screen(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.window.add_dock_widget(segment_tests.SegmentWidget(viewer), name="segment")
    evaluate = EvaluateWidget(viewer)
    viewer.window.add_dock_widget(evaluate, name="evaluate")
    assert not evaluate._options.expanded  # scoring options folded, pickers and Run shown
    assert viewer.window._qt_window.minimumSizeHint().height() <= 1000
