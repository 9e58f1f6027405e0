"""A big image through ``segment()``: wall time per stage and peak memory.

    /usr/bin/time -v python scripts/bench_big.py --size 4096 --method cnn

The image is synthetic (smooth colour regions with noise, uint8 RGB) so nothing has to
be downloaded; ``/usr/bin/time -v`` reports the process's peak resident memory. The
script prints it too, with how far the resident memory rose during ``segment()`` and
the memory estimate that ``segment()`` checks before it starts (the peak is counted
from after the synthetic image is made). ``--warm-up`` first segments a 64x64 crop,
untimed, as ``unsupseg bench`` does, so that imports count in neither time nor memory.
The CPU seconds (all threads) of ``segment()`` are printed beside the wall time: on a
shared machine they vary less.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np


def big_image(size: int, seed: int = 0) -> np.ndarray:
    """``size`` x ``size`` RGB uint8: blocky random colours, blurred, plus noise."""
    from scipy.ndimage import gaussian_filter, zoom

    rng = np.random.default_rng(seed)
    cells = size // 128
    coarse = rng.integers(0, 256, (cells, cells, 3)).astype(np.float32)
    image = zoom(coarse, (128, 128, 1), order=0)
    image = gaussian_filter(image, (3, 3, 0))
    image += rng.normal(0, 8, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--method", default="cnn")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--warm-up", action="store_true", help="segment a small crop first")
    args = parser.parse_args(argv)

    import napari_unsupseg as us
    from napari_unsupseg._peak_rss import PeakRSS, lifetime_peak_bytes
    from napari_unsupseg._registry import get_method

    image = big_image(args.size)
    spec = get_method(args.method)
    estimate = spec.estimate_memory(image.shape[:2], 3, spec.resolve({}), args.device)
    rss = PeakRSS()
    if args.warm_up:
        us.segment(image[:64, :64], args.method, device=args.device, threads=args.threads)
    stages = []

    def progress(event):
        if not stages or stages[-1][0] != event.stage:
            stages.append((event.stage, time.perf_counter()))

    rss.start()
    cpu_start = time.process_time()
    start = time.perf_counter()
    stages.append(("checking and normalising the input", start))
    labels = us.segment(
        image, args.method, device=args.device, threads=args.threads, progress=progress
    )
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    rise = rss.peak_bytes()
    print(
        f"{args.method} on {args.size}x{args.size} RGB: {total:.1f} s "
        f"({cpu:.1f} s CPU, all threads), {labels.max()} labels"
    )
    marks = [*stages, ("end", start + total)]
    for (stage, t0), (_, t1) in itertools.pairwise(marks):
        print(f"  {stage}: {t1 - t0:.1f} s")
    gib = 1024**3
    print(
        f"peak resident memory {lifetime_peak_bytes() / gib:.2f} GiB (whole process); "
        f"rise during segment() {rise / gib:.2f} GiB; estimate checked before the run "
        f"{estimate / gib:.2f} GiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
