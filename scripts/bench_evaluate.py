"""Time evaluate() on a 2048 x 2048 pair with thousands of labels.

Run: ``python scripts/bench_evaluate.py [--size 2048] [--labels 3000] [--repeat 3]``.
The labelings are Voronoi tessellations of random seeds (every pixel takes the id of its
nearest seed), prediction and ground truth from different seeds, so every segment
overlaps several others: a dense, realistic contingency table. Prints the best of
``--repeat`` wall-clock times per setting; the figure in docs/evaluation.md comes
from here.
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
        f", {os.cpu_count()} CPUs, best of {args.repeat}"
    )
    settings = {
        "evaluate (split components, thresholds 0.5)": {},
        "evaluate, split_components=False": {"split_components": False},
        "evaluate, thresholds 0.5 0.75 0.9": {"thresholds": (0.5, 0.75, 0.9)},
    }
    for name, options in settings.items():
        seconds = best_time(lambda options=options: evaluate(labels, truth, **options), args.repeat)
        print(f"{name:<46} {seconds:6.3f} s")
    # The boundary F-measure matches boundary pixels within 0.0075 x diagonal: its cost
    # grows with boundary length x tolerance^2, so it is timed at the BSDS500 size.
    small_truth = voronoi((321, 481), 300, seed=0)
    small_labels = voronoi((321, 481), 300, seed=1)
    seconds = best_time(lambda: evaluate(small_labels, small_truth, boundary=True), args.repeat)
    print(f"{'evaluate, boundary=True, 321x481, 300 labels':<46} {seconds:6.3f} s")


if __name__ == "__main__":
    main()
