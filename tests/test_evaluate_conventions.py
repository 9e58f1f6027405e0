"""Each metric reads label 0 as its community does, and degenerate cases get the
answers of the tools people compare with: StarDist's ``matching`` for F1 and PQ, the
Cell Tracking Challenge for SEG, BSDS for region metrics, scikit-learn for ARI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from napari_unsupseg.evaluation import evaluate, segment_table

THRESHOLDS = (0.1, 0.3, 0.5, 0.7)
PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REGION = ("miou", "miou_hungarian", "covering", "rand_index", "ari", "vi", "are_precision")


def stardist(y_true, y_pred, thresh, exact_tie=0.0):
    """StarDist's ``matching`` (stardist/matching.py), restated: IoU of every pair of
    non-zero labels, one assignment minimising -[IoU >= T] - IoU / (2 n); its pairs
    reaching T are the true positives. ``exact_tie`` adds the last tie-break used here."""
    true_ids, true_index = np.unique(y_true, return_inverse=True)
    pred_ids, pred_index = np.unique(y_pred, return_inverse=True)
    overlap = np.zeros((true_ids.size, pred_ids.size))
    np.add.at(overlap, (true_index.ravel(), pred_index.ravel()), 1)
    union = overlap.sum(0, keepdims=True) + overlap.sum(1, keepdims=True) - overlap
    scores = (overlap / union)[true_ids != 0][:, pred_ids != 0]
    n_true, n_pred = scores.shape
    n_matched = min(n_true, n_pred)
    tp, matched = 0, 0.0
    if n_matched and (scores >= thresh).any():
        above = scores >= thresh
        costs = -(above * (1 + exact_tie * scores)) - scores / (2 * n_matched)
        rows, cols = linear_sum_assignment(costs)
        ok = scores[rows, cols] >= thresh
        tp, matched = int(ok.sum()), float(scores[rows, cols][ok].sum())
    fp, fn = n_pred - tp, n_true - tp
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp > 0 else 0,
        "recall": tp / (tp + fn) if tp > 0 else 0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0,
        "pq": matched / (tp + fp / 2 + fn / 2) if tp + fp / 2 + fn / 2 > 0 else 0.0,
    }


def label_pairs(max_side=8, max_label=5):
    shape = st.tuples(st.integers(1, max_side), st.integers(1, max_side))
    return shape.flatmap(
        lambda s: st.tuples(
            arrays(np.int32, s, elements=st.integers(0, max_label)),
            arrays(np.int32, s, elements=st.integers(0, max_label)),
        )
    )


@PROPERTY
@given(pair=label_pairs())
def test_matching_scores_are_stardists(pair):
    """Labels as given (StarDist does not split them); where StarDist's rule leaves an
    exact tie that moves PQ, the higher matched IoU is taken (label order decides in
    StarDist)."""
    truth, labels = pair
    got = evaluate(labels, truth, split_components=False, thresholds=THRESHOLDS)
    for t in THRESHOLDS:
        plain = stardist(truth, labels, t)
        canonical = stardist(truth, labels, t, exact_tie=1e-9)
        assert plain["tp"] == canonical["tp"]
        for key, value in canonical.items():
            assert got[f"{key}@{t:g}"] == pytest.approx(value), (key, t)
            if key != "pq" or plain["pq"] == pytest.approx(canonical["pq"]):
                assert got[f"{key}@{t:g}"] == pytest.approx(plain[key]), (key, t)


def test_pq_below_one_half_breaks_ties_as_stardist():
    """Ground truth 3 overlaps prediction 3 (IoU 1/2) and prediction 1 (1/4); ground
    truth 1 overlaps prediction 3 only (1/3). At T = 0.3 one true positive either
    way, and StarDist takes the assignment of higher total IoU, the pair below T
    included: GT 1 - pred 3 (1/3) with GT 3 - pred 1 (1/4) beats GT 3 - pred 3 (1/2)
    alone. PQ is then (1/3) / 2.5, not (1/2) / 2.5."""
    truth = np.array([[2, 0, 3, 3, 3, 1]])
    labels = np.array([[0, 1, 1, 3, 3, 3]])
    got = evaluate(labels, truth, split_components=False, thresholds=(0.3,))
    assert (got["tp@0.3"], got["fp@0.3"], got["fn@0.3"]) == (1, 1, 2)
    assert got["pq@0.3"] == pytest.approx((1 / 3) / 2.5) == stardist(truth, labels, 0.3)["pq"]


def test_an_all_background_annotator_has_no_objects_as_in_stardist():
    labels = np.zeros((10, 10), int)
    labels[2:5, 2:5], labels[6:9, 6:9] = 1, 2
    empty = np.zeros_like(labels)
    got = evaluate(labels, empty, thresholds=(0.5,))
    assert (got["tp@0.5"], got["fp@0.5"], got["fn@0.5"]) == (0, 2, 0)
    for key in ("precision", "recall", "f1", "pq"):
        assert got[f"{key}@0.5"] == stardist(empty, labels, 0.5)[key] == 0
    assert got["seg"] == 0.0  # no object to average over
    assert got["n_gt"] == 1 and got["miou"] > 0  # region metrics: 0 is a segment
    everywhere = evaluate(labels, empty, ignore_background=True)
    assert everywhere["tp@0.5"] == everywhere["fn@0.5"] == 0 and everywhere["n_gt"] == 0
    for key in REGION:
        assert math.isnan(everywhere[key]), key  # nothing to score
    with_a_cell = np.stack([empty, labels])  # pooled over annotators, the empty one adds none
    pooled = evaluate(labels, with_a_cell, ignore_background=True)
    assert pooled["miou"] == 1.0 and pooled["covering"] == 1.0


def test_seg_is_the_cell_tracking_challenges():
    """CTC SEG: mean over reference objects of the IoU with the predicted object
    covering more than half of it; the background is not an object."""
    truth = np.zeros((12, 12), int)
    truth[1:5, 1:5], truth[6:11, 6:11] = 1, 2
    labels = np.zeros_like(truth)
    labels[1:5, 1:4] = 7  # covers 12 of 16 pixels: IoU 12/16
    labels[6:8, 6:11] = 8  # covers 10 of 25: not more than half, scores 0
    got = evaluate(labels, truth)
    assert got["seg"] == pytest.approx((12 / 16 + 0) / 2)
    # With 0 a segment, prediction 0 (122 px) covers GT 0 (103 px) and 15 of GT 2's 25.
    as_segment = evaluate(labels, truth, ignore_background=False)
    assert as_segment["seg"] == pytest.approx((12 / 16 + 15 / 132 + 103 / 122) / 3)


def test_region_metrics_score_label_zero_as_bsds_does():
    rng = np.random.default_rng(3)
    truth, labels = rng.integers(0, 4, (20, 20)), rng.integers(0, 4, (20, 20))
    default = evaluate(labels, truth)
    as_segment = evaluate(labels, truth, ignore_background=False)
    as_background = evaluate(labels, truth, ignore_background=True)
    for key in (*REGION, "n_gt", "n_pred", "vi_split", "are_recall"):
        assert default[key] == as_segment[key], key
    for key in ("seg", "tp@0.5", "fp@0.5", "fn@0.5", "f1@0.5", "pq@0.5"):
        assert default[key] == as_background[key], key


def test_segment_table_marks_background_unmatched():
    truth = np.zeros((8, 8), int)
    truth[2:6, 2:6] = 4
    rows = segment_table(truth.copy(), truth)
    assert [(r["gt_id"], r["iou"], r["matched"]) for r in rows] == [(0, 1.0, False), (4, 1.0, True)]


def test_ignore_background_must_be_none_or_a_bool():
    with pytest.raises(TypeError, match="ignore_background"):
        evaluate(np.zeros((3, 3), int), np.zeros((3, 3), int), ignore_background="yes")


# ------------------------------------------------------------------ ARI
@PROPERTY
@given(pair=label_pairs(max_side=9, max_label=4), ignore=st.sampled_from([None, True]))
def test_ari_is_scikit_learns(pair, ignore):
    truth, labels = pair
    got = evaluate(labels, truth, split_components=False, ignore_background=ignore)
    keep = truth != 0 if ignore else np.ones(truth.shape, bool)
    if not keep.any():
        assert math.isnan(got["ari"])
    else:
        expected = adjusted_rand_score(truth[keep], labels[keep])
        assert got["ari"] == pytest.approx(expected, abs=1e-12)


def test_ari_on_a_large_image_and_over_annotators():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 40, (400, 400))
    truths = np.stack([labels // 2, rng.integers(0, 40, (400, 400))])
    got = evaluate(labels, truths, split_components=False)
    expected = [adjusted_rand_score(t.ravel(), labels.ravel()) for t in truths]
    assert got["ari"] == pytest.approx(np.mean(expected), abs=1e-12)
    assert evaluate(labels, labels, split_components=False)["ari"] == 1.0
    assert evaluate(np.zeros((1, 1), int), np.zeros((1, 1), int))["ari"] == 1.0


# ------------------------------------------------------------------ the CLI
READINGS = [((), None), (("--ignore-background",), True), (("--no-ignore-background",), False)]


@pytest.mark.parametrize("flag, ignore", READINGS)
def test_the_cli_passes_each_reading_of_label_zero(tmp_path, capsys, flag, ignore):
    import json

    from napari_unsupseg.cli import main
    from napari_unsupseg.io import write_labels

    rng = np.random.default_rng(2)
    truth, labels = rng.integers(0, 3, (16, 16)), rng.integers(0, 3, (16, 16))
    write_labels(tmp_path / "pred.tif", labels)
    write_labels(tmp_path / "truth.tif", truth)
    files = [str(tmp_path / "pred.tif"), str(tmp_path / "truth.tif")]
    assert main(["evaluate", *files, "--json", *flag]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == pytest.approx(evaluate(labels, truth, ignore_background=ignore))
