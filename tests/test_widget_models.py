"""The docks' models are plain Python: importing them loads no Qt binding.

Each dock is a Qt form over a model of its run (:mod:`napari_unsupseg._widgets`
modules listed here); the model must run, and be tested, without a display.
"""

import subprocess
import sys

import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_unsupseg._widgets import _transfer_run
from napari_unsupseg._widgets._segment_run import SegmentRequest, plan_run

MODELS = [
    "_about",
    "_edited_layer",
    "_evaluate_run",
    "_inspect_model",
    "_layers",
    "_lazy",
    "_navigate",
    "_outputs",
    "_paint",
    "_progress_text",
    "_run",
    "_segment_run",
    "_transfer_run",
    "_wording",
    "_worker",
]
QT = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt", "napari._qt", "napari.qt")

# imports the models one by one and names the first after which a Qt module is loaded
_PROBE = """
import importlib, sys
qt = {qt!r}
for name in {models!r}:
    importlib.import_module("napari_unsupseg._widgets." + name)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in qt or m.startswith(qt))
    if loaded:
        sys.exit(f"{{name}} imports Qt: {{loaded[:5]}}")
"""


def test_the_widget_models_import_no_qt():
    code = _PROBE.format(qt=QT, models=MODELS)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_probe_sees_a_qt_import():
    """The probe is no formality: a module importing qtpy is caught by name."""
    code = _PROBE.format(qt=QT, models=["_runner"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0 and "_runner imports Qt" in done.stderr


def test_a_current_plane_run_is_planned_without_a_viewer():
    stack = np.arange(3 * 2 * 20 * 30, dtype=np.float32).reshape(3, 2, 20, 30)
    layer = Image(stack, name="cells", scale=(2.0, 1.0, 0.5, 0.5))
    scribbles = Labels(np.zeros((3, 20, 30), np.uint16), name="marks")
    scribbles.data[1, 5, 5] = 1
    request = SegmentRequest(
        layer=layer,
        method="cnn-continuity",
        channel=1,
        plane={0: 1},
        params={"max_iter": 5},
        scribbles=scribbles,
        output="classes",
        object_diameter=0.0,
        seed=3,
        threads=1,
        device="cpu",
    )
    run = plan_run(request)
    assert run.job.image.shape == (2, 20, 30) and run.job.channel_axis == 0
    np.testing.assert_array_equal(run.job.image, stack[1])
    assert run.job.params["scribbles"].shape == (20, 30)
    assert run.job.output == {"output": "classes", "spacing": (0.5, 0.5), "object_diameter": None}
    assert run.target == "cells cnn-continuity" and run.geometry.shape == (3, 20, 30)
    assert run.record["plane"] == {0: 1} and run.record["scribbles_layer"] == "marks"
    assert "scribbles" not in run.record["params"] and run.record["seed"] == 3
    assert run.preview_geometry().shape == (1, 20, 30)
    assert run.cancelled_text() == "Cancelled."


def test_a_transfer_without_targets_is_refused_before_any_work():
    source = Image(np.zeros((20, 20), np.float32), name="src")
    labels = Labels(np.zeros((20, 20), np.uint8), name="classes")
    with pytest.raises(ValueError, match="at least one target"):
        _transfer_run.plan_transfer(source, labels, [], {}, 0, "cpu")
    run = _transfer_run.plan_transfer(source, labels, [source], {}, 0, "cpu")
    assert run.job.image[0].shape == (20, 20, 1) and run.targets[0][0] == "src"
    assert run.record["source_labels_layer"] == "classes"


def test_the_label_count_is_taken_in_the_worker_not_on_the_gui_thread():
    """A lazy result is read from disk: the worker counts its labels once; the record
    the GUI thread writes reads that count and never the labels."""
    from napari_unsupseg._widgets._segment_run import result_record
    from napari_unsupseg._widgets._worker import Job, run_job

    image = np.zeros((40, 40), np.float32)
    image[10:30, 10:30] = 1.0
    job = Job(image, "kmeans", None, 0, "cpu", {"n_clusters": 2})
    outcome = run_job(job, lambda event: None, lambda: False)
    assert outcome.n_labels == int(outcome.labels.max()) >= 1

    class Unreadable:
        size = 1

        def max(self):
            raise AssertionError("labels read on the GUI thread")

    unread = type(outcome)(
        type(outcome.result)(Unreadable(), Unreadable(), outcome.result.plan), "cpu", 1.0, 7
    )
    run = type("Run", (), {"timing": lambda self, outcome: {}})()
    assert result_record(run, unread)["n_labels"] == 7
