"""Objects: one label per nucleus or cell, 0 = background, in 2D and 3D."""

import numpy as np
import pytest

import napari_unsupseg as us
from napari_unsupseg import objects
from napari_unsupseg._api import run_segmentation
from synthetic import touching_blobs


def _matched(labels, truth, threshold=0.8):
    """How many true objects have a predicted object with IoU above ``threshold``."""
    found = 0
    for t in range(1, truth.max() + 1):
        inside = truth == t
        ids, counts = np.unique(labels[inside], return_counts=True)
        best = ids[np.argmax(counts)]
        if (
            best
            and np.sum(inside & (labels == best)) / np.sum(inside | (labels == best)) > threshold
        ):
            found += 1
    return found


@pytest.mark.parametrize("method", ["kmeans", "cnn"])
def test_touching_disks_are_split_into_the_right_count(method):
    image, truth = touching_blobs((96, 96), radius=9.0)
    labels = us.segment(image, method, output="objects", device="cpu")
    assert labels.max() == truth.max() == 8
    assert _matched(labels, truth) == 8


def test_touching_spheres_are_split_into_the_right_count():
    image, truth = touching_blobs((32, 48, 48), radius=7.0)
    labels = us.segment(image, "kmeans", n_clusters=2, output="objects")
    assert labels.max() == truth.max() == 2
    assert _matched(labels, truth) == 2


def test_anisotropic_spacing_is_respected():
    """Balls round in physical units but flat in voxels (z step 3): with the spacing the
    radius is measured in those units and the pair splits; the ids overlay the truth."""
    image, truth = touching_blobs((16, 64, 64), radius=8.0, spacing=(3.0, 1.0, 1.0))
    result = run_segmentation(image, "kmeans", n_clusters=2, output="objects", spacing=(3, 1, 1))
    assert 6.0 <= result.plan.radius <= 10.0
    assert result.labels.max() == truth.max() == 2
    assert _matched(result.labels, truth) == 2
    flat = run_segmentation(image, "kmeans", n_clusters=2, output="objects")
    assert flat.plan.radius < result.plan.radius  # in voxels, z is short


def test_background_is_zero_and_objects_are_numbered_largest_first():
    image, truth = touching_blobs((96, 96), radius=9.0)
    labels = us.segment(image, "kmeans", n_clusters=2, output="objects")
    assert np.mean(labels[truth == 0] == 0) > 0.98
    assert np.all(labels[truth > 0] > 0)
    sizes = np.bincount(labels.ravel())[1:]
    assert np.all(np.diff(sizes) <= 0)


@pytest.mark.parametrize("method", ["kmeans", "cnn"])
def test_same_seed_same_objects(method):
    image, _ = touching_blobs((64, 64), radius=8.0, seed=3)
    first = us.segment(image, method, output="objects", seed=5, device="cpu")
    again = us.segment(image, method, output="objects", seed=5, device="cpu")
    np.testing.assert_array_equal(first, again)


def test_object_diameter_overrides_the_measured_scale():
    image, _ = touching_blobs((96, 96), radius=9.0)
    result = run_segmentation(image, "kmeans", n_clusters=2, output="objects", object_diameter=30)
    assert result.plan.radius == 15.0


def test_background_classes_override_the_automatic_rule():
    """Naming the bright class as background leaves the dark one as the only object."""
    image, truth = touching_blobs((64, 64), radius=8.0)
    result = run_segmentation(image, "kmeans", n_clusters=2, output="objects")
    foreground = objects.automatic_foreground(result.classes, result.plan.intensity)
    assert objects.background_classes_of(result.classes, foreground) == [1]
    inverted = us.segment(image, "kmeans", n_clusters=2, output="objects", background_classes=[2])
    assert inverted.max() == 1 and np.mean(inverted[truth == 0] == 1) > 0.95


def test_classes_regions_and_objects_from_one_run():
    image, _truth = touching_blobs((64, 64), radius=8.0)
    classes = us.segment(image, "kmeans", n_clusters=2, output="classes")
    regions = us.segment(image, "kmeans", n_clusters=2, output="regions")
    assert classes.max() == 2
    from skimage.measure import label

    np.testing.assert_array_equal(regions > 0, True)
    assert regions.max() == label(classes, background=-1, connectivity=1).max()


def test_auto_output_is_regions_for_rgb_and_objects_otherwise():
    image, _ = touching_blobs((64, 64), radius=8.0)
    grey = run_segmentation(image, "kmeans", n_clusters=2)
    assert grey.plan.kind == "objects" and grey.labels.min() == 0
    rgb = np.repeat((image[..., None] * 255).clip(0, 255).astype(np.uint8), 3, axis=-1)
    assert run_segmentation(rgb, "kmeans", n_clusters=2).plan.kind == "regions"
    series = np.stack([image[None]] * 2)  # 4 spatial axes: which one is time is unknown
    assert run_segmentation(series, "kmeans", n_clusters=2).plan.kind == "regions"
    with pytest.raises(ValueError, match="objects are made in 2D and 3D"):
        run_segmentation(series, "kmeans", n_clusters=2, output="objects")


def test_uneven_background_is_flattened():
    """Disks on a glow brighter than themselves: a global threshold takes the glow for
    one object; the background is flattened first and the disks are found."""
    image, truth = touching_blobs((128, 128), radius=6.0, noise=0.03)
    yy, xx = np.mgrid[:128, :128]
    image = image + 1.5 * np.exp(-((yy - 64.0) ** 2 + (xx - 40.0) ** 2) / (2 * 60.0**2))
    result = run_segmentation(image, "kmeans", n_clusters=2, output="objects", object_diameter=12)
    assert result.plan.flatten
    assert _matched(result.labels, truth, threshold=0.5) >= truth.max() - 2
    plain = objects.objects_from_classes(
        us.segment(image, "kmeans", n_clusters=2, output="classes"), image, 6.0
    )
    assert _matched(plain, truth, threshold=0.5) < truth.max() / 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"output": "cells"}, "output must be one of"),
        ({"output": "objects", "spacing": (1.0, 2.0, 3.0)}, "spacing has 3 value"),
        ({"output": "objects", "spacing": (0.0, 1.0)}, "spacing must be positive"),
        ({"output": "objects", "object_diameter": -4}, "object_diameter must be a positive"),
        ({"output": "objects", "background_classes": [0]}, "class ids from 1 up"),
        ({"output": "objects", "background_classes": [7]}, "not among the classes found"),
    ],
)
def test_bad_output_settings_get_a_clear_message(kwargs, message):
    image, _ = touching_blobs((48, 48), radius=6.0)
    original = image.copy()
    with pytest.raises((ValueError, TypeError), match=message):
        us.segment(image, "kmeans", n_clusters=2, **kwargs)
    np.testing.assert_array_equal(image, original)


def test_segment_series_gives_objects_per_image():
    images = [touching_blobs((64, 64), radius=8.0, seed=s)[0] for s in (0, 1)]
    out = us.segment_series(images, "cnn", output="objects", device="cpu")
    truth = touching_blobs((64, 64), radius=8.0)[1]
    assert [lab.max() for lab in out] == [truth.max()] * 2


def test_regions_of_a_four_dimensional_image_are_face_connected_pieces():
    classes = np.ones((2, 3, 4, 5), np.int32)
    classes[0, :, :, :2] = 2  # one piece of class 2 in the first volume ...
    classes[1, 1, 1, 3] = 2  # ... another, alone, in the second
    regions = objects.connected_regions(classes)
    assert len(np.unique(regions)) == 3
    assert len(np.unique(regions[0, :, :, :2])) == 1 and regions[1, 1, 1, 3] != regions[0, 0, 0, 0]
