"""``unsupseg bench`` on a small dataset made here, laid out as BSDS500 is."""

import csv

import imageio.v3 as iio
import numpy as np

from napari_unsupseg.bench import pool
from napari_unsupseg.cli import EXIT_OK, main
from synthetic import noisy_blocks


def _dataset(root, n=3):
    """n noisy-block images with two annotators each: one exact, one coarser (halves)."""
    (root / "images").mkdir(parents=True)
    (root / "groundtruth").mkdir()
    for index in range(n):
        image, truth = noisy_blocks((48, 64), seed=index)
        iio.imwrite(root / "images" / f"img{index}.png", image)
        coarse = np.where(truth <= 2, 1, 2)
        np.savez(root / "groundtruth" / f"img{index}.npz", segs=np.stack([truth, coarse]))
    return root


def test_bench_writes_tables_with_pooled_scores(tmp_path, capsys):
    data = _dataset(tmp_path / "data")
    out = tmp_path / "out"
    methods = ["kmeans:n_clusters=4", "felzenszwalb"]
    code = main(["bench", str(data), "--methods", *methods, "-o", str(out), "-q"])
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert "kmeans:n_clusters=4" in printed and "felzenszwalb" in printed

    with (out / "bench.csv").open() as handle:
        summary = {row["method"]: row for row in csv.DictReader(handle)}
    kmeans = summary["kmeans:n_clusters=4"]
    assert int(kmeans["images"]) == 3 and int(kmeans["failed"]) == 0
    # Four clean colour blocks: k-means with k=4 finds each block, so the exact annotator
    # scores 1 and the coarse one (two halves) scores 0.5 per segment: Fine 1, Coarse 0.5.
    assert float(kmeans["miou_fine"]) > 0.95
    assert abs(float(kmeans["miou_coarse"]) - 0.5) < 0.05
    # All pools 4 exact segments (IoU 1) and 2 coarse ones (IoU 0.5) per image.
    assert abs(float(kmeans["miou_all"]) - (4 * 1 + 2 * 0.5) / 6) < 0.05
    assert float(kmeans["seconds_mean"]) > 0

    with (out / "bench_images.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 2 and all(row["status"] == "ok" for row in rows)
    assert (out / "bench.md").read_text().count("|") > 10


def test_pool_all_fine_coarse_by_hand():
    image_a = [np.array([1.0, 0.0]), np.array([0.5])]  # annotators with 2 and 1 segments
    image_b = [np.array([0.2, 0.4, 0.6])]
    scores = pool([image_a, image_b])
    assert np.isclose(scores["miou_all"], (1 + 0 + 0.5 + 0.2 + 0.4 + 0.6) / 6)
    assert np.isclose(scores["miou_fine"], (1 + 0 + 0.2 + 0.4 + 0.6) / 5)
    assert np.isclose(scores["miou_coarse"], (0.5 + 0.2 + 0.4 + 0.6) / 4)


def _instance_dataset(root):
    """Two 2D images and one 3D stack of touching blobs, with instance masks (TIFF)."""
    import tifffile

    from synthetic import touching_blobs

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    cases = {"a": ((96, 96), 9.0, 0), "b": ((96, 96), 9.0, 1), "stack": ((32, 48, 48), 7.0, 0)}
    for name, (shape, radius, seed) in cases.items():
        image, truth = touching_blobs(shape, radius=radius, seed=seed)
        tifffile.imwrite(root / "images" / f"{name}.tif", (image * 1000).clip(0).astype("uint16"))
        tifffile.imwrite(root / "masks" / f"{name}.tif", truth.astype("uint16"))
    return root


def test_bench_on_instance_masks_reports_f1_pq_seg_per_dimensionality(tmp_path):
    data = _instance_dataset(tmp_path / "nuclei")
    out = tmp_path / "out"
    methods = ["kmeans:n_clusters=2", "gaussian-otsu", "voronoi-otsu"]
    code = main(
        ["bench", str(data), "--methods", *methods, "--output", "objects", "-o", str(out), "-q"]
    )
    assert code == EXIT_OK
    with (out / "bench.csv").open() as handle:
        summary = {row["method"]: row for row in csv.DictReader(handle)}
    assert set(summary) == {f"{m} ({n}D)" for m in methods for n in (2, 3)}
    kmeans_2d = summary["kmeans:n_clusters=2 (2D)"]
    assert int(kmeans_2d["images"]) == 2 and float(kmeans_2d["f1_50"]) == 1.0
    assert float(kmeans_2d["seg"]) > 0.8 and float(kmeans_2d["pq"]) > 0.8
    # touching pairs stay one object under a plain threshold: half the objects, F1 2/3
    otsu = summary["gaussian-otsu (2D)"]
    assert abs(float(otsu["f1_50"]) - 2 / 3) < 0.01
    with (out / "bench_images.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["ndim"] for row in rows} == {"2", "3"}
    assert all(row["n_true"] for row in rows)
    text = (out / "bench.md").read_text()
    assert "F1@0.5" in text and "SEG" in text and "output: objects" in text


def test_bench_rejects_parameters_on_a_baseline(tmp_path, capsys):
    data = _instance_dataset(tmp_path / "nuclei")
    code = main(["bench", str(data), "--methods", "gaussian-otsu:sigma=3", "-q"])
    assert code == 2 and "takes no parameters" in capsys.readouterr().err
