"""evaluate() on bad input: a valid score or a clear ValueError/TypeError, inputs untouched.

Each test here backs a row of docs/bad-inputs.md.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_unsupseg.evaluation import evaluate

TRUTH = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


@pytest.mark.parametrize(
    ("labels", "truth", "error", "message"),
    [
        (np.zeros((0, 4), int), TRUTH, ValueError, "labels is empty"),
        (TRUTH, np.zeros((0, 4), int), ValueError, "ground truth is empty"),
        (np.int64(3), TRUTH, ValueError, "scalar"),
        (TRUTH[:3], TRUTH, ValueError, "same shape"),
        (TRUTH, TRUTH.T[:, :3], ValueError, "same shape"),
        (TRUTH, np.stack([TRUTH[:3]] * 2), ValueError, "stack of annotators"),
        (TRUTH.astype(complex), TRUTH, TypeError, "integer label image"),
        (TRUTH.astype(str), TRUTH, TypeError, "integer label image"),
        (TRUTH.astype(object), TRUTH, TypeError, "integer label image"),
        (TRUTH * 0.5, TRUTH, ValueError, "fractional"),
        (np.where(TRUTH == 1, np.nan, TRUTH), TRUTH, ValueError, "NaN"),
        (TRUTH, np.where(TRUTH == 1, np.inf, TRUTH), ValueError, "infinite"),
        (np.where(TRUTH == 1, 2.0**63, TRUTH), TRUTH, ValueError, "64-bit integer range"),
    ],
    ids=[
        "empty-labels",
        "empty-truth",
        "scalar",
        "fewer-rows",
        "transposed-truth",
        "annotator-stack-wrong-shape",
        "complex",
        "strings",
        "objects",
        "intensities-not-labels",
        "nan",
        "inf",
        "float-beyond-int64",
    ],
)
def test_bad_labels_get_clear_errors(labels, truth, error, message):
    labels_before, truth_before = np.copy(labels), np.copy(truth)
    with pytest.raises(error, match=message):
        evaluate(labels, truth)
    np.testing.assert_array_equal(labels, labels_before)
    np.testing.assert_array_equal(truth, truth_before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thresholds": ()}, "at least one"),
        ({"thresholds": (0.0,)}, r"\(0, 1\]"),
        ({"thresholds": (1.5,)}, r"\(0, 1\]"),
        ({"thresholds": (float("nan"),)}, r"\(0, 1\]"),
        ({"thresholds": ("high",)}, "could not convert"),
    ],
)
def test_bad_thresholds_get_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate(TRUTH, TRUTH, **kwargs)


def test_all_background_truth_is_scored_as_stardist_scores_it():
    # No ground-truth object: no true positive and no false negative, every predicted
    # object a false positive; where 0 is also background for the region metrics
    # there is nothing for them to score (NaN).
    result = evaluate(TRUTH, np.zeros_like(TRUTH), ignore_background=True)
    assert (result["tp@0.5"], result["fp@0.5"], result["fn@0.5"]) == (0, 4, 0)
    assert result["f1@0.5"] == result["pq@0.5"] == result["seg"] == 0.0
    assert math.isnan(result["miou"]) and math.isnan(result["covering"])


def test_ignore_background_other_than_none_true_or_false_is_refused():
    with pytest.raises(TypeError, match="ignore_background must be None"):
        evaluate(TRUTH, TRUTH, ignore_background="no")


@pytest.mark.parametrize(
    "ids",
    [
        np.array([-(2**63), -1, 10**12, 2**63 - 1], np.int64),
        np.array([0, 1, 2**63, 2**64 - 1], np.uint64),
        np.array([-5.0, 1e15, 0.0, 7.0]),
    ],
    ids=["int64-extremes", "uint64-beyond-int64", "whole-floats"],
)
def test_negative_and_huge_label_ids_score_like_small_ones(ids):
    # Only equality of ids matters: relabelling 1..4 to any four distinct ids changes
    # nothing, and never allocates a table indexed by raw ids.
    relabelled = ids[TRUTH - 1]
    prediction = TRUTH.copy()
    prediction[0, :2] = 2  # one mistake, so the scores are not all perfect
    options = {"boundary": True, "ignore_background": False}  # 0 is an id like the others
    expected = evaluate(prediction, TRUTH, **options)
    assert evaluate(ids[prediction - 1], relabelled, **options) == expected
    assert evaluate(prediction, relabelled, **options) == expected


def test_bool_labels_are_scored_as_zero_and_one():
    mask = TRUTH > 2
    assert evaluate(mask, mask)["miou"] == 1.0
    assert evaluate(mask, TRUTH)["n_gt"] == 4


@pytest.mark.parametrize(
    "shape", [(1,), (1, 1), (5,), (2, 3, 4, 2), (2, 1, 3, 2, 2)], ids=lambda s: f"{len(s)}d"
)
def test_one_pixel_and_four_or_five_dimensional_labels_are_scored(shape):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, shape)
    result = evaluate(labels, labels, boundary=True, split_components=False)
    assert result["miou"] == 1.0 and result["rand_index"] == 1.0 and result["vi"] == 0.0


def test_four_dimensional_components_are_split_along_every_axis():
    labels = np.zeros((2, 1, 1, 3), int)
    labels[0, ..., 0] = labels[1, ..., 2] = 1  # two separate pieces of label 1
    truth = np.arange(6).reshape(labels.shape)
    # label 1: two pieces; label 0: one piece, (0, 1) and (1, 1) touching along axis 0
    assert evaluate(labels, truth)["n_pred"] == 3
    assert evaluate(labels, truth, split_components=False)["n_pred"] == 2


# ---------------------------------------------------------------- property-based

_DTYPES = [
    np.int8,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.bool_,
    np.complex64,
]
_UNIT_METRICS = [
    "miou",
    "miou_fine",
    "miou_coarse",
    "miou_hungarian",
    "covering",
    "rand_index",
    "are_precision",
    "are_recall",
    "seg",
    "precision@0.5",
    "recall@0.5",
    "f1@0.5",
    "pq@0.5",
    "boundary_precision",
    "boundary_recall",
    "boundary_f",
]


_REGION_METRICS = {
    "miou",
    "miou_fine",
    "miou_coarse",
    "miou_hungarian",
    "covering",
    "rand_index",
    "are_precision",
    "are_recall",
}


def _elements(dtype):
    if dtype.kind == "f":
        whole = st.integers(-1000, 1000).map(float)
        special = st.sampled_from([np.nan, np.inf, -np.inf, 0.5, 1e30])
        return st.one_of(whole, whole, special)  # mostly valid label values
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        extremes = st.sampled_from([int(info.min), int(info.max)])
        return st.one_of(st.integers(max(int(info.min), -3), min(int(info.max), 6)), extremes)
    return None


@st.composite
def label_pairs(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
    pred_dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    gt_dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    pred = draw(hnp.arrays(pred_dtype, shape, elements=_elements(pred_dtype)))
    gt_shape = draw(
        st.sampled_from(
            [shape, (draw(st.integers(1, 3)), *shape), shape[::-1], (*shape[:-1], 7)]
            if shape
            else [shape]
        )
    )
    truth = draw(hnp.arrays(gt_dtype, gt_shape, elements=_elements(gt_dtype)))
    return pred, truth


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pair=label_pairs(),
    split=st.booleans(),
    ignore_background=st.sampled_from([None, True, False]),
    boundary=st.booleans(),
)
def test_evaluate_returns_valid_scores_or_raises_clearly(pair, split, ignore_background, boundary):
    labels, truth = pair
    labels_before, truth_before = labels.copy(), truth.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no silent overflow or 0/0
            result = evaluate(
                labels,
                truth,
                split_components=split,
                ignore_background=ignore_background,
                boundary=boundary,
            )
    except (ValueError, TypeError) as error:
        assert str(error)  # a message, not a bare exception
    else:
        # Region metrics have nothing to score only when 0 is background to them and
        # no annotator labelled a pixel: then they are NaN.
        nothing = ignore_background is True and result["n_gt"] == 0
        for key in _UNIT_METRICS:
            if key in result and not (nothing and key in _REGION_METRICS):
                assert 0.0 <= result[key] <= 1.0 + 1e-12, (key, result[key])
        assert nothing or -1.0 <= result["ari"] <= 1.0 + 1e-12, result["ari"]
        for key in ("vi", "vi_split", "vi_merge"):
            if not nothing:
                assert result[key] >= 0.0 and math.isfinite(result[key]), (key, result[key])
        assert result["n_pred"] >= 1 or ignore_background
        assert (result["n_gt"] >= 1 or nothing) and result["n_annotators"] >= 1
        assert min(result["tp@0.5"], result["fp@0.5"], result["fn@0.5"]) >= 0
        assert ("boundary_f" in result) == boundary
    assert labels.tobytes() == labels_before.tobytes()
    assert truth.tobytes() == truth_before.tobytes()


def test_an_annotator_who_labelled_nothing_is_not_the_coarse_one():
    """Found by the property test above: with 0 as background, an annotator whose every
    pixel is background has no scored segment; Coarse is the fewest *scored* segments,
    not NaN."""
    labels = np.array([[1, 1, 2, 2]])
    truth = np.array([[[0, 0, 0, 0]], [[1, 1, 2, 2]], [[1, 1, 1, 1]]])
    result = evaluate(labels, truth, ignore_background=True)
    assert result["miou_fine"] == 1.0
    assert result["miou_coarse"] == 0.5
