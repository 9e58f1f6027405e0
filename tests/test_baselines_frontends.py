"""IIC, W-Net and DIC (issue 18) through every front end: the segmentation widget in a
real napari viewer, ``unsupseg segment`` and ``unsupseg bench`` on real files. Each
finds the four blocks of the synthetic image (Kim mIoU at least 0.9) and gives the
labels that :func:`napari_unsupseg.segment` gives with the same seed.

``segment()`` and ``segment_series`` are tested in ``test_baselines.py``; known
answers, same seed same labels and stopping at the iteration asked for every CNN
method, these included, in ``test_cnn.py``.
"""

import csv
import time

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from qtpy.QtCore import Qt

import napari_unsupseg as us
from napari_unsupseg._widgets import segment as segment_module
from napari_unsupseg._widgets._worker import run_job
from napari_unsupseg._widgets.segment import SegmentWidget
from napari_unsupseg.cli import EXIT_OK, main
from napari_unsupseg.io import read_image, read_labels
from synthetic import best_match_miou, noisy_blocks
from test_baselines import BASELINES, QUICK

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def viewer_widget(make_napari_viewer, monkeypatch):
    shown = []
    monkeypatch.setattr(segment_module, "show_error", shown.append)

    def one_thread_run_job(*args, **kwargs):
        """The worker thread's torch thread count is its own (a pool thread keeps what
        it had); labels depend on it, so pin it to the test's one thread."""
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return run_job(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    monkeypatch.setattr(segment_module, "run_job", one_thread_run_job)
    viewer = make_napari_viewer()
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="segment")
    return viewer, widget, shown


def configure(widget, method, **params):
    widget._method.value = method
    for name, value in params.items():
        widget.param_widgets[name].value = value


@pytest.mark.parametrize("method", BASELINES)
def test_widget_finds_the_blocks_and_matches_the_api(qtbot, viewer_widget, method):
    viewer, widget, errors = viewer_widget
    image, truth = noisy_blocks(shape=(48, 48))
    viewer.add_image(image, name="img")
    configure(widget, method, **QUICK[method])
    widget._seed.value = 2

    widget.run()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=120_000)

    assert errors == []
    result = viewer.layers[f"img {method}"]
    assert best_match_miou(result.data, truth) >= 0.9
    assert result.metadata["params"] == {**result.metadata["params"], **QUICK[method]}
    direct = us.segment(image, method, seed=2, device="cpu", **QUICK[method])
    np.testing.assert_array_equal(result.data, direct)


@pytest.mark.parametrize("method", BASELINES)
def test_widget_shows_a_preview_and_cancel_stops_the_run(qtbot, viewer_widget, method):
    viewer, widget, errors = viewer_widget
    image, _ = noisy_blocks(shape=(48, 48))
    viewer.add_image(image, name="img")
    configure(widget, method, **{**QUICK[method], "max_iter": 100_000})
    if "min_labels" in widget.param_widgets:
        widget.param_widgets["min_labels"].value = 0
    widget.run()
    stopped = []  # stamped in the worker thread itself, as it ends
    widget._run.worker.finished.connect(
        lambda: stopped.append(time.perf_counter()), Qt.ConnectionType.DirectConnection
    )
    name = f"img {method} (preview)"
    qtbot.waitUntil(
        lambda: name in viewer.layers and viewer.layers[name].data.max() > 0, timeout=60_000
    )
    assert viewer.layers[name].data.shape == (48, 48)

    clicked = time.perf_counter()
    widget._run_button.native.click()  # the Run button is Cancel now
    qtbot.waitUntil(lambda: bool(stopped), timeout=2_000)
    assert stopped[0] - clicked < 1.0
    qtbot.waitUntil(lambda: not widget.is_running, timeout=2_000)
    assert [layer.name for layer in viewer.layers] == ["img"]
    assert "Cancelled" in widget._status.value and errors == []


def _params(method):
    return [item for k, v in QUICK[method].items() for item in ("--param", f"{k}={v}")]


@pytest.mark.parametrize("method", BASELINES)
def test_cli_segment_finds_the_blocks_and_matches_the_api(tmp_path, method):
    inputs = tmp_path / "in"
    inputs.mkdir()
    image, truth = noisy_blocks(shape=(48, 48))
    iio.imwrite(inputs / "blocks.png", image)
    out = tmp_path / "out"
    args = ["segment", str(inputs), "-m", method, *_params(method), "--seed", "1"]
    assert main([*args, "--device", "cpu", "-o", str(out), "-q"]) == EXIT_OK

    labels = read_labels(out / "blocks_labels.tif")
    assert best_match_miou(labels, truth) >= 0.9
    direct = us.segment(read_image(inputs / "blocks.png"), method, seed=1, **QUICK[method])
    np.testing.assert_array_equal(labels, direct)


def test_bench_scores_each_baseline_on_a_dataset(tmp_path):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "groundtruth").mkdir()
    for index in range(2):
        image, truth = noisy_blocks((48, 48), seed=index)
        iio.imwrite(data / "images" / f"img{index}.png", image)
        np.savez(data / "groundtruth" / f"img{index}.npz", segs=truth[None])
    specs = [f"{m}:" + ",".join(f"{k}={v}" for k, v in QUICK[m].items()) for m in BASELINES]
    out = tmp_path / "out"
    args = ["bench", str(data), "--methods", *specs, "--device", "cpu", "-o", str(out), "-q"]
    assert main(args) == EXIT_OK

    with (out / "bench.csv").open() as handle:
        summary = {row["method"]: row for row in csv.DictReader(handle)}
    assert set(summary) == set(specs)
    for spec in specs:
        row = summary[spec]
        assert int(row["images"]) == 2 and int(row["failed"]) == 0, spec
        assert float(row["miou_all"]) >= 0.9, spec
        assert float(row["seconds_mean"]) > 0
