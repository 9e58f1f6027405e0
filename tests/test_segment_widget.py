"""The segmentation dock widget in a real napari viewer (run under Xvfb)."""

import subprocess
import sys
import time

import numpy as np
import pytest
from napari.layers import Labels
from qtpy.QtCore import Qt

import napari_unsupseg
import napari_unsupseg._memory as memory
from napari_unsupseg import available_methods
from napari_unsupseg._widgets._params import SpecialValueWidget
from napari_unsupseg._widgets._worker import describe_error
from napari_unsupseg._widgets.segment import SegmentWidget

METHODS = available_methods()
#: small values that keep every method fast on a 64x64 image (used where a spec has them)
FAST = {"max_iter": 4, "n_channels": 8, "max_samples": 2000, "n_superpixels": 200}
#: a CNN run that only Cancel ends
ENDLESS = {"max_iter": 100_000, "patience": 0, "min_labels": 0}
SCALE, TRANSLATE = (0.5, 2.0), (10.0, -5.0)


def blocks(shape=(64, 64), seed=0) -> np.ndarray:
    """Four flat quadrants plus noise: structure every method can find."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices(shape[-2:])
    plane = 1000 * (yy >= shape[-2] // 2) + 2000 * (xx >= shape[-1] // 2)
    image = np.broadcast_to(plane, shape) + rng.normal(0, 50, shape)
    return np.clip(image + 500, 0, None).astype(np.uint16)


@pytest.fixture
def viewer_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = SegmentWidget(viewer)
    widget._output.value = "classes"  # these tests are about the methods' classes
    viewer.window.add_dock_widget(widget, name="segment")
    return viewer, widget


def configure(widget, method, **params):
    widget._method.value = method
    for name, value in params.items():
        if name in widget.param_widgets:
            widget.param_widgets[name].value = value


def run_to_end(qtbot, widget, timeout=120_000):
    widget.run()
    assert widget.is_running
    qtbot.waitUntil(lambda: not widget.is_running, timeout=timeout)


def snapshot(viewer):
    return [(layer.name, type(layer), np.array(layer.data, copy=True)) for layer in viewer.layers]


def assert_unchanged(viewer, before):
    assert [(n, t) for n, t, _ in before] == [(layer.name, type(layer)) for layer in viewer.layers]
    for (_, _, data), layer in zip(before, viewer.layers, strict=True):
        now = np.asarray(layer.data)
        assert now.dtype == data.dtype and now.tobytes() == data.tobytes()  # NaN-safe


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gives_a_labels_layer_over_the_image(qtbot, viewer_widget, errors, method):
    viewer, widget = viewer_widget
    image = blocks()
    original = image.copy()
    viewer.add_image(
        image, name="img", scale=SCALE, translate=TRANSLATE, units="um", axis_labels=("y", "x")
    )
    configure(widget, method, **FAST)

    run_to_end(qtbot, widget)

    assert errors == []
    assert [layer.name for layer in viewer.layers] == ["img", f"img {method}"]
    result = viewer.layers[f"img {method}"]
    assert isinstance(result, Labels)
    assert result.data.shape == image.shape
    assert result.data.min() >= 1
    np.testing.assert_allclose(result.scale, SCALE)
    np.testing.assert_allclose(result.translate, TRANSLATE)
    assert [str(u) for u in result.units] == ["micrometer", "micrometer"]
    assert tuple(result.axis_labels) == ("y", "x")
    meta = result.metadata
    assert meta["method"] == method and meta["source_layer"] == "img" and meta["seed"] == 0
    assert meta["version"] == napari_unsupseg.__version__ and meta["started"].endswith("+00:00")
    assert meta["device"] in ("cpu", "cuda", "mps") and meta["run_time_s"] >= 0
    spec = METHODS[method]
    assert set(meta["params"]) == {p.name for p in spec.params if p.kind != "array"}
    for name, value in FAST.items():
        if name in meta["params"]:
            assert meta["params"][name] == value
    np.testing.assert_array_equal(viewer.layers["img"].data, original)
    assert widget._run_button.text == "Run"


def test_metadata_reproduces_the_result(qtbot, viewer_widget):
    import napari_unsupseg as us

    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    configure(widget, "kmeans", n_clusters=3)
    widget._seed.value = 7
    run_to_end(qtbot, widget)
    meta = viewer.layers["img kmeans"].metadata
    again = us.segment(
        blocks(), meta["method"], seed=meta["seed"], output=meta["output"], **meta["params"]
    )
    np.testing.assert_array_equal(viewer.layers["img kmeans"].data, again)


def test_multichannel_and_rgb_outputs_cover_only_spatial_axes(qtbot, viewer_widget, errors):
    viewer, widget = viewer_widget
    cells = np.stack([blocks((48, 48), 1), blocks((48, 48), 2)])
    viewer.add_image(
        cells, name="cells", scale=(1, 0.5, 0.25), translate=(0, 3, 4), metadata={"channel_axis": 0}
    )
    assert widget._channel.value == 0  # read from the layer's metadata
    assert widget._extent.native.isHidden()  # 2 spatial axes: nothing to choose
    configure(widget, "kmeans", n_clusters=3)
    run_to_end(qtbot, widget)
    result = viewer.layers["cells kmeans"]
    assert result.data.shape == (48, 48)
    np.testing.assert_allclose(result.scale, (0.5, 0.25))
    np.testing.assert_allclose(result.translate, (3, 4))

    rgb = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    viewer.add_image(rgb, name="photo", scale=(2, 3))
    assert widget._image.value is viewer.layers["photo"]
    assert widget._channel.value == "rgb"
    run_to_end(qtbot, widget)
    assert viewer.layers["photo kmeans"].data.shape == (40, 56)
    np.testing.assert_allclose(viewer.layers["photo kmeans"].scale, (2, 3))
    assert errors == []


def test_current_plane_fills_that_plane_of_a_stack_shaped_layer(qtbot, viewer_widget, errors):
    viewer, widget = viewer_widget
    stack = blocks((4, 48, 48))
    viewer.add_image(stack, name="stack", scale=(3, 1, 1))
    assert not widget._extent.native.isHidden()
    widget._extent.value = "current plane"
    configure(widget, "kmeans", n_clusters=3)
    viewer.dims.set_current_step(0, 2)
    run_to_end(qtbot, widget)
    result = viewer.layers["stack kmeans"]
    assert result.data.shape == stack.shape
    assert result.metadata["plane"] == {0: 2}
    assert (result.data[2] > 0).all()
    assert not result.data[[0, 1, 3]].any()

    viewer.dims.set_current_step(0, 0)
    run_to_end(qtbot, widget)
    assert viewer.layers["stack kmeans"] is result  # updated, not a new layer
    assert (result.data[[0, 2]] > 0).all() and not result.data[[1, 3]].any()
    assert [r["plane"] for r in result.metadata["runs"]] == [{0: 2}, {0: 0}]

    widget._extent.value = "whole stack"
    widget._new_layer.value = True
    run_to_end(qtbot, widget)
    whole = viewer.layers[-1]
    assert whole is not result and whole.name.startswith("stack kmeans")
    assert (whole.data > 0).all() and whole.metadata["plane"] is None
    assert errors == []


def test_running_again_updates_the_layer_unless_asked_for_a_new_one(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    configure(widget, "kmeans", n_clusters=2)
    run_to_end(qtbot, widget)
    first = viewer.layers["img kmeans"]
    widget.param_widgets["n_clusters"].value = 4
    run_to_end(qtbot, widget)
    assert len(viewer.layers) == 2 and viewer.layers["img kmeans"] is first
    assert first.data.max() == 4 and first.metadata["params"]["n_clusters"] == 4
    assert len(first.metadata["runs"]) == 2
    widget._new_layer.value = True
    run_to_end(qtbot, widget)
    assert len(viewer.layers) == 3 and first.data.max() == 4


def test_a_users_layer_with_the_output_name_is_left_alone(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    mine = viewer.add_labels(np.zeros((64, 64), np.int32), name="img kmeans")
    configure(widget, "kmeans")
    run_to_end(qtbot, widget)
    assert not mine.data.any() and mine.metadata == {}
    assert len(viewer.layers) == 3 and viewer.layers[-1].metadata["method"] == "kmeans"


def _wait_for_preview(qtbot, viewer, name):
    def has_preview():
        return name in viewer.layers and viewer.layers[name].data.max() > 0

    qtbot.waitUntil(has_preview, timeout=60_000)
    return viewer.layers[name]


def test_cnn_shows_a_live_preview_and_cancel_stops_it(qtbot, viewer_widget, errors):
    viewer, widget = viewer_widget
    image = blocks()
    original = image.copy()
    viewer.add_image(image, name="img", scale=SCALE, translate=TRANSLATE)
    configure(widget, "cnn", **ENDLESS)
    widget.run()
    stopped = []  # stamped in the worker thread itself, as it ends
    widget._run.worker.finished.connect(
        lambda: stopped.append(time.perf_counter()), Qt.ConnectionType.DirectConnection
    )

    preview = _wait_for_preview(qtbot, viewer, "img cnn (preview)")
    assert widget.is_running and widget._run_button.text == "Cancel"
    np.testing.assert_allclose(preview.scale, SCALE)
    np.testing.assert_allclose(preview.translate, TRANSLATE)
    first = preview.data.copy()
    updates = []
    preview.events.data.connect(lambda event: updates.append(time.perf_counter()))
    qtbot.waitUntil(lambda: len(updates) >= 2, timeout=5_000)  # refreshed at least once a second
    assert "labels" in widget._status.value and "iteration" in widget._status.value
    assert first.shape == image.shape

    clicked = time.perf_counter()
    widget._run_button.native.click()  # the Run button is Cancel now
    qtbot.waitUntil(lambda: bool(stopped), timeout=1_000)
    assert stopped[0] - clicked < 1.0
    qtbot.waitUntil(lambda: not widget.is_running, timeout=2_000)
    assert [layer.name for layer in viewer.layers] == ["img"]
    assert widget._run_button.text == "Run" and widget._run_button.enabled
    assert "Cancelled" in widget._status.value and errors == []
    np.testing.assert_array_equal(viewer.layers["img"].data, original)

    configure(widget, "cnn", max_iter=3, n_channels=8)  # still usable afterwards
    run_to_end(qtbot, widget)
    assert [layer.name for layer in viewer.layers] == ["img", "img cnn"]
    assert errors == []


def test_cancelled_preview_is_kept_when_asked(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    configure(widget, "cnn", **ENDLESS)
    widget._keep_preview.value = True
    widget.run()
    _wait_for_preview(qtbot, viewer, "img cnn (preview)")
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=2_000)
    assert [layer.name for layer in viewer.layers] == ["img", "img cnn (cancelled preview)"]
    kept = viewer.layers["img cnn (cancelled preview)"]
    assert kept.metadata["cancelled_at_iteration"] >= 1 and kept.data.max() > 0


def test_switching_the_active_layer_mid_run_keeps_the_result_with_its_source(
    qtbot, viewer_widget, errors
):
    viewer, widget = viewer_widget
    first = viewer.add_image(blocks(seed=1), name="first", scale=(2, 2))
    second = viewer.add_image(blocks(seed=2), name="second")
    viewer.layers.selection.active = first
    assert widget._image.value is first
    configure(widget, "cnn", max_iter=30, patience=0, min_labels=0, n_channels=8)
    widget.run()
    qtbot.waitUntil(lambda: widget._run.last is not None, timeout=60_000)
    viewer.layers.selection.active = second
    assert widget._image.value is second  # the picker follows the active image
    qtbot.waitUntil(lambda: not widget.is_running, timeout=120_000)
    assert errors == []
    names = [layer.name for layer in viewer.layers]
    assert "first cnn" in names and "second cnn" not in names
    result = viewer.layers["first cnn"]
    assert result.metadata["source_layer"] == "first"
    np.testing.assert_allclose(result.scale, (2, 2))


@pytest.mark.parametrize(
    "bad, words",
    [(np.full((48, 48), 7, np.uint16), "constant"), (np.full((48, 48), np.nan), "NaN")],
    ids=["constant", "nan"],
)
def test_bad_input_notifies_in_plain_words_and_changes_no_layer(
    qtbot, viewer_widget, errors, bad, words
):
    viewer, widget = viewer_widget
    viewer.add_image(blocks((48, 48)), name="good")
    viewer.add_image(bad, name="bad")
    viewer.add_labels(np.ones((48, 48), np.int32), name="bad kmeans")  # the user's own
    before = snapshot(viewer)
    configure(widget, "kmeans")
    widget._image.value = viewer.layers["bad"]

    run_to_end(qtbot, widget)

    assert len(errors) == 1 and words in errors[0] and "'bad'" in errors[0]
    assert "Traceback" not in errors[0]
    assert_unchanged(viewer, before)
    assert widget._run_button.text == "Run" and widget._run_button.enabled

    widget._image.value = viewer.layers["good"]  # still usable
    run_to_end(qtbot, widget)
    assert viewer.layers[-1].name == "good kmeans" and len(errors) == 1


def test_out_of_memory_is_reported_with_advice(qtbot, viewer_widget, errors, monkeypatch):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    before = snapshot(viewer)
    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    configure(widget, "kmeans")
    run_to_end(qtbot, widget)
    assert len(errors) == 1 and errors[0].startswith("Not enough memory to segment 'img'")
    assert_unchanged(viewer, before)


def test_error_wording():
    assert describe_error(MemoryError("x"), "img", "cnn").startswith("Not enough memory")
    gpu = describe_error(RuntimeError("CUDA error: an illegal memory access"), "img", "cnn")
    assert gpu.startswith("The GPU failed") and "'cpu'" in gpu
    assert describe_error(ValueError("image is constant"), "img", "gmm") == (
        "Cannot segment 'img' with gmm: image is constant"
    )
    assert "unexpectedly (KeyError" in describe_error(KeyError("k"), "img", "gmm")


def test_no_image_layer_is_a_notification_not_a_crash(viewer_widget, errors):
    viewer, widget = viewer_widget
    viewer.add_labels(np.zeros((8, 8), np.int32))
    widget.run()
    assert not widget.is_running and len(errors) == 1 and "image layer" in errors[0]


def test_scribble_button_adds_a_paintable_layer_over_the_image(viewer_widget):
    viewer, widget = viewer_widget
    cells = np.stack([blocks((48, 40), 1), blocks((48, 40), 2)])
    viewer.add_image(
        cells, name="cells", scale=(1, 0.5, 0.25), translate=(0, 3, 4), metadata={"channel_axis": 0}
    )
    widget._scribble_button.native.click()
    scribbles = viewer.layers["cells scribbles"]
    assert isinstance(scribbles, Labels)
    assert scribbles.data.shape == (48, 40) and not scribbles.data.any()
    np.testing.assert_allclose(scribbles.scale, (0.5, 0.25))
    np.testing.assert_allclose(scribbles.translate, (3, 4))
    assert viewer.layers.selection.active is scribbles
    assert scribbles.mode == "paint" and scribbles.selected_label == 1
    assert 2 <= scribbles.brush_size <= 10
    assert widget._scribbles.value is scribbles
    assert widget._image.value is viewer.layers["cells"]


SCRIBBLE_METHODS = [n for n, s in METHODS.items() if any(p.name == "scribbles" for p in s.params)]


def test_cnn_methods_take_scribbles(qtbot, viewer_widget, errors):
    assert SCRIBBLE_METHODS, "no registered method takes scribbles"
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    configure(widget, SCRIBBLE_METHODS[0], **FAST)
    scribbles = widget.add_scribbles_layer()
    scribbles.data[5:10, 5:30] = 1
    scribbles.data[40:45, 35:60] = 2
    painted = scribbles.data.copy()
    run_to_end(qtbot, widget)
    assert errors == []
    result = viewer.layers[f"img {SCRIBBLE_METHODS[0]}"]
    assert result.metadata["scribbles_layer"] == "img scribbles"
    np.testing.assert_array_equal(scribbles.data, painted)


@pytest.mark.parametrize("method", list(METHODS))
def test_form_follows_the_method(viewer_widget, method):
    _, widget = viewer_widget
    widget._method.value = method
    spec = METHODS[method]
    shown = [p.name for p in spec.params if p.kind != "array"]
    assert list(widget.param_widgets) == shown
    for param in spec.params:
        if param.kind == "array":
            continue
        field = widget.param_widgets[param.name]
        assert param.help in field.tooltip
        assert field.value == param.default
        if param.kind == "int" and param.max is not None and not param.special:
            assert field.max == param.max and field.min == param.min
        for special in param.special:
            assert isinstance(field, SpecialValueWidget)
            field.value = special
            assert field.value == special
            field.value = 5 if param.min is None else int(param.min) + 1
            assert field.value == (5 if param.min is None else int(param.min) + 1)
    has_scribbles = method in SCRIBBLE_METHODS
    assert widget._scribble_row.native.isHidden() is not has_scribbles
    assert widget._device.native.isHidden() is not spec.uses_torch


def test_cnn_form_shows_only_the_parameters_that_matter_now(viewer_widget):
    _, widget = viewer_widget
    widget._method.value = "cnn"
    fields = widget.param_widgets

    def hidden():
        return {name for name, field in fields.items() if field.native.isHidden()}

    assert hidden() == {"train_planes", "continuity_weight", "n_superpixels", "compactness"}
    fields["refinement"].value = "slic"
    assert {"n_superpixels", "compactness"}.isdisjoint(hidden()) and "graph_scale" in hidden()
    fields["weighting"].value = "fixed"
    assert "continuity_weight" not in hidden() and "p" in hidden()
    fields["stack_mode"].value = "reference"
    assert "train_planes" not in hidden()
    widget._method.value = "cnn-superpixel"  # no refinement choice: SLIC's settings apply
    assert {"n_superpixels", "compactness"}.isdisjoint(hidden())


def test_cnn_form_allows_auto_min_labels_and_lists_devices(viewer_widget):
    import torch

    _, widget = viewer_widget
    widget._method.value = "cnn"
    field = widget.param_widgets["min_labels"]
    field.value = "auto"
    assert field.value == "auto"
    devices = list(widget._device.choices)
    assert devices[:2] == ["auto", "cpu"]
    assert ("cuda" in devices) == torch.cuda.is_available()


def test_cnn_is_listed_first():
    assert next(iter(METHODS)) == "cnn"


def test_widget_module_does_not_import_torch():
    code = (
        "import sys, napari_unsupseg._widgets.segment;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
