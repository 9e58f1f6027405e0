"""The segment widget on bad input and failed runs, in a real napari viewer (run under Xvfb).

Whatever goes wrong, the user gets one plain-words notification, no layer changes
(byte for byte), and the widget is usable again: Run button back, another run works.
Each test here backs a row of docs/bad-inputs.md; tests/test_segment_widget.py covers
constant and NaN images, a job refused by the memory estimate and Cancel.
"""

import numpy as np
import pytest

import test_segment_widget as segment_tests
from napari_unsupseg import InsufficientMemoryError, get_method
from napari_unsupseg._widgets import _worker
from test_segment_widget import (
    ENDLESS,
    _wait_for_preview,
    assert_unchanged,
    blocks,
    configure,
    run_to_end,
    snapshot,
)

# The fixture of test_segment_widget.py: a viewer with the widget docked (the error
# notifications it shows are conftest's ``errors``).
viewer_widget = segment_tests.viewer_widget

QUICK_CNN = {"max_iter": 3, "n_channels": 8}


def assert_usable(qtbot, viewer, widget, errors):
    """Run button back; a good image segments without a new notification."""
    assert not widget.is_running
    assert widget._run_button.text == "Run" and widget._run_button.enabled
    shown = len(errors)
    if "good" not in viewer.layers:
        viewer.add_image(blocks((32, 32)), name="good")
    widget._image.value = viewer.layers["good"]
    configure(widget, "kmeans", n_clusters=2)
    run_to_end(qtbot, widget)
    assert viewer.layers[-1].name == "good kmeans" and len(errors) == shown


def _six_dims():
    return np.arange(2**6 * 16, dtype=np.float32).reshape(2, 2, 2, 2, 2, 32) % 7


@pytest.mark.parametrize(
    ("data", "setup", "words"),
    [
        (np.array([[3.0]]), {}, "single pixel"),
        (np.zeros((24, 24), bool), {}, "constant"),
        (_six_dims(), {"run_on": "whole stack"}, "image has 6 spatial dimensions"),
    ],
    ids=["one-pixel", "constant-bool", "six-dims"],
)
def test_image_that_cannot_be_segmented_notifies_and_changes_no_layer(
    qtbot, viewer_widget, errors, data, setup, words
):
    viewer, widget = viewer_widget
    viewer.add_image(data, name="bad")
    before = snapshot(viewer)
    configure(widget, "kmeans", n_clusters=2)
    widget._image.value = viewer.layers["bad"]
    if "run_on" in setup:
        widget._extent.value = setup["run_on"]

    run_to_end(qtbot, widget)

    assert len(errors) == 1, errors
    assert errors[0].startswith("Cannot segment 'bad' with kmeans:") and words in errors[0]
    assert "Traceback" not in errors[0]
    assert_unchanged(viewer, before)
    assert_usable(qtbot, viewer, widget, errors)


@pytest.mark.parametrize("axis", [0, 7, "c"], ids=["too-long-for-channels", "out-of-range", "text"])
def test_wrong_channel_axis_in_layer_metadata_is_ignored(viewer_widget, errors, axis):
    viewer, widget = viewer_widget
    stack = np.random.default_rng(0).random((40, 24, 24))  # 40 planes, not 40 channels
    viewer.add_image(stack, name="stack", metadata={"channel_axis": axis})
    assert widget._image.value is viewer.layers["stack"]
    assert widget._channel.value is None
    assert 0 not in widget._channel.choices  # 40 entries: more than 32 channels
    assert errors == []


def test_labels_layers_are_not_offered_as_images(viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_labels(np.ones((16, 16), np.int32), name="cells")
    viewer.add_image(blocks((16, 16)), name="img")
    assert [name for name, _ in widget._image_choices()] == ["img"]


@pytest.fixture
def cnn_fails_once(swap_spec):
    """The first CNN run raises the error put in the returned list; later runs are real."""
    real = get_method("cnn").run
    pending = []

    def engine(features, **kwargs):
        if pending:
            raise pending.pop()
        return real(features, **kwargs)

    swap_spec("cnn", run=engine)
    return pending


def _torch_cuda_oom():
    import torch

    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")


@pytest.mark.parametrize(
    "make_error",
    [_torch_cuda_oom, lambda: RuntimeError("CUDA out of memory. Tried to allocate 8.00 GiB")],
    ids=["torch-OutOfMemoryError", "runtime-error-text"],
)
def test_gpu_out_of_memory_notifies_plainly_and_the_next_run_works(
    qtbot, viewer_widget, errors, cnn_fails_once, make_error
):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    before = snapshot(viewer)
    configure(widget, "cnn", **QUICK_CNN)
    cnn_fails_once.append(make_error())

    run_to_end(qtbot, widget)

    assert len(errors) == 1
    message = errors[0]
    assert message.startswith("Not enough memory to segment 'img' with cnn.")
    assert "GPU memory" in message and "device='cpu'" in message
    assert "Traceback" not in message
    assert_unchanged(viewer, before)
    assert widget._run_button.text == "Run" and widget._run_button.enabled

    run_to_end(qtbot, widget)  # the same run again, now without the failure
    assert [layer.name for layer in viewer.layers] == ["img", "img cnn"]
    assert len(errors) == 1
    np.testing.assert_array_equal(viewer.layers["img"].data, before[0][2])


@pytest.mark.parametrize(
    ("error", "start"),
    [
        (InsufficientMemoryError("needs 40 GiB. About 5% of this job would fit"), "Not enough"),
        (RuntimeError("CUDA out of memory. Tried to allocate 1 GiB"), "Not enough memory"),
        (RuntimeError("CUDA error: an illegal memory access"), "The GPU failed"),
        (KeyError("internal"), "Segmenting 'img' with kmeans failed unexpectedly"),
    ],
    ids=["insufficient-memory", "raw-cuda-oom", "cuda-failure", "unexpected"],
)
def test_any_engine_failure_gives_one_notification_and_a_usable_widget(
    qtbot, viewer_widget, errors, monkeypatch, error, start
):
    viewer, widget = viewer_widget
    viewer.add_image(blocks((32, 32)), name="img")
    before = snapshot(viewer)

    def failing_segment(*args, **kwargs):
        raise error

    monkeypatch.setattr(_worker, "run_segmentation", failing_segment)
    configure(widget, "kmeans", n_clusters=2)
    run_to_end(qtbot, widget)

    assert len(errors) == 1 and errors[0].startswith(start), errors
    assert "Failed" in widget._status.value
    assert_unchanged(viewer, before)
    monkeypatch.undo()
    assert_usable(qtbot, viewer, widget, errors)


def test_cancel_leaves_the_previous_result_and_the_image_byte_for_byte(
    qtbot, viewer_widget, errors
):
    viewer, widget = viewer_widget
    viewer.add_image(blocks(), name="img")
    configure(widget, "cnn", **QUICK_CNN)
    run_to_end(qtbot, widget)
    before = snapshot(viewer)  # the image and the first result
    metadata = dict(viewer.layers["img cnn"].metadata)

    configure(widget, "cnn", **ENDLESS)
    widget.run()
    _wait_for_preview(qtbot, viewer, "img cnn (preview)")
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=2_000)

    assert_unchanged(viewer, before)  # no half-made layer, the earlier result untouched
    assert viewer.layers["img cnn"].metadata == metadata
    assert "Cancelled" in widget._status.value and errors == []
    assert_usable(qtbot, viewer, widget, errors)
