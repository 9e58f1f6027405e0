"""evaluate() on volumes, odd ids and dtypes, and inputs it must refuse or leave alone
(the brute-force references live in test_evaluate.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_unsupseg.evaluation import evaluate, segment_table
from test_evaluate import THRESHOLDS, labelings, reference


# ------------------------------------------------------------------ 3D, ids, dtypes
@settings(max_examples=25, deadline=None)
@given(pair=labelings(max_side=4, max_label=3, ndim=3), split=st.booleans())
def test_volumes_match_the_definitions_with_6_connectivity(pair, split):
    labels, truth = pair
    got = evaluate(labels, truth, split_components=split, thresholds=THRESHOLDS)
    ref = reference(labels, truth, split)
    assert got["n_pred"] == ref["n_pred"]
    assert got["miou"] == pytest.approx(ref["miou"])
    assert got["rand_index"] == pytest.approx(ref["rand_index"])
    assert got["vi"] == pytest.approx(ref["vi_split"] + ref["vi_merge"], abs=1e-9)


def test_a_volume_is_not_scored_plane_by_plane():
    """A tube through the stack is one segment in 3D, one per plane in 2D."""
    truth = np.zeros((3, 5, 5), int)
    truth[:, 1:4, 1:4] = 7
    got = evaluate(truth.copy(), truth, boundary=True)
    assert got["n_pred"] == 2 and got["miou"] == 1.0 and got["boundary_f"] == 1.0


@pytest.mark.parametrize(
    "dtype, ids",
    [
        (np.int64, [-(2**62), -1, 0, 2**62]),
        (np.int32, [-5, -1, 7, 2**31 - 1]),
        (np.uint64, [0, 1, 2**63, 2**64 - 1]),
        (np.uint8, [0, 1, 254, 255]),
    ],
)
def test_huge_and_negative_ids_are_just_ids(dtype, ids):
    rng = np.random.default_rng(7)
    small_truth = rng.integers(0, 4, (20, 20))
    small_labels = rng.integers(0, 4, (20, 20))
    table = np.array(ids, dtype=dtype)
    options = {"boundary": True, "ignore_background": False}  # 0 is just an id here
    expected = evaluate(small_labels, small_truth, **options)
    reversed_view = table[small_truth[::-1, ::-1]][::-1, ::-1]  # same values, not contiguous
    got = evaluate(table[small_labels], reversed_view, **options)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key
    rows = segment_table(table[small_labels], table[small_truth])
    assert sorted({row["gt_id"] for row in rows}) == sorted(int(i) for i in ids)


def test_negative_minus_one_is_not_skimage_background():
    """skimage.measure.label reads -1 as background unless ids are shifted first."""
    labels = np.array([[-1, -1, 3], [-1, 3, 3]])
    truth = np.array([[1, 1, 2], [1, 2, 2]])
    assert evaluate(labels, truth)["miou"] == 1.0


@pytest.mark.parametrize("truth_dtype", [bool, np.float32, np.uint16])
def test_bool_and_whole_float_labels_are_accepted(truth_dtype):
    truth = (np.arange(16).reshape(4, 4) % 4 < 2).astype(truth_dtype)
    assert evaluate(truth.astype(np.int8), truth)["miou"] == 1.0


@pytest.mark.parametrize(
    "labels, truth, message",
    [
        (np.zeros((4, 4)), np.zeros((4, 5)), "shape"),
        (np.zeros((4, 4)), np.zeros((2, 3, 4, 4)), "shape"),
        (np.full((4, 4), 0.5), np.zeros((4, 4)), "fractional"),
        (np.zeros((4, 4)), np.full((4, 4), np.nan), "NaN"),
        (np.zeros((4, 4), complex), np.zeros((4, 4)), "dtype"),
        (np.zeros(()), np.zeros(()), "scalar"),
        (np.zeros((0, 4)), np.zeros((0, 4)), "empty"),
    ],
)
def test_bad_inputs_are_refused_clearly(labels, truth, message):
    with pytest.raises((ValueError, TypeError), match=message):
        evaluate(labels, truth)


def test_thresholds_are_checked():
    truth = np.zeros((4, 4), int)
    with pytest.raises(ValueError, match="thresholds"):
        evaluate(truth, truth, thresholds=(0.0,))


def test_inputs_are_never_modified():
    rng = np.random.default_rng(2)
    labels = rng.integers(-3, 3, (16, 16))
    truth = np.stack([rng.integers(0, 4, (16, 16)) for _ in range(2)])
    copies = labels.copy(), truth.copy()
    evaluate(labels, truth, boundary=True, ignore_background=True)
    segment_table(labels, truth)
    np.testing.assert_array_equal(labels, copies[0])
    np.testing.assert_array_equal(truth, copies[1])


# ------------------------------------------------------------------ ignore_background
def test_ignore_background_scores_only_annotated_cells():
    """StarDist convention: GT 0 is not an object, predicted 0 is no object."""
    truth = np.zeros((6, 6), int)
    truth[1:3, 1:3] = 1
    labels = np.zeros((6, 6), int)
    labels[1:3, 1:4] = 5  # one cell, spilling 2 pixels into the background
    labels[5, 5] = 9  # a false positive in the background
    got = evaluate(labels, truth, ignore_background=True)
    assert got["n_gt"] == 1 and got["n_pred"] == 2
    assert got["miou"] == pytest.approx(4 / 6)
    assert (got["tp@0.5"], got["fp@0.5"], got["fn@0.5"]) == (1, 1, 0)
    assert got["covering"] == pytest.approx(4 / 6)
