"""``unsupseg bench``: segment and score a dataset with several methods
(:func:`napari_unsupseg.bench.run_bench`)."""

from __future__ import annotations

import argparse

from . import common

NAME = "bench"
HELP = "segment and score a dataset (images/ + groundtruth/ or masks/) with several methods"

DESCRIPTION = (
    "Benchmark methods on a dataset laid out as DATA_DIR/images/*.jpg|png|tif "
    "and either DATA_DIR/groundtruth/<stem>.npz (region annotations: a stack of "
    "annotators, key 'segs') or DATA_DIR/masks/<stem>.tif|png (instance labels: one id "
    "per object, 0 = background).\n\n"
    "For each method and image: segment() then evaluate(). Region data, per method: "
    "mIoU All / Fine / Coarse pooled over images (All: every ground-truth segment of "
    "every annotator; Fine: per image the annotator with most segments; Coarse: with "
    "fewest) and mean covering. Instance data: mean F1 at IoU 0.5 and 0.75, panoptic "
    "quality and SEG (2D images and 3D stacks in separate rows); the textbook "
    "baselines gaussian-otsu and voronoi-otsu can be listed as methods. Both: "
    "seconds per image (mean, median; the segment() call only, after one "
    "untimed warm-up call per method on a 64x64 crop) and peak memory (how far the "
    "process's RSS rose above its level at the call's start, from Linux's VmHWM "
    "reset before each call; "
    "with --tracemalloc also tracemalloc's peak of numpy and Python allocations). "
    "Writes bench.md, bench.csv (per method) and bench_images.csv (per image and "
    "method) to OUTDIR."
)

EPILOG = (
    "examples:\n"
    "  unsupseg bench data/bsds500-val --methods kmeans felzenszwalb --limit 10\n"
    "  unsupseg bench data --methods kmeans:n_clusters=4 kmeans:n_clusters=8 "
    "felzenszwalb:scale=300,min_size=100 -o bench-out\n"
    "  unsupseg bench nuclei --methods cnn kmeans:n_clusters=3 gaussian-otsu "
    "voronoi-otsu --output objects"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data_dir", metavar="DATA_DIR", help="folder with images/ and groundtruth/ or masks/"
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        required=True,
        metavar="SPEC",
        help="'method' or 'method:k=v,k=v' (one method may appear with several settings)",
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="first N images only")
    parser.add_argument(
        "-o", "--outdir", default="unsupseg-bench", help="output folder (default unsupseg-bench)"
    )
    common.add_seed(parser)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report tracemalloc's peak, from a second untimed segment() call per "
        "image (doubles the run time; timings are unaffected)",
    )
    parser.add_argument(
        "--output",
        default="auto",
        choices=common.OUTPUT_CHOICES,
        help="what segment() returns (default auto: regions for RGB, objects otherwise)",
    )
    common.add_threads(parser)
    common.add_quiet(parser, "no progress bar")


def run(args) -> int:
    from .._threads import check_threads
    from ..bench import parse_method_spec, run_bench

    try:
        check_threads(args.threads)
        specs = [parse_method_spec(text) for text in args.methods]
    except ValueError as error:
        return common.usage_error(str(error))
    if args.limit is not None and args.limit < 1:
        return common.usage_error("--limit must be at least 1")
    try:
        result = run_bench(
            args.data_dir,
            specs,
            trace_memory=args.tracemalloc,
            **common.same_named(args, "limit", "seed", "device", "threads", "outdir", "output"),
            **common.shown_and_recorded(args),
        )
    except (ValueError, FileNotFoundError) as error:
        return common.usage_error(str(error))
    print(result.markdown)
    print(f"written: {', '.join(str(p) for p in result.files)}")
    return common.EXIT_FAILED if result.n_failed else common.EXIT_OK
