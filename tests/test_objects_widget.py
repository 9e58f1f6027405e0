"""Objects in the segmentation widget: the output choice, the count, and re-picking
the background classes without a new run (a real napari viewer under Xvfb)."""

import numpy as np
import pytest

from napari_unsupseg._widgets.segment import SegmentWidget
from synthetic import touching_blobs


@pytest.fixture
def viewer_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="segment")
    return viewer, widget


def test_objects_run_counts_objects_and_remakes_them_from_other_classes(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    image, truth = touching_blobs((96, 96), radius=9.0)
    layer = viewer.add_image(image, name="nuclei", scale=(0.5, 0.5))
    original = image.copy()
    widget._image.value = layer
    widget._method.value = "kmeans"
    widget.param_widgets["n_clusters"].value = 2
    widget._output.value = "objects"
    assert not widget._diameter.native.isHidden()
    widget.run()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=60_000)

    result = viewer.layers["nuclei kmeans"]
    assert result.data.max() == truth.max() == 8
    assert tuple(result.scale) == (0.5, 0.5)
    assert result.metadata["output_kind"] == "objects"
    assert result.metadata["spacing"] == (0.5, 0.5)
    assert "8 objects" in widget._status.value
    np.testing.assert_array_equal(layer.data, original)

    picker = widget._background
    assert not picker.native.isHidden() and picker._select.value == [1]
    picker._select.value = [2]  # the bright class as background: one object, the rest
    picker.remake()
    qtbot.waitUntil(lambda: result.metadata.get("background_classes") == [2], timeout=30_000)
    assert result.data.max() == 1
    assert np.mean(result.data[truth == 0] == 1) > 0.95
    np.testing.assert_array_equal(layer.data, original)


def test_rgb_images_get_regions_and_no_object_settings(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    image, _ = touching_blobs((64, 64), radius=8.0)
    rgb = np.repeat((image[..., None] * 255).clip(0, 255).astype(np.uint8), 3, axis=-1)
    viewer.add_image(rgb, name="photo", rgb=True)
    widget._method.value = "kmeans"
    assert widget._diameter.native.isHidden()
    widget.run()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=60_000)
    assert viewer.layers["photo kmeans"].metadata["output_kind"] == "regions"
    assert widget._background.native.isHidden()
