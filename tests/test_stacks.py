"""Stacks, time series and lists of images come back with ids consistent across
planes, frames and images (issue 3), by 3D convolutions and by the 2020 reference
mode."""

import numpy as np
import pytest

import napari_unsupseg as us
from synthetic import COLOURS, best_match_miou, noisy_blocks


def segment(image, method="cnn", **kwargs):
    """``us.segment`` asked for classes: these tests are about the engines' classes."""
    return us.segment(image, method, **{"output": "classes", **kwargs})


def segment_series(images, method="cnn", **kwargs):
    return us.segment_series(images, method, **{"output": "classes", **kwargs})


pytestmark = pytest.mark.usefixtures("one_torch_thread")


QUICK = {"n_channels": 16, "max_iter": 100, "min_labels": 4, "continuity_weight": 5.0}
MODES = [{"stack_mode": "3d"}, {"stack_mode": "reference", "train_planes": 2}]


def assert_ids_consistent(labels, truth):
    """Every truth id (a colour) has one label everywhere: the same majority label in
    each plane, covering most of it, and different colours have different labels."""
    mapping = {}
    for plane_labels, plane_truth in zip(labels, truth, strict=True):
        for t in np.unique(plane_truth):
            inside = plane_labels[plane_truth == t]
            label = int(np.bincount(inside).argmax())
            assert np.mean(inside == label) >= 0.75
            assert mapping.setdefault(int(t), label) == label, f"colour {t} changed id"
    assert len(set(mapping.values())) == len(mapping)


def drifting_blocks_stack(n_planes=4, size=40, step=2, noise=12.0, seed=0):
    """Noisy colour quadrants whose corner drifts ``step`` pixels per plane, like
    objects through a z-stack: (Z, Y, X, RGB) uint8 and truth by colour, so that a
    colour's id must be the same in every plane."""
    rng = np.random.default_rng(seed)
    truth = np.empty((n_planes, size, size), dtype=np.int32)
    for z in range(n_planes):
        row, col = size // 2 - step * z, size // 2 + step * z
        truth[z, :row, :col], truth[z, :row, col:] = 1, 2
        truth[z, row:, :col], truth[z, row:, col:] = 3, 4
    stack = COLOURS[truth - 1] + rng.normal(0, noise, (*truth.shape, 3))
    return np.clip(stack, 0, 255).astype(np.uint8), truth


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m["stack_mode"])
def test_z_stack_ids_are_consistent_across_planes(mode):
    stack, truth = drifting_blocks_stack()
    labels = segment(stack, "cnn-continuity", seed=0, **QUICK, **mode)
    assert labels.shape == truth.shape and labels.dtype == np.int32
    assert_ids_consistent(labels, truth)


@pytest.mark.parametrize("seed", [0, 1])
def test_cnn_regions_of_a_colour_stack_keep_their_ids_across_planes(seed):
    """``cnn`` (defaults) on a colour stack in reference mode: the final region merge
    makes ids regions, and a region that continues through the planes keeps its id
    (touching counts across planes; one 2D network labels every plane alike)."""
    stack, truth = drifting_blocks_stack()
    labels = segment(stack, "cnn", seed=seed, stack_mode="reference", train_planes=2)
    assert labels.shape == truth.shape
    assert_ids_consistent(labels, truth)
    for plane_labels, plane_truth in zip(labels, truth, strict=True):
        assert best_match_miou(plane_labels, plane_truth) >= 0.9


def moving_square_series(n_frames=5, size=40, step=1, seed=0):
    """A bright 16-bit square drifting ``step`` pixels per frame over a dim background:
    (T, Y, X) uint16 and truth 1 (background) / 2 (square)."""
    rng = np.random.default_rng(seed)
    truth = np.ones((n_frames, size, size), dtype=np.int32)
    for t in range(n_frames):
        truth[t, 12:28, 10 + step * t : 26 + step * t] = 2
    signal = np.where(truth == 2, 3000.0, 500.0)
    return (signal + rng.normal(0, 60, truth.shape)).astype(np.uint16), truth


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m["stack_mode"])
def test_time_series_ids_are_consistent_across_frames(mode):
    series, truth = moving_square_series()
    params = {**QUICK, "min_labels": 2}
    labels = segment(series, "cnn-continuity", seed=0, **params, **mode)
    assert labels.shape == truth.shape
    assert_ids_consistent(labels, truth)
    for frame_labels, frame_truth in zip(labels, truth, strict=True):
        assert best_match_miou(frame_labels, frame_truth) >= 0.9


def test_reference_mode_labels_planes_it_never_trained_on():
    stack, truth = drifting_blocks_stack(n_planes=6)
    labels = segment(
        stack, "cnn-continuity", seed=0, stack_mode="reference", train_planes=1, **QUICK
    )
    assert_ids_consistent(labels, truth)


def test_segment_series_gives_consistent_ids_across_a_list_of_images():
    sizes = [(48, 48), (40, 56), (32, 32)]
    images, truths = [], []
    for seed, shape in enumerate(sizes):
        image, truth = noisy_blocks(shape=shape, seed=seed)
        turn = seed % 2  # the colours sit in different places in each image
        images.append(np.rot90(image, 2 * turn).copy())
        truths.append(np.rot90(truth, 2 * turn).copy())
    labels = segment_series(images, "cnn-continuity", seed=0, **QUICK)
    assert [lab.shape for lab in labels] == sizes
    assert all(lab.dtype == np.int32 for lab in labels)
    assert_ids_consistent(labels, truths)
    joint = np.concatenate([lab.ravel() for lab in labels])
    np.testing.assert_array_equal(np.unique(joint), np.arange(1, joint.max() + 1))


def test_segment_series_trains_on_some_images_and_labels_all():
    images = [noisy_blocks(shape=(40, 40), seed=s)[0] for s in range(3)]
    truths = [noisy_blocks(shape=(40, 40), seed=s)[1] for s in range(3)]
    labels = segment_series(images, "cnn-continuity", train_on=[0], seed=0, **QUICK)
    assert_ids_consistent(labels, truths)


def test_segment_series_same_seed_same_labels():
    images = [noisy_blocks(shape=(32, 32), seed=s)[0] for s in range(2)]
    params = {**QUICK, "max_iter": 20}
    first = segment_series(images, "cnn", seed=3, **params)
    second = segment_series(images, "cnn", seed=3, **params)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["cnn", "cnn+kmeans"])
def test_segment_series_cleans_labels_by_graph_superpixels_as_segment_does(method):
    from napari_unsupseg.superpixels import graph_superpixels

    images = [noisy_blocks((48, 48), seed=index)[0] for index in range(2)]
    labels = segment_series(images, method, seed=0)
    for image, result in zip(images, labels, strict=True):
        ids, n_ids = graph_superpixels((image / np.float32(255))[None], 100.0, 20)
        per_superpixel = [np.unique(result[ids[0] == k]).size for k in range(n_ids)]
        assert max(per_superpixel) == 1  # one label per superpixel, as in segment()
