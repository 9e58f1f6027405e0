"""Time evaluate() on a 2048 x 2048 pair with thousands of labels, boundary F-measure included.

Run: ``python scripts/bench_evaluate.py [--size 2048] [--labels 3000] [--repeat 3]``.
The labelings are Voronoi tessellations of random seeds (every pixel takes the id of its
nearest seed), prediction and ground truth from different seeds, so every segment
overlaps several others: a dense, realistic contingency table and boundaries everywhere.

First, in a fresh process, every metric with the BSDS boundary F-measure on the full
pair, once: its wall time and the process's peak resident memory (``ru_maxrss``, the
interpreter and the inputs included). Then the region and instance metrics alone, best
of ``--repeat`` wall-clock times per setting. The figures in docs/evaluation.md and
docs/benchmarks.md come from here.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy import ndimage

from napari_unsupseg import evaluate


def voronoi(shape: tuple[int, int], n_labels: int, seed: int) -> np.ndarray:
    """Label each pixel with the id (1..n_labels) of its nearest random seed point."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros(shape, dtype=np.int32)
    points = np.stack([rng.integers(0, n, n_labels) for n in shape], axis=1)
    seeds[tuple(points.T)] = np.arange(1, n_labels + 1)
    _, nearest = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    return seeds[tuple(nearest)]


def best_time(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_rss_gib() -> float:
    from napari_unsupseg._peak_rss import lifetime_peak_bytes

    return lifetime_peak_bytes() / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--labels", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    shape = (args.size, args.size)
    truth = voronoi(shape, args.labels, seed=0)
    labels = voronoi(shape, args.labels, seed=1)
    print(
        f"{shape[0]}x{shape[1]} pixels, {len(np.unique(truth))} ground-truth and "
        f"{len(np.unique(labels))} predicted labels; {platform.processor() or platform.machine()}"
        f", {os.cpu_count()} CPUs"
    )
    before = peak_rss_gib()
    start = time.perf_counter()
    scores = evaluate(labels, truth, boundary=True, thresholds=(0.5, 0.75, 0.9))
    seconds = time.perf_counter() - start
    print(
        f"{'all metrics + boundary F, thresholds 0.5 0.75 0.9':<52} {seconds:6.1f} s, "
        f"peak RSS {peak_rss_gib():.2f} GiB ({before:.2f} GiB before), "
        f"boundary F {scores['boundary_f']:.4f} "
        f"({scores['boundary_pred']:,} predicted, {scores['boundary_gt']:,} ground-truth "
        "boundary pixels)"
    )
    print(f"best of {args.repeat}:")
    settings = {
        "evaluate (split components, thresholds 0.5)": {},
        "evaluate, split_components=False": {"split_components": False},
        "evaluate, thresholds 0.5 0.75 0.9": {"thresholds": (0.5, 0.75, 0.9)},
        "evaluate, thresholds 0.3 0.5 (one-to-one below 0.5)": {"thresholds": (0.3, 0.5)},
    }
    for name, options in settings.items():
        seconds = best_time(lambda options=options: evaluate(labels, truth, **options), args.repeat)
        print(f"{name:<52} {seconds:6.3f} s")
    small_truth = voronoi((321, 481), 300, seed=0)
    small_labels = voronoi((321, 481), 300, seed=1)
    seconds = best_time(lambda: evaluate(small_labels, small_truth, boundary=True), args.repeat)
    print(f"{'evaluate, boundary=True, 321x481, 300 labels':<52} {seconds:6.3f} s")


if __name__ == "__main__":
    main()
