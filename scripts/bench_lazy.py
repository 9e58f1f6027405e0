"""Benchmark of images bigger than memory: a big RGB image stored as Zarr, segmented by
``unsupseg segment`` chunk by chunk (docs/big-images.md), on local threads and on a
local Dask cluster. Reports wall time, CPU time (what a busy shared machine does not
distort), the machine's load average before and after (others' work slows the wall
time) and the peak resident memory of the largest process (the command, or a cluster
worker), each run in a fresh subprocess: run one mode per invocation, since the
figures of a process's children add up.

    nice python scripts/bench_lazy.py --size 12288 --workdir /tmp/bench-lazy

The image: the package's coffee photograph (van der Walt et al. 2014, scikit-image's
sample) mirrored and tiled to the size asked for, written chunk by chunk (uint8 RGB);
or, with ``--image nuclei``, bright disks 18 pixels across on a dark noisy background
(uint8 grey, one disk per 32x32 cell at a random place, many touching and crossing
chunk borders), for ``--output objects``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def make_image(path: Path, size: int, chunk: int) -> None:
    """Write the tiled photograph as a Zarr array, one chunk at a time."""
    import imageio.v3 as iio
    import zarr

    if path.exists():
        return
    import napari_unsupseg

    photo = iio.imread(Path(napari_unsupseg.__file__).parent / "data/coffee.png")[..., :3]
    array = zarr.create_array(
        str(path), shape=(size, size, 3), chunks=(chunk, chunk, 3), dtype=np.uint8
    )

    def mirrored(start, stop, n):
        index = np.arange(start, stop) % (2 * n)
        return np.where(index < n, index, 2 * n - 1 - index)

    for y in range(0, size, chunk):
        rows = mirrored(y, min(y + chunk, size), photo.shape[0])
        for x in range(0, size, chunk):
            cols = mirrored(x, min(x + chunk, size), photo.shape[1])
            array[y : y + len(rows), x : x + len(cols)] = photo[rows[:, None], cols[None, :]]


def make_nuclei(path: Path, size: int, chunk: int, seed: int = 0) -> None:
    """Write the synthetic nuclei as a Zarr array, one chunk at a time."""
    import zarr

    if path.exists():
        return
    rng = np.random.default_rng(seed)
    array = zarr.create_array(str(path), shape=(size, size), chunks=(chunk, chunk), dtype=np.uint8)
    yy, xx = np.mgrid[:chunk, :chunk]
    cells = chunk // 32
    for y in range(0, size, chunk):
        for x in range(0, size, chunk):
            bright = np.zeros((chunk, chunk), bool)
            centres = rng.integers(7, 26, (cells, cells, 2)) + 32 * np.indices((cells, cells)).T
            for cy, cx in centres.reshape(-1, 2):
                bright |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 81
            tile = 30 + 150 * bright + rng.normal(0, 10, bright.shape)
            block = np.clip(tile, 0, 255).astype(np.uint8)
            array[y : y + chunk, x : x + chunk] = block[: size - y, : size - x]


def run(image: Path, out: Path, method: str, chunk: int, extra: list[str]) -> dict:
    command = [
        sys.executable, "-m", "napari_unsupseg.cli", "segment", str(image), "-m", method,
        "-o", str(out), "--chunk", str(chunk), "-q", *extra,
    ]  # fmt: skip
    load_before = os.getloadavg()[0]
    clock = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - clock
    load_after = os.getloadavg()[0]
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "command": " ".join(command[1:]),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),  # on a busy machine
        "peak_rss": usage.ru_maxrss * 1024,
        "peak_gib": round(usage.ru_maxrss / 1024**2, 2),
        "load_average": [round(load_before, 1), round(load_after, 1)],
        "cores": os.cpu_count(),
        "output": done.stdout.strip().splitlines()[-1:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=12288)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--method", default="cnn")
    parser.add_argument("--workdir", default="/tmp/bench-lazy")
    parser.add_argument("--modes", default="threads,cluster")
    parser.add_argument("--image", choices=("photo", "nuclei"), default="photo")
    parser.add_argument("--output", default=None, help="--output of unsupseg segment")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.image == "nuclei":
        image = work / f"nuclei{args.size}.zarr"
        make_nuclei(image, args.size, args.chunk)
    else:
        image = work / f"rgb{args.size}.zarr"
        make_image(image, args.size, args.chunk)
    output = ["--output", args.output] if args.output else []
    extras = {"threads": [], "cluster": ["--workers", "2"]}
    for mode in args.modes.split(","):
        out = work / f"out-{mode}"
        result = run(image, out, args.method, args.chunk, extras[mode] + output)
        result["mode"] = mode
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
