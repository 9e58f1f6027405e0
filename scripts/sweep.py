"""Score many method settings on a dataset, in parallel: how the ``cnn`` default was chosen.

Each (setting, image) pair is one job for a process pool; a job calls the same
``segment()`` and ``best_match_ious()`` as ``unsupseg bench`` and pools the results the
same way (mIoU All / Fine / Coarse). It also records the training iterations each CNN
run took, so that a setting's CPU cost can be read off a GPU sweep: the cost of an
iteration is proportional to training pixels x channels^2.

    python scripts/sweep.py DATA_DIR --limit 40 --jobs 12 --device cuda \\
        "kmeans:n_clusters=5" "cnn:n_channels=16,train_size=40000" -o sweep.csv

Settings are the bench's method specs. ``--fp32`` turns off CUDA mixed precision so a
GPU sweep follows the CPU's arithmetic. Tune on a validation split only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np


def _init_worker(threads: int, fp32: bool) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)
    if fp32:
        from contextlib import nullcontext

        from napari_unsupseg.cnn import train

        train.autocast_for = lambda device: nullcontext()


def _job(spec_text: str, image_path: str, truth_path: str, seed: int, device: str, threads=1):
    from napari_unsupseg import segment
    from napari_unsupseg.bench import annotator_ious, parse_method_spec
    from napari_unsupseg.io import read_image, read_labels

    run = parse_method_spec(spec_text)
    image, truth = read_image(image_path), read_labels(truth_path)
    iterations = []

    def progress(event):
        if event.stage == "training":
            iterations.append(event.iteration)

    start = time.perf_counter()
    labels = segment(
        image,
        run.method,
        seed=seed,
        device=device,
        threads=threads,
        progress=progress,
        **run.params,
    )
    seconds = time.perf_counter() - start
    ious = annotator_ious(labels, truth)
    return spec_text, Path(image_path).stem, seconds, max(iterations, default=0), ious, labels.max()


def _summary_row(text, done, pool) -> str:
    seconds, iterations, ious, n_labels = zip(*done, strict=True)
    scores = pool(ious)
    return (
        f"| {text} | {scores['miou_all']:.3f} | {scores['miou_fine']:.3f} | "
        f"{scores['miou_coarse']:.3f} | {np.mean(seconds):.2f} | {np.mean(iterations):.0f} | "
        f"{np.mean(n_labels):.0f} |"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("specs", nargs="+", help="method specs, e.g. cnn:n_channels=16")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fp32", action="store_true", help="no mixed precision on CUDA")
    parser.add_argument("-o", "--output", default=None, help="per-image CSV")
    args = parser.parse_args(argv)

    from napari_unsupseg._csv import write_csv
    from napari_unsupseg.bench import find_dataset, parse_method_spec
    from napari_unsupseg.evaluation import pool_best_ious as pool

    for text in args.specs:
        parse_method_spec(text)  # fail early on a typo
    pairs = find_dataset(args.data_dir, args.limit)
    results: dict[str, list] = {text: [] for text in args.specs}
    rows = []
    context = get_context("spawn")
    with ProcessPoolExecutor(
        args.jobs, mp_context=context, initializer=_init_worker, initargs=(args.threads, args.fp32)
    ) as executor:
        futures = [
            executor.submit(
                _job, text, str(image), str(truth), args.seed, args.device, args.threads
            )
            for text in args.specs
            for image, truth in pairs
        ]
        print(f"{len(pairs)} images, seed {args.seed}, device {args.device}")
        print("| setting | All | Fine | Coarse | s/image | iterations | labels |")
        print("|---|---|---|---|---|---|---|", flush=True)
        for future in as_completed(futures):
            text, stem, seconds, iterations, ious, n_labels = future.result()
            results[text].append((seconds, iterations, ious, n_labels))
            rows.append((text, stem, f"{seconds:.3f}", iterations, int(n_labels)))
            if len(results[text]) == len(pairs):  # a setting is complete: report it now
                print(_summary_row(text, results[text], pool), flush=True)
    if args.output:
        fields = ("setting", "image", "seconds", "iterations", "n_labels")
        write_csv(
            args.output, [dict(zip(fields, row, strict=True)) for row in sorted(rows)], fields
        )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
