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
