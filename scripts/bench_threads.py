"""What "same seed, same labels" costs: ``segment()`` with its thread counts pinned
against the same call left to the environment's thread settings (as before pinning).

Variants, per method and image, timed in turns (one call of each per round, so that
load from elsewhere on a shared machine slows them alike); medians of ``--repeats``
rounds after one warm-up round:

- ``environment``: the engine without :func:`pinned_threads`, i.e. every library on as
  many threads as the environment gives it (the machine's cores unless
  OMP_NUM_THREADS and friends say otherwise): the speed of the old behaviour;
- ``threads=1``: the default: torch on one thread, OpenMP and BLAS on one;
- ``threads=N`` (``--threads``, default the number of cores): torch on N threads
  (classical methods ignore it: they always run on one thread).

It also reports the share of pixels on which the ``environment`` labels differ from
the pinned ones of the same thread count, i.e. what pinning changed.

    python scripts/bench_threads.py [--data path/to/bsds500-val] [--limit 4] [--repeats 3]

Images: the coffee sample, and the first ``--limit`` images of ``--data/images`` when
given (not shipped: any folder of photographs will do).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from pathlib import Path
from unittest import mock

import numpy as np

METHODS = {"kmeans": {}, "gmm": {}, "cnn": {}, "cnn-fsf (30 iterations)": {"max_iter": 30}}


def load_images(data: str | None, limit: int) -> dict[str, np.ndarray]:
    from napari_unsupseg.io import read_image
    from napari_unsupseg.sample_data import coffee

    images = {"coffee": coffee()}
    if data:
        for path in sorted((Path(data) / "images").glob("*.jpg"))[:limit]:
            images[path.stem] = read_image(path)
    return images


def run(image, method: str, params: dict, variant: str, threads: int):
    """(seconds, labels) of one ``segment()`` call in the given variant."""
    import napari_unsupseg as us
    from napari_unsupseg import _api

    name = method.split()[0]
    unpinned = mock.patch.object(_api, "pinned_threads", lambda *a, **k: contextlib.nullcontext())
    with unpinned if variant == "environment" else contextlib.nullcontext():
        start = time.perf_counter()
        labels = us.segment(image, name, seed=0, device="cpu", threads=threads, **params)
    return time.perf_counter() - start, labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="a folder with images/*.jpg")
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args(argv)

    import torch

    images = load_images(args.data, args.limit)
    many = args.threads
    print(f"{len(images)} images ({', '.join(images)}); {os.cpu_count()} cores; torch "
          f"{torch.__version__} on {torch.get_num_threads()} threads by default; "
          f"median of {args.repeats} rounds after one warm-up")  # fmt: skip
    print(f"| method | environment s | threads=1 s | ratio | threads={many} s | ratio "
          "| pixels differing, environment vs pinned |")  # fmt: skip
    print("|---|---|---|---|---|---|---|", flush=True)
    for method in args.methods:
        params = METHODS[method]
        uses_torch = method.startswith("cnn")
        variants = [("environment", many), ("threads=1", 1)]
        if uses_torch and many != 1:
            variants.append((f"threads={many}", many))
        totals = {name: 0.0 for name, _ in variants}
        differing = []
        for image in images.values():
            times = {name: [] for name, _ in variants}
            labels = {}
            for round_index in range(args.repeats + 1):
                for name, threads in variants:
                    seconds, labels[name] = run(image, method, params, name, threads)
                    if round_index:  # the first round warms up
                        times[name].append(seconds)
            for name in totals:
                totals[name] += statistics.median(times[name])
            pinned = labels[variants[-1][0]] if uses_torch else labels["threads=1"]
            differing.append(float(np.mean(labels["environment"] != pinned)))
        base = totals["environment"]
        cells = [f"{totals['environment'] / len(images):.2f}"]
        for name, _ in variants[1:]:
            cells += [f"{totals[name] / len(images):.2f}", f"{totals[name] / base:.2f}x"]
        if len(variants) == 2:
            cells += ["(one thread)", ""]
        mean_diff = f"{np.mean(differing):.2%} (max {np.max(differing):.2%})"
        print(f"| {method} | " + " | ".join(cells) + f" | {mean_diff} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
