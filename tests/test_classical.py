"""The classical segmenters recover known answers, deterministically."""

import numpy as np
import pytest

import napari_unsupseg as us
from synthetic import best_match_miou, noisy_blocks, stripes


def segment(image, method="cnn", **kwargs):
    """``us.segment`` asked for classes: these tests are about the engines' classes."""
    return us.segment(image, method, **{"output": "classes", **kwargs})


CLASSICAL = {
    "kmeans": {"n_clusters": 4},
    "gmm": {"n_components": 4},
    "felzenszwalb": {"scale": 500, "sigma": 0.8, "min_size": 100},
    "gmm+kmeans": {"n_components": 8, "n_clusters": 4},
}


@pytest.mark.parametrize("method", CLASSICAL)
def test_recovers_noisy_colour_blocks(method):
    image, truth = noisy_blocks()
    labels = segment(image, method, seed=0, **CLASSICAL[method])
    assert labels.shape == truth.shape and labels.dtype == np.int32
    assert best_match_miou(labels, truth) >= 0.9


@pytest.mark.parametrize("method", CLASSICAL)
def test_same_seed_same_labels(method):
    image, _ = noisy_blocks(seed=3)
    first = segment(image, method, seed=7, **CLASSICAL[method])
    second = segment(image, method, seed=7, **CLASSICAL[method])
    np.testing.assert_array_equal(first, second)


def test_labels_are_numbered_largest_first():
    image, _ = stripes(width=8)
    image[:, :40] = np.where(image[:, :40] > 0.5, 0.8, 0.2)  # make one class dominate
    labels = segment(image, "kmeans", n_clusters=2)
    counts = np.bincount(labels.ravel())[1:]
    assert list(np.unique(labels)) == [1, 2]
    assert counts[0] >= counts[1]


def test_grey_float_stripes_kmeans():
    image, truth = stripes()
    labels = segment(image, "kmeans", n_clusters=2)
    assert best_match_miou(labels, truth) >= 0.95


def test_spatial_weight_makes_compact_regions():
    from skimage.measure import label as connected

    noise = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    colour_only = segment(noise, "kmeans", n_clusters=4)
    with_position = segment(noise, "kmeans", n_clusters=4, spatial_weight=20.0)
    # On pure noise, colour alone gives speckle; position gives four compact regions.
    assert connected(colour_only, background=-1, connectivity=1).max() > 100
    assert connected(with_position, background=-1, connectivity=1).max() == 4


def test_stack_labels_consistent_across_planes():
    image, _ = noisy_blocks(shape=(48, 48))
    stack = np.stack([image, image[:, ::-1]])  # (Z, Y, X, RGB)
    labels = segment(stack, "kmeans", n_clusters=4)
    assert labels.shape == (2, 48, 48)
    # the same colour gets the same id in both planes
    np.testing.assert_array_equal(labels[0], labels[1][:, ::-1])


def test_felzenszwalb_on_stack_runs_per_plane():
    image, _ = noisy_blocks(shape=(48, 48))
    stack = np.stack([image, image])
    labels = segment(stack, "felzenszwalb", **CLASSICAL["felzenszwalb"])
    assert labels.shape == (2, 48, 48)
    assert not set(np.unique(labels[0])) & set(np.unique(labels[1]))


def test_sixteen_bit_two_channel_matches_eight_bit():
    from napari_unsupseg.sample_data import cells

    image, truth = cells(shape=(128, 128), n_cells=6)
    eight_bit = (image / image.max() * 255).astype(np.uint8)
    s16 = best_match_miou(segment(image, "kmeans", channel_axis=0, n_clusters=3), truth)
    s8 = best_match_miou(segment(eight_bit, "kmeans", channel_axis=0, n_clusters=3), truth)
    assert s16 >= 0.8
    assert abs(s16 - s8) < 0.05
