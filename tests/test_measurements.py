"""The measurement table (napari_unsupseg.measure) against brute force, and the CLI."""

import numpy as np
import pytest
import tifffile
from skimage.measure import label as connected

import napari_unsupseg as us
from napari_unsupseg.cli import main
from napari_unsupseg.measurements import (
    pixel_feature_pcs,
    read_table,
    resolve_channel_axis,
    write_labels_with_table,
    write_table,
)


def known_labels(shape=(30, 40)):
    """Label 3 in two separate blocks, label 1 two blocks touching at a corner only
    (two face-connected pieces), label 7 one block, label 12 one pixel, 0 elsewhere."""
    labels = np.zeros(shape, dtype=np.uint16)
    labels[2:8, 3:10] = 3
    labels[20:26, 30:38] = 3
    labels[10:14, 10:14] = 1
    labels[14:18, 14:18] = 1
    labels[5:25, 20:26] = 7
    labels[0, 39] = 12
    return labels


def brute_force(image, labels, spacing, channel_axis):
    """Every number of the table, one label at a time, the plain way."""
    channels = (
        np.moveaxis(image, channel_axis, -1) if channel_axis is not None else image[..., None]
    )
    rows = {}
    for label in np.unique(labels):
        if label == 0:
            continue
        mask = labels == label
        values = channels[mask].astype(np.float64)
        where = np.argwhere(mask)
        rows[int(label)] = {
            "pixels": int(mask.sum()),
            "size": mask.sum() * np.prod(spacing),
            "mean": values.mean(axis=0),
            "std": values.std(axis=0),
            "pieces": int(connected(mask, connectivity=1).max()),
            "low": where.min(axis=0),
            "high": where.max(axis=0) + 1,
        }
    return rows


def test_2d_table_matches_brute_force(rng):
    labels = known_labels()
    image = rng.normal(1000.0, 30.0, (2, *labels.shape)).astype(np.float32)
    image[1] += labels  # channel 1 brighter on higher ids
    before = image.copy(), labels.copy()

    rows = us.measure(image, labels, spacing=(0.5, 0.25))

    assert np.array_equal(image, before[0]) and np.array_equal(labels, before[1])
    expected = brute_force(image, labels, (0.5, 0.25), 0)
    assert [row["label"] for row in rows] == [1, 3, 7, 12]
    for row in rows:
        truth = expected[row["label"]]
        assert row["pixels"] == truth["pixels"]
        assert row["area"] == pytest.approx(truth["size"])
        for c in range(2):
            assert row[f"mean_ch{c}"] == pytest.approx(truth["mean"][c], rel=1e-12)
            assert row[f"std_ch{c}"] == pytest.approx(truth["std"][c], rel=1e-9, abs=1e-9)
        assert row["pieces"] == truth["pieces"]
        assert [row["bbox_min_y"], row["bbox_min_x"]] == truth["low"].tolist()
        assert [row["bbox_max_y"], row["bbox_max_x"]] == truth["high"].tolist()
    by_id = {row["label"]: row for row in rows}
    assert by_id[1]["pieces"] == 2 and by_id[3]["pieces"] == 2 and by_id[7]["pieces"] == 1
    assert by_id[12]["std_ch0"] == 0.0


def test_3d_volume_single_channel_and_column_names(rng):
    labels = np.zeros((4, 10, 12), dtype=np.int64)
    labels[1:3, 2:5, 2:9] = 5
    labels[0, 0, 0] = -2  # any integer id is a label
    image = rng.integers(0, 4000, labels.shape).astype(np.uint16)
    rows = us.measure(image, labels, spacing=(2.0, 0.5, 0.5))
    assert list(rows[0]) == [
        "label", "pixels", "volume", "mean", "std", "pieces",
        "bbox_min_z", "bbox_min_y", "bbox_min_x", "bbox_max_z", "bbox_max_y", "bbox_max_x",
    ]  # fmt: skip
    expected = brute_force(image, labels, (2.0, 0.5, 0.5), None)
    for row in rows:
        truth = expected[row["label"]]
        assert row["volume"] == pytest.approx(truth["size"])
        assert row["mean"] == pytest.approx(truth["mean"][0])
        assert row["std"] == pytest.approx(truth["std"][0])
    assert [r["label"] for r in rows] == [-2, 5]


def test_rgb_channel_axis_found_and_given():
    assert resolve_channel_axis((30, 40, 3), (30, 40)) == 2
    assert resolve_channel_axis((2, 30, 40), (30, 40)) == 0
    assert resolve_channel_axis((30, 40), (30, 40)) is None
    assert resolve_channel_axis((3, 3, 3), (3, 3)) == 2  # napari's colour axis wins
    assert resolve_channel_axis((3, 3, 3), (3, 3), channel_axis=0) == 0
    with pytest.raises(ValueError, match="do not cover the same pixels"):
        resolve_channel_axis((2, 31, 40), (30, 40))
    with pytest.raises(ValueError, match="without its channel axis 1"):
        resolve_channel_axis((2, 30, 40), (30, 40), channel_axis=1)


@pytest.mark.parametrize(
    ("image", "labels", "error", "message"),
    [
        (np.zeros((5, 5)), np.zeros((5, 5), float), TypeError, "integer ids"),
        (np.zeros((5, 5), complex), np.zeros((5, 5), int), TypeError, "complex"),
        (np.zeros((5, 6)), np.zeros((5, 5), int), ValueError, "same pixels"),
        (np.zeros(5), np.zeros(5, int), ValueError, "two dimensions"),
    ],
)
def test_bad_input_is_refused_clearly(image, labels, error, message):
    with pytest.raises(error, match=message):
        us.measure(image, labels)


def test_no_label_gives_an_empty_table_and_no_image_no_intensities():
    assert us.measure(np.ones((4, 4)), np.zeros((4, 4), int)) == []
    rows = us.measure(None, known_labels())
    assert list(rows[0])[:4] == ["label", "pixels", "area", "pieces"]


def test_principal_components_order_labels_by_their_features(rng):
    labels = known_labels()
    image = np.zeros((*labels.shape, 3), dtype=np.uint8)
    image[..., 0] = labels * 10  # one direction of variation: brightness with the id
    image[..., 1] = labels * 10
    image = np.clip(image + rng.integers(0, 3, image.shape), 0, 255).astype(np.uint8)
    pcs = pixel_feature_pcs(image, labels)
    assert sorted(pcs) == [1, 3, 7, 12]
    first = [pcs[i][0] for i in (1, 3, 7, 12)]
    assert first == sorted(first)  # PC 1 grows with the brightness
    grey = pixel_feature_pcs(image[..., 0], labels)
    assert all(second == 0.0 for _, second in grey.values())


def test_csv_round_trips_exactly(tmp_path, rng):
    labels = known_labels()
    rows = us.measure(rng.random(labels.shape), labels)
    assert read_table(write_table(tmp_path / "t.csv", rows)) == rows
    tiff, table = write_labels_with_table(tmp_path / "edited.tif", labels, rows)
    assert table == tmp_path / "edited.csv"
    assert np.array_equal(tifffile.imread(tiff), labels)
    assert read_table(table) == rows


def test_cli_measure_writes_the_api_table(tmp_path, rng, capsys):
    labels = known_labels()
    image = rng.integers(0, 255, (2, *labels.shape)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "image.tif", image)
    tifffile.imwrite(tmp_path / "labels.tif", labels)
    out = tmp_path / "table.csv"
    argv = ["measure", str(tmp_path / "image.tif"), str(tmp_path / "labels.tif")]
    assert main([*argv, "-o", str(out), "--spacing", "0.5,0.25"]) == 0
    assert read_table(out) == us.measure(image, labels, spacing=(0.5, 0.25))
    assert "4 labels measured" in capsys.readouterr().out
    assert main([*argv, "-o", str(out), "--channel-axis", "1"]) == 2
    assert "without its channel axis 1" in capsys.readouterr().err
