"""The segmentation widget on a dask-backed layer too big to load (the threshold is
lowered here): the whole array is segmented chunk by chunk into a Zarr-backed layer."""

import dask.array as da
import numpy as np
import pytest
from napari.layers import Labels

from napari_unsupseg import segment
from napari_unsupseg._widgets import _lazy
from napari_unsupseg._widgets.segment import SegmentWidget
from test_lazy import scene
from test_segment_widget import ENDLESS, configure, run_to_end


@pytest.fixture
def viewer_widget(make_napari_viewer, monkeypatch):
    monkeypatch.setattr(_lazy, "LAZY_MIN_PIXELS", 100 * 100)
    viewer = make_napari_viewer()
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="segment")
    return viewer, widget


def test_a_big_lazy_layer_gives_a_zarr_backed_labels_layer(qtbot, viewer_widget, errors):
    viewer, widget = viewer_widget
    lazy = da.from_array(scene(192), chunks=(96, 96, 3))
    viewer.add_image(lazy, name="scan", rgb=True)
    stages = []
    widget._relay.progressed.connect(lambda payload: stages.append(payload[1].stage))
    configure(widget, "cnn")
    run_to_end(qtbot, widget)
    assert not errors
    layer = viewer.layers["scan cnn"]
    assert isinstance(layer, Labels)
    assert isinstance(layer.data, da.Array)  # read from the Zarr store, chunk by chunk
    expected = segment(lazy, "cnn", output="regions").compute()
    np.testing.assert_array_equal(np.asarray(layer.data), expected)
    assert "chunks" in stages and "training" in stages
    assert layer.metadata["n_labels"] == expected.max()
    assert isinstance(viewer.layers["scan"].data, da.Array)  # the source stays lazy


def test_a_big_lazy_grey_layer_gets_objects(qtbot, viewer_widget, errors):
    """output auto on a grey layer: objects, chunk by chunk, as segment() gives them."""
    from test_lazy_objects import disks

    viewer, widget = viewer_widget
    image, truth = disks()
    lazy = da.from_array(image, chunks=(80, 80))
    viewer.add_image(lazy, name="nuclei")
    configure(widget, "kmeans")
    run_to_end(qtbot, widget)
    assert not errors
    layer = viewer.layers["nuclei kmeans"]
    assert isinstance(layer.data, da.Array)
    expected = segment(lazy, "kmeans", output="objects").compute()
    np.testing.assert_array_equal(np.asarray(layer.data), expected)
    assert layer.metadata["output_kind"] == "objects"
    assert layer.metadata["n_labels"] == truth.max()


def test_cancel_on_a_big_lazy_layer_adds_nothing(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(da.from_array(scene(128), chunks=(64, 64, 3)), name="scan", rgb=True)
    configure(widget, "cnn", **ENDLESS)
    widget.run()
    qtbot.waitUntil(
        lambda: widget._progress.value > 0 or widget._run.last is not None, timeout=60_000
    )
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=60_000)
    assert [layer.name for layer in viewer.layers] == ["scan"]


def test_the_temporary_zarr_goes_with_the_layer(qtbot, viewer_widget, tmp_path, monkeypatch):
    import gc
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    viewer, widget = viewer_widget
    viewer.add_image(da.from_array(scene(128), chunks=(64, 64, 3)), name="scan", rgb=True)
    configure(widget, "kmeans")
    run_to_end(qtbot, widget)
    (folder,) = tmp_path.glob("unsupseg-*")
    assert (folder / "labels.zarr").is_dir()
    viewer.layers.remove("scan kmeans")
    gc.collect()
    qtbot.waitUntil(lambda: not folder.exists(), timeout=10_000)


def test_cancel_while_writing_removes_the_temporary_zarr(tmp_path, monkeypatch):
    import tempfile
    from types import SimpleNamespace

    from napari_unsupseg._progress import SegmentationCancelled

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    job = SimpleNamespace(
        image=da.from_array(scene(128), chunks=(32, 32, 3)), method="kmeans", output={},
        channel_axis=None, seed=0, threads=1, params={},
    )  # fmt: skip
    stages = []

    def progress(event):
        stages.append(event.stage)

    with pytest.raises(SegmentationCancelled):
        _lazy.run_chunked(job, progress, lambda: "chunks" in stages, "cpu")
    assert "chunks" in stages  # cancelled while writing, after the folder was made
    assert not list(tmp_path.iterdir())
