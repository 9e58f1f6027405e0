"""``unsupseg segment``: images to label files, serially or on a Dask cluster
(:func:`napari_unsupseg.batch.segment_batch`), or chunk by chunk for images bigger
than memory (:mod:`.segment_chunked`)."""

from __future__ import annotations

import argparse
import sys

from . import common

NAME = "segment"
HELP = (
    "segment files, folders or a sample: labels TIFFs, overlay PNGs, a run record "
    "(run.json, run.csv); serial or on a Dask cluster"
)

DESCRIPTION = """\
Segment images and write one label TIFF per input.

INPUT may be files or folders (TIFF incl. multichannel and z-stacks, PNG, JPEG);
folders are scanned for those types, subfolders too with --recursive (their layout is
mirrored in OUTDIR). Outputs in OUTDIR:
  <stem>_labels.tif    int32 labels 1..K (largest region first), the image's spatial shape
  <stem>_overlay.png   with --overlay: image, label colours and boundaries (stacks: middle plane)
  <sample>_truth.tif   for --sample cells / cells_3d: the sample's ground truth
  run.json, run.csv    the run record: method, all parameters, seed, threads, device,
                       version; per image: input, output, status ok/failed/skipped,
                       error, seconds, n_labels
A failed image (unreadable, bad shape) is recorded and the batch goes on. Outputs are
written atomically (temporary file, then rename), so an interrupted run never leaves a
truncated file; re-running with the same settings skips images whose labels exist and
read back, unless --overwrite; a folder holding another run (other method, parameters
or seed) is refused unless --overwrite.

Seeding: every image is segmented with --seed and --threads as they are, so an image
gets the same labels serially, with --workers or on any cluster, whatever
OMP_NUM_THREADS or the workers' thread counts say.
"""

EPILOG = """\
examples:
  unsupseg segment --sample coffee -m cnn --overlay -o unsupseg-demo
  unsupseg segment photos/ -m kmeans --param n_clusters=6 --overlay -o out
  unsupseg segment stack.tif -m gmm --channel-axis 1 -o out
  unsupseg segment plates/ --recursive -m felzenszwalb --workers 2 -o out
  unsupseg segment plates/ -m kmeans --scheduler tcp://10.0.0.5:8786 -o /shared/out

channel axis: without --channel-axis, a TIFF that names its channel axis (ImageJ 'C',
or RGB samples) is used as such; otherwise a last axis of 3 or 4 is colour, and any
other axis is spatial (a 3D array is a z-stack).
exit codes: 0 all ok or skipped, 1 some images failed, 2 usage error, 130 Ctrl-C
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="image files or folders")
    parser.add_argument(
        "--sample",
        action="append",
        default=[],
        metavar="NAME",
        help="segment a built-in sample: coffee, cells (2 channels) or cells_3d (repeatable)",
    )
    parser.add_argument(
        "-m",
        "--method",
        default="cnn",
        help="method name ('unsupseg methods' lists them; default cnn, as in the Python API)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a method parameter, e.g. n_clusters=6 (repeatable); checked against the "
        "method's range; an array parameter (scribbles) takes a label file path",
    )
    common.add_seed(parser)
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda or mps (CNN methods; default auto)"
    )
    parser.add_argument(
        "--channel-axis",
        type=int,
        default=None,
        metavar="N",
        help="axis of the input arrays that holds channels (e.g. 0 for a CYX TIFF)",
    )
    parser.add_argument(
        "--normalize",
        default="auto",
        choices=("auto", "percentile", "minmax", "none"),
        help="intensity scaling before segmenting (default auto: /255 for 8-bit, "
        "robust percentiles otherwise)",
    )
    add_output_options(parser)
    parser.add_argument("-o", "--outdir", required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--overlay", action="store_true", help="also write overlay PNGs")
    parser.add_argument("--recursive", action="store_true", help="scan folders recursively")
    parser.add_argument(
        "--overwrite", action="store_true", help="redo images whose outputs already exist"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run on a local Dask cluster of N worker processes (1 thread each)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing dask.distributed cluster, e.g. tcp://127.0.0.1:8786 "
        "(workers must see the input and output paths)",
    )
    common.add_threads(parser)
    parser.add_argument(
        "--chunk",
        type=int,
        default=0,
        metavar="N",
        help="images bigger than memory: read lazily, segment in chunks of N pixels a side, "
        "write OUTDIR/NAME.zarr (Zarr and OME-Zarr inputs always go this way; "
        "docs/big-images.md)",
    )
    common.add_quiet(parser)
    return parser


def add_output_options(parser) -> None:
    """--output and the objects' settings, shared by segment and bench."""
    parser.add_argument(
        "--output",
        default="auto",
        choices=common.OUTPUT_CHOICES,
        help="what the labels are: classes (cluster ids), regions (connected pieces), "
        "objects (one id per nucleus or cell, 0 = background) or auto (default: regions "
        "for RGB photographs, objects for other images)",
    )
    common.add_spacing(parser, " (objects are split in these units)")
    parser.add_argument(
        "--object-diameter",
        type=float,
        default=None,
        metavar="D",
        help="typical object diameter in --spacing units (pixels without it); "
        "default: measured from each image",
    )
    parser.add_argument(
        "--background-classes",
        type=common.int_list,
        default=None,
        metavar="IDS",
        help="class ids (as --output classes numbers them) that are background, e.g. 1,3; "
        "default: chosen from each image",
    )


def run(args) -> int:
    from dataclasses import fields

    from .._checks import check_seed
    from .._threads import check_threads
    from ..batch import BatchSettings, BatchUsageError, segment_batch
    from ..chunked.store import is_zarr

    if args.workers < 0:
        return common.usage_error(
            "--workers must be 0 (serial, the default) or a number of workers"
        )
    try:
        check_seed(args.seed)
        check_threads(args.threads)
        params = common.parse_params(args.method, args.param)
    except (ValueError, TypeError) as error:
        return common.usage_error(str(error))
    if args.chunk or any(is_zarr(path) for path in args.inputs):
        from .segment_chunked import run_chunked

        return run_chunked(args, params)
    named = [field.name for field in fields(BatchSettings) if field.name != "params"]
    settings = BatchSettings(params=params, **common.same_named(args, *named))
    try:
        outcome = segment_batch(
            args.inputs,
            args.outdir,
            settings,
            samples=args.sample,
            **common.same_named(args, "recursive", "workers", "scheduler"),
            **common.shown_and_recorded(args),
        )
    except BatchUsageError as error:
        return common.usage_error(str(error))
    counts = outcome.counts
    print(
        f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped "
        f"in {outcome.seconds:.1f} s; outputs and run.json/run.csv in {outcome.outdir}"
    )
    if outcome.interrupted:
        print("interrupted: re-run the same command to finish", file=sys.stderr)
        return common.EXIT_INTERRUPTED
    return common.EXIT_FAILED if counts["failed"] else common.EXIT_OK
