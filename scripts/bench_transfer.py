"""Label transfer on a synthetic domain shift: adapted against source-only, with time.

Source: the ``cells`` sample (seed 0) and its classes (background, cytoplasm,
nucleus). Target: another scene (seed 1) as another microscope shows it
(``cells_other_microscope``: blur 2 px, gamma 0.4, contrast 0.3, Gaussian noise 0.08).
For each seed, ``transfer`` runs twice with the same settings: with the adversarial
term (the method's defaults) and without it (``lambda_adv=0``: the same network
trained on the source alone). Scored by the mean over the target's classes of the IoU
with the same id (ids are the source's, so no matching is needed).

    python scripts/bench_transfer.py [--size 256] [--cells 18] [--seeds 0 1 2 3 4]
        [--device cpu] [--threads 1] [--set max_iter=600 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def class_miou(found: np.ndarray, truth: np.ndarray) -> float:
    scores = [
        np.sum((found == c) & (truth == c)) / np.sum((found == c) | (truth == c))
        for c in np.unique(truth)
    ]
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--cells", type=int, default=18)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--set", nargs="*", default=[], help="parameters for both runs, e.g. max_iter=600"
    )
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)

    import torch

    import napari_unsupseg as us
    from napari_unsupseg.sample_data import cell_classes, cells, cells_other_microscope

    torch.set_num_threads(args.threads)
    shape = (args.size, args.size)
    source, source_truth = cells(0, shape, args.cells)
    target, target_truth = cells_other_microscope(1, shape, args.cells)
    truth = cell_classes(target_truth)
    run = {
        "channel_axis": 0,
        "source_image": source,
        "source_labels": cell_classes(source_truth),
        "device": args.device,
        **settings,
    }
    note = ", ".join(args.set) or "defaults"
    rows = {f"transfer ({note})": {}, "source only (lambda_adv=0)": {}}
    for seed in args.seeds:
        for name, extra in zip(rows, ({}, {"lambda_adv": 0.0}), strict=True):
            started = time.perf_counter()
            found = us.segment(target, "transfer", seed=seed, **run, **extra)
            seconds = time.perf_counter() - started
            rows[name][seed] = (class_miou(found, truth), seconds)
            print(f"{name}, seed {seed}: mIoU {rows[name][seed][0]:.3f}, {seconds:.1f} s")
    print(f"\n{args.size}x{args.size}, {args.cells} cells, device {args.device}, ", end="")
    print(f"{args.threads} torch thread(s), seeds {args.seeds}\n")
    print("| run | mIoU per seed | mean | lowest | s per run (median) |")
    print("|---|---|---|---|---|")
    for name, results in rows.items():
        scores = [results[s][0] for s in args.seeds]
        times = [results[s][1] for s in args.seeds]
        each = ", ".join(f"{v:.3f}" for v in scores)
        median = statistics.median(times)
        print(f"| {name} | {each} | {np.mean(scores):.3f} | {min(scores):.3f} | {median:.1f} |")


if __name__ == "__main__":
    main()
