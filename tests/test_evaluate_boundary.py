"""The boundary F-measure is the BSDS benchmark's (Martin, Fowlkes & Malik 2004;
Arbeláez et al. 2011): one-sided boundaries, the prediction thinned, pixels matched
one-to-one within 0.0075 x the diagonal, pooled over annotators as the benchmark
pools them, and empty boundaries scored 0. Its matching has bounded cost."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from skimage.morphology import thin

from napari_unsupseg.evaluation import _pixel_matching, evaluate
from napari_unsupseg.evaluation._boundary import boundary_map
from napari_unsupseg.evaluation._pixel_matching import match_pixels

KEYS = ("boundary_precision", "boundary_recall", "boundary_f")


def scores(labels, truth):
    got = evaluate(labels, truth, boundary=True)
    return tuple(got[key] for key in KEYS)


def seg2bdry_reference(seg):
    """The benchmark's recipe step by step, on a grid of twice the size plus one:
    edge elements between vertical and between horizontal neighbours, a corner lit
    when one of its four edge elements is, the outer rows and columns copied from
    the next ones in, then the corners that sit at the pixels' lower right."""
    h, w = seg.shape
    grid = np.zeros((2 * h + 1, 2 * w + 1))
    vertical = np.zeros((h, w), bool)
    vertical[:-1] = seg[:-1] != seg[1:]
    horizontal = np.zeros((h, w), bool)
    horizontal[:, :-1] = seg[:, :-1] != seg[:, 1:]
    grid[2::2, 1::2] = vertical
    grid[1::2, 2::2] = horizontal
    grid[2:-1:2, 2:-1:2] = np.maximum.reduce(
        [horizontal[:-1, :-1], horizontal[1:, :-1], vertical[:-1, :-1], vertical[:-1, 1:]]
    )
    grid[0], grid[:, 0] = grid[1], grid[:, 1]
    grid[-1], grid[:, -1] = grid[-2], grid[:, -2]
    return grid[2::2, 2::2] > 0


SMALL_SHAPES = st.tuples(st.integers(1, 9), st.integers(1, 9))


@settings(max_examples=80, deadline=None)
@given(arrays(np.int32, SMALL_SHAPES, elements=st.integers(0, 3)))
def test_boundaries_are_the_benchmarks_one_sided_map(seg):
    np.testing.assert_array_equal(boundary_map(seg), seg2bdry_reference(seg))


def test_one_sided_boundary_by_hand():
    seg = np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3]])
    expected = np.array([[0, 1, 0], [1, 1, 1], [0, 0, 0]], bool)  # last row: no edge in it
    np.testing.assert_array_equal(boundary_map(seg), expected)


def test_the_astronaut_pair_scores_as_the_bsds_benchmark():
    """The issue's pair: scikit-image's astronaut resized to 321 x 481 with
    ``resize(..., preserve_range=True).astype(np.uint8)`` (default anti-aliasing),
    SLIC with n_segments=250 (other settings default) against Felzenszwalb with
    scale=100, sigma=0.5, min_size=50. The BSDS benchmark code scores F 0.483 one
    way and 0.699 the other (a symmetric measure cannot)."""
    from skimage import data, segmentation, transform

    image = transform.resize(data.astronaut(), (321, 481), preserve_range=True)
    image = image.astype(np.uint8)
    slic = segmentation.slic(image, n_segments=250, start_label=1)
    felzenszwalb = segmentation.felzenszwalb(image, scale=100, sigma=0.5, min_size=50)
    assert scores(slic, felzenszwalb)[2] == pytest.approx(0.483, abs=0.005)
    assert scores(felzenszwalb, slic)[2] == pytest.approx(0.699, abs=0.005)


def test_identical_segmentations_give_the_benchmarks_value():
    """Only the prediction is thinned, so a prediction equal to the ground truth has
    every pixel matched (precision 1) but covers only the thinned share of the
    ground truth's boundary (recall |thin(B)| / |B|), as in the benchmark."""
    rng = np.random.default_rng(0)
    seeds = rng.integers(0, 60, (12, 2))
    yy, xx = np.mgrid[:60, :60]
    voronoi = np.argmin((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2, -1)
    raw = boundary_map(voronoi)
    share = np.count_nonzero(thin(raw)) / np.count_nonzero(raw)
    assert share < 1  # diagonal boundaries lose pixels to thinning
    precision, recall, f = scores(voronoi, voronoi)
    assert precision == 1.0 and recall == pytest.approx(share)
    assert f == pytest.approx(2 * share / (1 + share))
    bands = np.repeat(rng.permutation(8), 10)[None, :].repeat(50, axis=0)
    assert scores(bands, bands) == (1.0, 1.0, 1.0)  # straight lines: nothing to thin


def test_empty_boundaries_score_zero_as_in_the_benchmark():
    truth = np.kron(np.arange(4).reshape(2, 2), np.ones((20, 20), int))
    one = np.ones_like(truth)
    got = evaluate(one, truth, boundary=True)
    assert (got["boundary_pred"], got["boundary_pred_matched"]) == (0, 0)
    assert scores(one, truth) == (0.0, 0.0, 0.0)
    assert scores(truth, one) == (0.0, 0.0, 0.0)
    assert scores(one, one) == (0.0, 0.0, 0.0)


def test_a_shift_within_the_tolerance_is_found_and_beyond_is_not():
    truth = np.zeros((200, 200), int)  # tolerance 2.1 pixels
    truth[:, 100:] = 1
    shifted = np.zeros_like(truth)
    shifted[:, 102:] = 1
    assert scores(shifted, truth) == (1.0, 1.0, 1.0)
    far = np.zeros_like(truth)
    far[:, 110:] = 1
    assert scores(far, truth) == (0.0, 0.0, 0.0)


def test_annotators_pool_as_the_benchmark_pools_them():
    """Precision: predicted pixels matched by at least one annotator; recall: matched
    pixels over all annotators' boundary pixels (an empty annotator adds none)."""
    bands = np.repeat(np.arange(200) // 67, 1)[None, :].repeat(120, axis=0)  # edges x=66, 133
    left = (np.arange(200) > 66)[None, :].repeat(120, axis=0).astype(int)
    right = (np.arange(200) > 133)[None, :].repeat(120, axis=0).astype(int)
    blank = np.zeros_like(left)
    got = evaluate(bands, np.stack([left, right, blank]), boundary=True)
    assert got["boundary_pred"] == got["boundary_pred_matched"] == 240
    assert got["boundary_gt"] == got["boundary_gt_matched"] == 240
    assert got["boundary_precision"] == got["boundary_recall"] == 1.0
    alone = evaluate(bands, left, boundary=True)  # one annotator sees half the edges
    assert (alone["boundary_precision"], alone["boundary_recall"]) == (0.5, 1.0)


def test_volumes_are_not_thinned():
    truth = np.zeros((6, 20, 20), int)
    truth[:, 5:15, 3:11] = 1
    assert scores(truth, truth) == (1.0, 1.0, 1.0)


# ------------------------------------------------------------------ the matching
def dense_maximum_matching(pred_edge, gt_edge, radius):
    pred, gt = np.argwhere(pred_edge), np.argwhere(gt_edge)
    if not len(pred) or not len(gt):
        return 0
    near = cdist(pred, gt) <= radius
    rows, cols = linear_sum_assignment(near, maximize=True)
    return int(near[rows, cols].sum())


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    density=st.sampled_from([0.05, 0.2, 0.5]),
    radius=st.sampled_from([1.0, 1.5, 2.9]),
)
def test_the_matching_is_a_maximum_one_to_one_matching(seed, density, radius):
    rng = np.random.default_rng(seed)
    pred_edge = rng.random((24, 30)) < density
    gt_edge = rng.random((24, 30)) < density
    matched, count = match_pixels(pred_edge, gt_edge, radius)
    assert count == dense_maximum_matching(pred_edge, gt_edge, radius)
    assert matched.sum() == count and matched.size == pred_edge.sum()


def test_the_shifted_grid_returns_in_seconds():
    """A layered graph on which scipy's maximum_bipartite_matching never returned.
    Every predicted pixel lies within a pixel of the ground truth's grid, so all are
    matched: precision 1, recall the thinned prediction's share of the grid."""
    yy, xx = np.mgrid[:321, :481]
    truth = (yy // 64) * 100 + xx // 64
    start = time.perf_counter()
    for shifted in ((yy + 1) // 64 * 100 + xx // 64, (yy // 64) * 100 + (xx + 1) // 64):
        got = evaluate(shifted, truth, boundary=True)
        assert got["boundary_precision"] == 1.0
        assert got["boundary_gt_matched"] == got["boundary_pred"]
        assert got["boundary_recall"] > 0.99
    assert time.perf_counter() - start < 10


def test_too_many_pairs_are_refused_clearly(monkeypatch):
    rng = np.random.default_rng(1)
    pred_edge, gt_edge = rng.random((40, 40)) < 0.4, rng.random((40, 40)) < 0.4
    monkeypatch.setattr(_pixel_matching, "MAX_PAIRS", 100)
    with pytest.raises(ValueError, match=r"boundary F-measure .* 481 x 321"):
        match_pixels(pred_edge, gt_edge, 3.0)


def test_tolerance_is_that_of_the_benchmark():
    truth = np.zeros((321, 481), int)
    truth[:, 200:] = 1
    radius = 0.0075 * math.hypot(321, 481)  # 4.34 pixels
    for shift, found in ((int(radius), 1.0), (int(radius) + 1, 0.0)):
        shifted = np.zeros_like(truth)
        shifted[:, 200 + shift :] = 1
        assert scores(shifted, truth)[2] == found
