"""The label-transfer dock widget in a real napari viewer (run under Xvfb)."""

import numpy as np
import pytest
from napari.layers import Labels

from napari_unsupseg._widgets.transfer import TransferWidget
from napari_unsupseg.sample_data import cell_classes, cells, cells_other_microscope

SHORT = {"max_iter": 6, "warmup": 3}


@pytest.fixture
def scene(make_napari_viewer):
    """A viewer holding a 2-channel source with its classes, a 2D target and a stack."""
    viewer = make_napari_viewer()
    source, truth = cells(0, (64, 64), 2)
    target, _ = cells_other_microscope(1, (64, 64), 2)
    meta = {"metadata": {"channel_axis": 0}}
    viewer.add_image(source, name="source", **meta)
    viewer.add_labels(cell_classes(truth) * 3, name="classes")
    viewer.add_image(target, name="target", **meta)
    stack = np.stack([target, target[:, ::-1]], axis=1)  # (C, Z, Y, X)
    viewer.add_image(stack, name="stack", scale=(1, 2.0, 0.5, 0.5), **meta)
    widget = TransferWidget(viewer)
    viewer.window.add_dock_widget(widget, name="transfer")
    return viewer, widget


def configure(widget, viewer, targets, **params):
    widget._source.value = viewer.layers["source"]
    widget._labels.value = viewer.layers["classes"]
    widget._targets.value = [viewer.layers[name] for name in targets]
    widget._device.value = "cpu"
    for name, value in {**SHORT, **params}.items():
        widget.param_widgets[name].value = value


def test_transfer_labels_an_image_and_a_stack_with_the_source_ids(qtbot, scene, errors):
    viewer, widget = scene
    before = {layer.name: np.array(layer.data, copy=True) for layer in viewer.layers}
    configure(widget, viewer, ["target", "stack"])
    widget.run()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=120_000)
    assert not errors
    image, stack = viewer.layers["target transfer"], viewer.layers["stack transfer"]
    assert isinstance(image, Labels) and image.data.shape == (64, 64)
    assert stack.data.shape == (2, 64, 64) and tuple(stack.scale) == (2.0, 0.5, 0.5)
    assert set(np.unique(image.data)) <= {0, 3, 6}
    assert image.metadata["method"] == "transfer" and image.metadata["seed"] == 0
    assert image.metadata["source_labels_layer"] == "classes"
    assert stack.metadata["target_layer"] == "stack"
    assert not [layer for layer in viewer.layers if "preview" in layer.name]
    for name, data in before.items():  # the user's layers are untouched
        np.testing.assert_array_equal(viewer.layers[name].data, data)


def test_live_preview_then_cancel_gives_the_ui_back_and_adds_no_layer(qtbot, scene, errors):
    viewer, widget = scene
    configure(widget, viewer, ["target"], max_iter=100_000)
    n_layers = len(viewer.layers)
    widget.run()
    names = lambda: [layer.name for layer in viewer.layers]  # noqa: E731
    qtbot.waitUntil(lambda: "target transfer (preview)" in names(), timeout=60_000)
    preview = viewer.layers["target transfer (preview)"]
    assert preview.data.shape == (64, 64) and set(np.unique(preview.data)) <= {0, 3, 6}
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=5_000)
    assert widget._status.value.startswith("Cancelled")
    qtbot.wait(200)
    assert len(viewer.layers) == n_layers and not errors


def test_missing_choices_and_bad_layers_are_explained(qtbot, scene, errors):
    viewer, widget = scene
    configure(widget, viewer, [])
    widget.run()
    assert not widget.is_running and "at least one target" in errors[-1]
    viewer.add_labels(np.zeros((10, 10), dtype=np.int32), name="wrong")
    configure(widget, viewer, ["target"])
    widget._labels.value = viewer.layers["wrong"]
    widget.run()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=60_000)
    assert "source_labels have shape" in errors[-1]


@pytest.mark.parametrize("dock", ["transfer", "segment"])
def test_a_broken_torch_leaves_the_docks_usable_on_the_cpu(make_napari_viewer, monkeypatch, dock):
    """torch is asked for its devices when a dock that trains opens; if it cannot
    answer, the dock still opens, offering auto and cpu."""
    from napari_unsupseg import _device
    from napari_unsupseg._widgets.segment import SegmentWidget

    def broken():
        raise OSError("libtorch_cpu.so: cannot open shared object file")

    monkeypatch.setattr(_device, "available_devices", broken)
    viewer = make_napari_viewer()
    widget = (TransferWidget if dock == "transfer" else SegmentWidget)(viewer)
    assert list(widget._device.choices) == ["auto", "cpu"]


def test_the_pickers_offer_the_users_layers_not_the_plugins_drawings(make_napari_viewer):
    from napari_unsupseg._widgets._outputs import CREATED_BY

    viewer = make_napari_viewer()
    ours = {"created_by": CREATED_BY}
    viewer.add_image(np.zeros((8, 8)), name="photo")
    viewer.add_image(np.zeros((8, 8)), name="IoU heat map", metadata=ours)
    viewer.add_labels(np.zeros((8, 8), int), name="painted")
    viewer.add_labels(np.zeros((8, 8), int), name="photo cnn", metadata=ours)
    viewer.add_labels(np.zeros((8, 8), int), name="live", metadata={**ours, "preview": True})
    widget = TransferWidget(viewer)
    assert [name for name, _ in widget._image_choices()] == ["photo"]
    assert [name for name, _ in widget._labels_choices()] == ["painted", "photo cnn"]
