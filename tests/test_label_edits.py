"""Corrections as pure functions: each gives the labels expected, never changes its
input, and a list of records replays them."""

import numpy as np
import pytest
from skimage.draw import disk

from napari_unsupseg import label_edits as edits


def two_touching_disks_and_a_square():
    """Label 4: two touching disks of radius 8 (one blob); label 9: a square; 0 around."""
    labels = np.zeros((40, 70), dtype=np.uint8)
    labels[disk((20, 20), 8.5)] = 4
    labels[disk((20, 35), 8.5)] = 4
    labels[2:8, 55:65] = 9
    labels[30:36, 55:65] = 9  # a second piece of 9
    return labels


def test_merge_gives_the_smallest_id_or_the_one_asked():
    labels = two_touching_disks_and_a_square()
    before = labels.copy()
    merged = edits.merge(labels, [9, 4])
    assert np.array_equal(labels, before)
    assert set(np.unique(merged)) == {0, 4}
    assert np.array_equal(merged == 4, before > 0)
    assert np.array_equal(edits.merge(labels, [4, 9], into=9) == 9, before > 0)
    with pytest.raises(ValueError, match="at least 2"):
        edits.merge(labels, [4])
    with pytest.raises(ValueError, match="into=3"):
        edits.merge(labels, [4, 9], into=3)


def test_split_components_keeps_the_biggest_piece_and_numbers_the_rest():
    labels = two_touching_disks_and_a_square()
    labels[30:33, 55:65] = 0  # the second square is now 3 x 10, smaller than the first
    before = labels.copy()
    split = edits.split_components(labels, [9])
    assert np.array_equal(labels, before)
    assert split.dtype == np.int32
    assert np.array_equal(split[2:8, 55:65], np.full((6, 10), 9))
    assert np.array_equal(split[33:36, 55:65], np.full((3, 10), 10))  # max id + 1
    assert np.array_equal(split == 4, before == 4)  # other labels untouched


def test_split_watershed_separates_touching_disks():
    labels = two_touching_disks_and_a_square()
    split = edits.split_watershed(labels, [4], radius=8.0)
    assert set(np.unique(split)) == {0, 4, 9, 10}
    assert np.array_equal(split > 0, labels > 0)  # no pixel lost or gained
    left, right = split[20, 12:28], split[20, 28:44]
    assert set(np.unique(split[disk((20, 20), 6)])) == {4}
    assert set(np.unique(split[disk((20, 35), 6)])) == {10}
    assert left[0] == 4 and right[-1] == 10
    assert np.array_equal(split == 9, labels == 9)
    with pytest.raises(ValueError, match="radius"):
        edits.split_watershed(labels, [4], radius=0)


def test_background_and_relabel():
    labels = two_touching_disks_and_a_square()
    dropped = edits.to_background(labels, [4])
    assert set(np.unique(dropped)) == {0, 9}
    assert np.array_equal(dropped == 9, labels == 9)
    renumbered = edits.relabel(dropped)
    assert set(np.unique(renumbered)) == {0, 1}
    assert np.array_equal(renumbered == 1, labels == 9)
    with pytest.raises(ValueError, match="background"):
        edits.to_background(labels, [0])
    with pytest.raises(ValueError, match=r"\[5\] are not in"):
        edits.to_background(labels, [5])
    with pytest.raises(TypeError, match="integer"):
        edits.relabel(labels.astype(float))


def test_records_replay_the_edits_exactly():
    labels = two_touching_disks_and_a_square()
    records = [
        edits.edit_record("split_watershed", [4], radius=8.0, spacing=(1.0, 1.0)),
        edits.edit_record("split_components", [9]),
        edits.edit_record("merge", [9, 11], into=11),
        edits.edit_record("background", [10]),
        edits.edit_record("relabel"),
    ]
    step = labels
    for record in records:
        step = edits.apply_edit(step, record)
    assert np.array_equal(edits.replay(labels, records), step)
    assert records[0] == {"edit": "split_watershed", "labels": [4], "radius": 8.0,
                          "spacing": [1.0, 1.0]}  # fmt: skip
    assert set(np.unique(step)) == {0, 1, 2}
    with pytest.raises(ValueError, match="unknown edit"):
        edits.edit_record("paint", [1])
