"""evaluate() against brute-force definitions, on small labelings.

The references below loop over segments and pixel pairs the slow, obvious way (and
ask scikit-learn for the adjusted Rand index); the engine builds one contingency
table. Hypothesis draws the labelings. The boundary F-measure is tested in
test_evaluate_boundary.py, the conventions for label 0 and StarDist's matching in
test_evaluate_conventions.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment
from skimage.measure import label as connected_components
from sklearn.metrics import adjusted_rand_score

from napari_unsupseg.evaluation import best_match_ious, evaluate, segment_table, write_csv
from synthetic import best_match_miou

THRESHOLDS = (0.3, 0.5, 0.75)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ brute force
def pred_segments(labels, split_components=True):
    """Masks of the scored predicted segments and the predicted label of each."""
    if split_components:
        _, dense = np.unique(labels, return_inverse=True)  # skimage must not see -1
        dense = dense.reshape(labels.shape)
        components = connected_components(dense, background=-1, connectivity=1)
    else:
        components = labels
    segments = [components == c for c in np.unique(components)]
    return segments, [labels[mask][0] for mask in segments]


def iou_matrix(truth, labels, split_components=True, ignore_background=False):
    """Dense IoU of every scored GT segment (rows) with every assignable predicted one."""
    segments, pred_ids = pred_segments(labels, split_components)
    if ignore_background:
        segments = [s for s, i in zip(segments, pred_ids, strict=True) if i != 0]
    gt_ids = [g for g in np.unique(truth) if not (ignore_background and g == 0)]
    iou = np.zeros((len(gt_ids), len(segments)))
    for i, g in enumerate(gt_ids):
        gt = truth == g
        for j, pred in enumerate(segments):
            iou[i, j] = np.sum(gt & pred) / np.sum(gt | pred)
    sizes = np.array([np.sum(truth == g) for g in gt_ids])
    overlap_share = np.array(
        [[np.sum((truth == g) & s) / np.sum(truth == g) for s in segments] for g in gt_ids]
    ).reshape(len(gt_ids), len(segments))
    return iou, sizes, overlap_share


def pairs_together(values):
    """Boolean over all unordered pixel pairs: are both pixels in the same segment?"""
    flat = values.ravel()
    pairs = itertools.combinations(range(flat.size), 2)
    return np.array([flat[p] == flat[q] for p, q in pairs], dtype=bool)


def conditional_entropy_bits(first, second):
    """H(first | second) in bits, from pixel counts."""
    n = first.size
    h = 0.0
    for b in np.unique(second):
        in_b = second == b
        for a in np.unique(first[in_b]):
            p_ab = np.sum(in_b & (first == a)) / n
            h -= p_ab * math.log2(p_ab / (np.sum(in_b) / n))
    return h


def stardist_matching(iou, threshold, exact_tie=1e-9):
    """StarDist's rule: one assignment minimising -[IoU >= T] - IoU / (2 n) over the
    whole IoU matrix, n the smaller side; then, in exact ties, the higher IoU of the
    pairs reaching T (``exact_tie``). Returns (TP, IoU sum of the pairs reaching T)."""
    n_matched = min(iou.shape)
    if n_matched == 0 or not (iou >= threshold).any():
        return 0, 0.0
    above = iou >= threshold
    costs = -(above * (1.0 + exact_tie * iou)) - iou / (2 * n_matched)
    rows, cols = linear_sum_assignment(costs)
    hit = iou[rows, cols] >= threshold
    return int(hit.sum()), float(iou[rows, cols][hit].sum())


def reference(labels, truth, split_components=True, ignore_background=False):
    """Every region metric of one annotator, by definition."""
    iou, sizes, share = iou_matrix(truth, labels, split_components, ignore_background)
    best = iou.max(axis=1) if iou.shape[1] else np.zeros(len(sizes))
    rows, cols = linear_sum_assignment(iou, maximize=True)
    keep = truth != 0 if ignore_background else np.ones(truth.shape, bool)
    pred_seg, _ = pred_segments(labels, split_components)
    seg_index = np.zeros(labels.shape, int)
    for k, mask in enumerate(pred_seg):
        seg_index[mask] = k
    gt_kept, pred_kept = truth[keep], seg_index[keep]
    same_gt, same_pred = pairs_together(gt_kept), pairs_together(pred_kept)
    together_both = np.sum(same_gt & same_pred)
    result = {
        "best": best,
        "miou": best.mean() if best.size else math.nan,  # nothing scored: NaN
        "hungarian_sum": iou[rows, cols].sum(),
        "covering": np.sum(sizes * best) / sizes.sum() if sizes.size else math.nan,
        "rand_index": np.mean(same_gt == same_pred) if same_gt.size else 1.0,
        "ari": adjusted_rand_score(gt_kept, pred_kept),
        "vi_split": conditional_entropy_bits(pred_kept, gt_kept),
        "vi_merge": conditional_entropy_bits(gt_kept, pred_kept),
        "are_precision": together_both / same_pred.sum() if same_pred.sum() else 1.0,
        "are_recall": together_both / same_gt.sum() if same_gt.sum() else 1.0,
        "seg_sum": np.sum(np.where(share > 0.5, iou, 0.0)),
        "n_gt": len(sizes),
        "n_pred": iou.shape[1],
    }
    for t in THRESHOLDS:
        result[t] = stardist_matching(iou, t)
    return result


def matching_scores(tp, n_pred, n_gt, iou_sum):
    """StarDist's formulas, 0 when there is nothing to divide."""
    fp, fn = n_pred - tp, n_gt - tp
    return {
        "precision": tp / (tp + fp) if tp else 0.0,
        "recall": tp / (tp + fn) if tp else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "pq": iou_sum / (tp + fp / 2 + fn / 2) if tp else 0.0,
    }


# ------------------------------------------------------------------ strategies
def labelings(max_side=7, max_label=4, ndim=2):
    shape = st.tuples(*[st.integers(1, max_side)] * ndim)
    return shape.flatmap(
        lambda s: st.tuples(
            arrays(np.int32, s, elements=st.integers(0, max_label)),
            arrays(np.int32, s, elements=st.integers(0, max_label)),
        )
    )


def relabel(labels, rng, low=-(2**40), high=2**40):
    """The same partition with every id replaced by a random distinct int64."""
    ids = np.unique(labels)
    new = rng.choice(np.arange(low, high, (high - low) // 10_000), size=ids.size, replace=False)
    return new[np.searchsorted(ids, labels)].astype(np.int64)


# ------------------------------------------------------------------ properties
PAIR_KEYS = ("covering", "rand_index", "ari", "vi_split", "vi_merge")
PAIR_KEYS += ("are_precision", "are_recall")


@PROPERTY
@given(pair=labelings(), split=st.booleans(), ignore=st.sampled_from([None, True, False]))
def test_every_metric_matches_its_definition(pair, split, ignore):
    """Region metrics read label 0 as ``bool(ignore)`` says (None: a segment, as BSDS),
    instance metrics as ``ignore is not False`` says (None: background, as StarDist)."""
    labels, truth = pair
    assume(ignore is not True or truth.any())  # all background: see the conventions tests
    got = evaluate(
        labels, truth, split_components=split, ignore_background=ignore, thresholds=THRESHOLDS
    )
    ref = reference(labels, truth, split, bool(ignore))
    n_gt = ref["n_gt"]
    assert got["n_gt"] == n_gt and got["n_pred"] == ref["n_pred"]
    assert got["miou"] == pytest.approx(ref["miou"])
    assert got["miou_fine"] == got["miou_coarse"] == got["miou"]
    assert got["miou_hungarian"] == pytest.approx(ref["hungarian_sum"] / n_gt)
    for key in PAIR_KEYS:
        assert got[key] == pytest.approx(ref[key], abs=1e-9), key
    assert got["vi"] == pytest.approx(ref["vi_split"] + ref["vi_merge"], abs=1e-9)

    objects = reference(labels, truth, split, ignore is not False)
    n_objects, n_found = objects["n_gt"], objects["n_pred"]
    assert got["seg"] == pytest.approx(objects["seg_sum"] / n_objects if n_objects else 0.0)
    for t in THRESHOLDS:
        tp, iou_sum = objects[t]
        assert (got[f"tp@{t:g}"], got[f"fp@{t:g}"], got[f"fn@{t:g}"]) == (
            tp,
            n_found - tp,
            n_objects - tp,
        )
        for name, value in matching_scores(tp, n_found, n_objects, iou_sum).items():
            assert got[f"{name}@{t:g}"] == pytest.approx(value), (name, t)


@PROPERTY
@given(pair=labelings())
def test_best_match_agrees_with_the_shared_reference(pair):
    labels, truth = pair
    assert evaluate(labels, truth)["miou"] == pytest.approx(best_match_miou(labels, truth))


@PROPERTY
@given(pair=labelings(), seed=st.integers(0, 2**32 - 1), split=st.booleans())
def test_relabelling_either_side_changes_nothing(pair, seed, split):
    """With label 0 a segment like any other, ids are only names (where 0 is
    background, it is the one id that means something)."""
    labels, truth = pair
    rng = np.random.default_rng(seed)
    options = {"split_components": split, "thresholds": THRESHOLDS, "ignore_background": False}
    before = evaluate(labels, truth, **options)
    after = evaluate(relabel(labels, rng), relabel(truth, rng), **options)
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] == pytest.approx(value, abs=1e-12), key


@PROPERTY
@given(pair=labelings(), split=st.booleans())
def test_hungarian_never_beats_best_match_and_scores_lie_in_range(pair, split):
    labels, truth = pair
    got = evaluate(
        labels, truth, split_components=split, thresholds=THRESHOLDS, ignore_background=False
    )
    assert got["miou_hungarian"] <= got["miou"] + 1e-12
    assert got["seg"] <= got["miou"] + 1e-12
    for key in ("miou", "covering", "rand_index", "are_precision", "are_recall", "seg"):
        assert 0.0 <= got[key] <= 1.0 + 1e-12, key
    assert -1.0 <= got["ari"] <= 1.0 + 1e-12
    assert got["vi_split"] >= 0 and got["vi_merge"] >= 0
    f1 = [got[f"f1@{t:g}"] for t in THRESHOLDS]
    assert f1 == sorted(f1, reverse=True)  # a stricter threshold never matches more


SHAPES_2D = st.tuples(st.integers(1, 8), st.integers(1, 8))


@PROPERTY
@given(truth=arrays(np.int32, SHAPES_2D, elements=st.integers(0, 5)))
def test_a_perfect_prediction_scores_one(truth):
    truth = connected_components(truth + 1, background=0, connectivity=1)  # connected segments
    labels = relabel(truth, np.random.default_rng(1))
    got = evaluate(labels, truth, thresholds=THRESHOLDS, ignore_background=False)
    for key in ("miou", "miou_hungarian", "covering", "rand_index", "ari", "are_precision", "seg"):
        assert got[key] == pytest.approx(1.0), key
    for t in THRESHOLDS:
        assert got[f"f1@{t:g}"] == got[f"pq@{t:g}"] == pytest.approx(1.0)
    assert got["vi"] == got["vi_split"] == got["vi_merge"] == 0.0


def test_the_one_segment_prediction_by_hand():
    """GT: a 16-pixel and a 48-pixel segment; the prediction is one segment of 64."""
    truth = np.zeros((8, 8), int)
    truth[:2] = 1
    truth[2:] = 2
    got = evaluate(np.ones((8, 8), int), truth)
    # IoUs 16/64 and 48/64
    assert got["miou"] == pytest.approx((0.25 + 0.75) / 2)
    assert got["covering"] == pytest.approx((16 * 0.25 + 48 * 0.75) / 64)
    assert got["miou_hungarian"] == pytest.approx(0.75 / 2)
    # disagreeing pairs: the 16 x 48 pairs split by GT but together in the prediction
    assert got["rand_index"] == pytest.approx(1 - 16 * 48 / (64 * 63 / 2))
    assert got["vi_split"] == 0.0
    assert got["vi_merge"] == pytest.approx(-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75)))
    assert got["are_recall"] == 1.0
    assert got["are_precision"] == pytest.approx((16 * 15 + 48 * 47) / (64 * 63))
    assert got["ari"] == 0.0  # one cluster: no better than chance
    assert got["seg"] == pytest.approx((0.25 + 0.75) / 2)  # covers both GT segments fully
    assert (got["tp@0.5"], got["fp@0.5"], got["fn@0.5"]) == (1, 0, 1)
    assert got["f1@0.5"] == pytest.approx(2 / 3)
    assert got["pq@0.5"] == pytest.approx(0.75 / 1.5)


def test_scikit_image_traps_are_avoided():
    """skimage swaps ARE precision/recall and returns VI as (H(pred|GT), H(GT|pred))."""
    from skimage.metrics import adapted_rand_error, variation_of_information

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, (12, 12))
    labels = rng.integers(0, 5, (12, 12))
    got = evaluate(labels, truth, split_components=False)
    ref = reference(labels, truth, split_components=False)
    # skimage also ignores true label 0 by default: switch that off to compare
    _, sk_first, sk_second = adapted_rand_error(truth, labels, ignore_labels=())
    assert got["are_precision"] == pytest.approx(ref["are_precision"])
    assert got["are_precision"] == pytest.approx(sk_second)  # skimage's "recall"
    assert got["are_recall"] == pytest.approx(sk_first)  # and its "precision"
    assert sk_first != pytest.approx(sk_second)  # else the swap would go unnoticed
    pred_given_gt, gt_given_pred = variation_of_information(truth, labels)
    assert got["vi_split"] == pytest.approx(ref["vi_split"])
    assert got["vi_split"] != pytest.approx(got["vi_merge"])  # else order is untested
    assert (got["vi_split"], got["vi_merge"]) == pytest.approx((pred_given_gt, gt_given_pred))


def test_split_components_separates_one_label_in_two_places():
    """Clustering gives one label to the sky and the water: scored as two segments."""
    truth = np.zeros((4, 6), int)
    truth[:, 3:] = 1
    labels = np.zeros((4, 6), int)
    labels[:, 2:4] = 1  # label 0 appears left and right of the stripe
    split = evaluate(labels, truth)
    merged = evaluate(labels, truth, split_components=False)
    assert split["n_pred"] == 3 and merged["n_pred"] == 2
    # split: each GT half is best matched by the 8-pixel strip inside it
    assert split["miou"] == pytest.approx(8 / 12)
    # merged: the best match of each half is the 16-pixel two-strip "segment"
    assert merged["miou"] == pytest.approx(8 / 20)


# ------------------------------------------------------------------ annotators
@PROPERTY
@given(
    stack=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4)).flatmap(
        lambda s: st.tuples(
            arrays(np.int32, s[:2], elements=st.integers(0, 4)),
            arrays(np.int32, (s[2], *s[:2]), elements=st.integers(0, 6)),
        )
    )
)
def test_annotators_pool_all_fine_coarse(stack):
    labels, truths = stack
    got = evaluate(labels, truths, thresholds=THRESHOLDS, ignore_background=False)
    refs = [reference(labels, truth) for truth in truths]
    counts = [r["n_gt"] for r in refs]
    fine, coarse = refs[int(np.argmax(counts))], refs[int(np.argmin(counts))]
    assert got["n_annotators"] == len(truths) and got["n_gt"] == sum(counts)
    assert got["miou"] == pytest.approx(np.concatenate([r["best"] for r in refs]).mean())
    assert got["miou_fine"] == pytest.approx(fine["miou"])
    assert got["miou_coarse"] == pytest.approx(coarse["miou"])
    hungarian = sum(r["hungarian_sum"] for r in refs) / sum(counts)
    assert got["miou_hungarian"] == pytest.approx(hungarian)
    assert got["seg"] == pytest.approx(sum(r["seg_sum"] for r in refs) / sum(counts))
    for key in PAIR_KEYS:
        assert got[key] == pytest.approx(np.mean([r[key] for r in refs]), abs=1e-9), key
    for t in THRESHOLDS:
        tp = sum(r[t][0] for r in refs)
        assert got[f"tp@{t:g}"] == tp
        assert got[f"fn@{t:g}"] == sum(counts) - tp
        assert got[f"fp@{t:g}"] == len(truths) * refs[0]["n_pred"] - tp
    per_annotator = best_match_ious(labels, truths)
    for ious, ref in zip(per_annotator, refs, strict=True):
        np.testing.assert_allclose(ious, ref["best"])


def test_best_match_ious_pool_over_images_like_the_seeds():
    """All / Fine / Coarse over a data set, as on BSDS500: per-image arrays concatenated."""
    rng = np.random.default_rng(5)
    images = []
    for _ in range(3):
        truths = np.stack([rng.integers(0, k, (10, 10)) for k in (2, 5, 9)])
        images.append((rng.integers(0, 4, (10, 10)), truths))
    per_image = [best_match_ious(labels, truths) for labels, truths in images]
    all_ = np.concatenate([np.concatenate(arrays) for arrays in per_image]).mean()
    fine = np.concatenate([max(arrays, key=len) for arrays in per_image]).mean()
    coarse = np.concatenate([min(arrays, key=len) for arrays in per_image]).mean()
    refs = [[reference(labels, t)["best"] for t in truths] for labels, truths in images]
    assert all_ == pytest.approx(np.concatenate([np.concatenate(r) for r in refs]).mean())
    assert fine == pytest.approx(np.concatenate([max(r, key=len) for r in refs]).mean())
    assert coarse == pytest.approx(np.concatenate([min(r, key=len) for r in refs]).mean())
    for labels, truths in images:
        assert evaluate(labels, truths)["miou"] == pytest.approx(
            np.concatenate(best_match_ious(labels, truths)).mean()
        )


# ------------------------------------------------------------------ segment table, CSV
@PROPERTY
@given(pair=labelings(), threshold=st.sampled_from(THRESHOLDS))
def test_segment_table_rows_are_the_best_matches(pair, threshold):
    labels, truth = pair
    rows = segment_table(labels, truth, threshold=threshold, ignore_background=False)
    ref = reference(labels, truth)
    assert [row["gt_id"] for row in rows] == sorted(np.unique(truth).tolist())
    np.testing.assert_allclose([row["iou"] for row in rows], ref["best"])
    assert [row["size"] for row in rows] == [int(np.sum(truth == g)) for g in np.unique(truth)]
    assert sum(row["matched"] for row in rows) == ref[threshold][0]
    for row in rows:
        assert row["best_pred_id"] is not None  # without ignore_background all overlap
        pred = labels == row["best_pred_id"]
        gt = truth == row["gt_id"]
        assert np.any(pred & gt)
        if row["matched"]:
            assert row["iou"] >= threshold


def test_write_csv_round_trips_both_tables(tmp_path):
    import csv

    rng = np.random.default_rng(4)
    labels, truth = rng.integers(0, 3, (10, 10)), rng.integers(0, 3, (10, 10))
    metrics = evaluate(labels, truth)
    rows = segment_table(labels, truth)
    write_csv(tmp_path / "m.csv", metrics)
    write_csv(tmp_path / "s.csv", rows)
    with (tmp_path / "m.csv").open() as handle:
        read = {r["metric"]: float(r["value"]) for r in csv.DictReader(handle)}
    assert read == pytest.approx(metrics)
    with (tmp_path / "s.csv").open() as handle:
        back = list(csv.DictReader(handle))
    assert [int(r["gt_id"]) for r in back] == [r["gt_id"] for r in rows]
    assert [float(r["iou"]) for r in back] == pytest.approx([r["iou"] for r in rows])
