"""The ``unsupseg`` command: segment files in batch (optionally on Dask), score label
files against ground truth, and benchmark methods on a dataset.

Only argparse and the standard library are imported at start-up, so ``--help`` is
instant; each command imports what it needs.

Exit codes: 0 everything succeeded (or was already done), 1 some images failed,
2 usage error (bad arguments, missing inputs, unknown method or parameter, unreachable
scheduler), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

MAIN_HELP = """\
Unsupervised image segmentation from the command line (napari-unsupseg).

Run 'unsupseg COMMAND --help' for each command's options.

exit codes: 0 all ok (or already done), 1 some images failed, 2 usage error,
            130 interrupted (Ctrl-C)
"""

SEGMENT_HELP = """\
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

SEGMENT_EPILOG = """\
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


def _add_segment(commands) -> None:
    parser = commands.add_parser(
        "segment",
        help="segment files, folders or a sample: labels TIFFs, overlay PNGs, a run record "
        "(run.json, run.csv); serial or on a Dask cluster",
        description=SEGMENT_HELP,
        epilog=SEGMENT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
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
    _add_output_options(parser)
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
    _add_threads(parser)
    parser.add_argument(
        "--chunk",
        type=int,
        default=0,
        metavar="N",
        help="images bigger than memory: read lazily, segment in chunks of N pixels a side, "
        "write OUTDIR/NAME.zarr (Zarr and OME-Zarr inputs always go this way; "
        "docs/big-images.md)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=_cmd_segment)


def _add_output_options(parser) -> None:
    """--output and the objects' settings, shared by segment and bench."""
    parser.add_argument(
        "--output",
        default="auto",
        choices=("auto", "classes", "regions", "objects"),
        help="what the labels are: classes (cluster ids), regions (connected pieces), "
        "objects (one id per nucleus or cell, 0 = background) or auto (default: regions "
        "for RGB photographs, objects for other images)",
    )
    parser.add_argument(
        "--spacing",
        type=_float_list,
        default=None,
        metavar="Z,Y,X",
        help="pixel/voxel size per spatial axis (objects are split in these units)",
    )
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
        type=_int_list,
        default=None,
        metavar="IDS",
        help="class ids (as --output classes numbers them) that are background, e.g. 1,3; "
        "default: chosen from each image",
    )


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas, got {text!r}"
        ) from None


def _add_threads(parser) -> None:
    from ._threads import DEFAULT_THREADS

    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        metavar="N",
        help=f"CPU threads of the CNN methods per image (default {DEFAULT_THREADS}); labels "
        "depend on it, not on the machine or OMP_NUM_THREADS (classical methods use one)",
    )


def _add_evaluate(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a label file against ground truth (one image or an annotator stack)",
        description="Score predicted labels against ground truth and print the metrics "
        "of napari_unsupseg.evaluate (mIoU All/Fine/Coarse, Hungarian mIoU, covering, "
        "Rand index, adjusted Rand index, VI, matching scores at IoU thresholds, ...).\n\n"
        "PRED and GT are label files: TIFF, PNG (grey ids, or colours), NPY or NPZ. GT "
        "may hold a stack of annotators on its first axis (an NPZ with key 'segs', the "
        "BSDS500 layout); PRED must have the shape of one annotator's labels.",
        epilog="examples:\n"
        "  unsupseg evaluate out/cells_labels.tif truth.tif\n"
        "  unsupseg evaluate pred.tif groundtruth/12003.npz --json\n"
        "  unsupseg evaluate pred.tif truth.tif --thresholds 0.5 0.75 --csv scores.csv "
        "--segments-csv segments.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pred", metavar="PRED", help="predicted label file")
    parser.add_argument("gt", metavar="GT", help="ground-truth label file")
    parser.add_argument(
        "--csv", metavar="OUT", help="write the metrics as CSV (columns metric, value)"
    )
    parser.add_argument(
        "--segments-csv",
        metavar="OUT",
        help="write the per-ground-truth-segment table as CSV (annotator, gt_id, size, "
        "best_pred_id, iou, matched at the first threshold)",
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument(
        "--no-split-components",
        action="store_true",
        help="score predicted ids as given (default: split them into 4-connected pieces, "
        "as the papers' mIoU)",
    )
    parser.add_argument(
        "--ignore-background",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read label 0 as background (--ignore-background) or as a segment "
        "(--no-ignore-background) in every score; default: as each score's community does "
        "(a segment for mIoU, covering, Rand, VI; background for F1, PQ, SEG)",
    )
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[0.5],
        metavar="T",
        help="IoU thresholds for precision/recall/F1/PQ (default 0.5)",
    )
    parser.add_argument(
        "--boundary",
        action="store_true",
        help="also compute the BSDS benchmark's boundary F-measure (slower)",
    )
    parser.set_defaults(handler=_cmd_evaluate)


def _add_bench(commands) -> None:
    parser = commands.add_parser(
        "bench",
        help="segment and score a dataset (images/ + groundtruth/ or masks/) with several methods",
        description="Benchmark methods on a dataset laid out as DATA_DIR/images/*.jpg|png|tif "
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
        "method) to OUTDIR.",
        epilog="examples:\n"
        "  unsupseg bench data/bsds500-val --methods kmeans felzenszwalb --limit 10\n"
        "  unsupseg bench data --methods kmeans:n_clusters=4 kmeans:n_clusters=8 "
        "felzenszwalb:scale=300,min_size=100 -o bench-out\n"
        "  unsupseg bench nuclei --methods cnn kmeans:n_clusters=3 gaussian-otsu "
        "voronoi-otsu --output objects",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
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
        choices=("auto", "classes", "regions", "objects"),
        help="what segment() returns (default auto: regions for RGB, objects otherwise)",
    )
    _add_threads(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_cmd_bench)


def _add_methods(commands) -> None:
    parser = commands.add_parser(
        "methods",
        help="list the methods and their parameters (for --param / --methods)",
        description="List the segmentation methods with their parameters, defaults and ranges.",
    )
    parser.add_argument("name", nargs="?", help="show only this method")
    parser.set_defaults(handler=_cmd_methods)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="unsupseg",
        description=MAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    from ._cli_measure import add_measure

    for add in (_add_segment, _add_evaluate, add_measure, _add_bench, _add_methods):
        add(commands)
    return parser


def _usage_error(message: str) -> int:
    print(f"unsupseg: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# ----------------------------------------------------------------------------- segment


def parse_params(method: str, items: Sequence[str]) -> dict:
    """``["k=v", ...]`` to validated values, with the method's own :class:`Param` rules;
    an array parameter (scribbles) is read from the label file the value names."""
    from ._registry import get_method

    spec = get_method(method)
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}")
        if key not in spec.defaults:
            spec.resolve({key: None})  # raises the registry's message naming the parameters
        param = spec.param(key)
        if param.kind == "array":
            from .io import read_labels

            params[key] = read_labels(value)
        else:
            params[key] = param.validate(value)
    return params


def _cmd_segment(args) -> int:
    import json
    import time
    from contextlib import ExitStack
    from datetime import UTC, datetime
    from pathlib import Path

    from tqdm.auto import tqdm

    from ._checks import check_seed
    from ._previous_run import other_run_in, write_sample_truth
    from ._threads import check_threads
    from .batch import (
        BatchSettings,
        plan_jobs,
        record_header,
        run_batch,
        write_record,
    )
    from .io import remove_stale_temp_files

    if args.workers < 0:
        return _usage_error("--workers must be 0 (serial, the default) or a number of workers")
    from .chunked.store import is_zarr

    if args.chunk or any(is_zarr(path) for path in args.inputs):
        from .chunked.cli import segment_chunked_command

        return segment_chunked_command(args, parse_params)
    try:
        check_seed(args.seed)
        check_threads(args.threads)
        params = parse_params(args.method, args.param)
        jobs = plan_jobs(args.inputs, args.outdir, samples=args.sample, recursive=args.recursive)
    except (ValueError, TypeError) as error:
        return _usage_error(str(error))
    settings = BatchSettings(
        method=args.method,
        params=params,
        seed=args.seed,
        device=args.device,
        channel_axis=args.channel_axis,
        normalize=args.normalize,
        threads=args.threads,
        overlay=args.overlay,
        overwrite=args.overwrite,
        output=args.output,
        spacing=args.spacing,
        object_diameter=args.object_diameter,
        background_classes=args.background_classes,
    )

    if not args.overwrite:
        reason = other_run_in(args.outdir, record_header(settings, scheduler="", command=[]))
        if reason:
            return _usage_error(reason)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    write_sample_truth(jobs)
    for folder in sorted({Path(job.output).parent for job in jobs}):
        remove_stale_temp_files(folder)

    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.perf_counter()
    rows: list[dict] = []
    interrupted = False
    with ExitStack() as stack:
        client, scheduler = None, "serial"
        try:
            if args.workers or args.scheduler:
                from distributed import Client, LocalCluster

                if args.workers:
                    cluster = stack.enter_context(
                        LocalCluster(
                            n_workers=args.workers,
                            threads_per_worker=1,
                            processes=True,
                            host="127.0.0.1",
                            dashboard_address=None,
                        )
                    )
                    client = stack.enter_context(Client(cluster))
                    scheduler = f"LocalCluster({args.workers} workers, 1 thread each)"
                else:
                    client = stack.enter_context(Client(args.scheduler))
                    scheduler = args.scheduler
        except (OSError, TimeoutError, ValueError) as error:
            return _usage_error(f"cannot reach the Dask scheduler {args.scheduler}: {error}")

        header = record_header(settings, scheduler=scheduler, command=["unsupseg", *args.argv])
        header["started"] = started
        bar = stack.enter_context(
            tqdm(total=len(jobs), desc="images", unit="image", disable=args.quiet)
        )
        counts = {"ok": 0, "failed": 0, "skipped": 0}

        def on_row(row: dict) -> None:
            rows.append(row)
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            bar.update(1)
            bar.set_postfix(counts, refresh=False)
            if row["status"] == "failed":
                bar.write(f"failed: {row['input']}: {row['error']}", file=sys.stderr)

        def image_progress(job):
            if args.quiet:
                return None
            inner = {"bar": None}

            def callback(event) -> None:
                if inner["bar"] is None:
                    inner["bar"] = stack.enter_context(
                        tqdm(total=event.total, desc=Path(job.display).name, leave=False)
                    )
                current = inner["bar"]
                current.total = event.total
                current.n = event.iteration
                if event.n_labels is not None:
                    current.set_postfix(labels=event.n_labels, refresh=False)
                current.refresh()
                if event.iteration >= event.total:
                    current.close()

            return callback

        try:
            rows = run_batch(
                jobs, settings, client=client, on_row=on_row, image_progress=image_progress
            )
        except KeyboardInterrupt:  # keep the record of what finished
            interrupted = True

    header["seconds"] = round(time.perf_counter() - clock, 3)
    header["interrupted"] = interrupted
    json_path, _ = write_record(outdir, header, rows)
    record = json.loads(json_path.read_text())
    counts = record["counts"]
    print(
        f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped "
        f"in {header['seconds']:.1f} s; outputs and run.json/run.csv in {outdir}"
    )
    if interrupted:
        print("interrupted: re-run the same command to finish", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if counts["failed"] else EXIT_OK


# ----------------------------------------------------------------------------- evaluate


def _cmd_evaluate(args) -> int:
    import json

    import numpy as np

    from .evaluation import evaluate, segment_table, write_csv
    from .io import ImageReadError, read_labels

    try:
        pred, truth = read_labels(args.pred), read_labels(args.gt)
    except ImageReadError as error:
        return _usage_error(str(error))
    options = {
        "split_components": not args.no_split_components,
        "ignore_background": args.ignore_background,
    }
    try:
        metrics = evaluate(
            pred, truth, thresholds=tuple(args.thresholds), boundary=args.boundary, **options
        )
        table = (
            segment_table(pred, truth, threshold=args.thresholds[0], **options)
            if args.segments_csv
            else None
        )
    except (ValueError, TypeError) as error:
        return _usage_error(str(error))
    metrics = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in metrics.items()}
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        width = max(map(len, metrics))
        for key, value in metrics.items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")
    if args.csv:
        write_csv(args.csv, metrics)
    if table is not None:
        write_csv(args.segments_csv, table)
    return EXIT_OK


# ----------------------------------------------------------------------------- bench


def _cmd_bench(args) -> int:
    from ._threads import check_threads
    from .bench import parse_method_spec, run_bench

    try:
        check_threads(args.threads)
        specs = [parse_method_spec(text) for text in args.methods]
    except ValueError as error:
        return _usage_error(str(error))
    if args.limit is not None and args.limit < 1:
        return _usage_error("--limit must be at least 1")
    try:
        result = run_bench(
            args.data_dir,
            specs,
            limit=args.limit,
            seed=args.seed,
            device=args.device,
            threads=args.threads,
            outdir=args.outdir,
            trace_memory=args.tracemalloc,
            progress=not args.quiet,
            command=["unsupseg", *args.argv],
            output=args.output,
        )
    except (ValueError, FileNotFoundError) as error:
        return _usage_error(str(error))
    print(result.markdown)
    print(f"written: {', '.join(str(p) for p in result.files)}")
    return EXIT_FAILED if result.n_failed else EXIT_OK


# ----------------------------------------------------------------------------- methods


def _cmd_methods(args) -> int:
    from ._registry import available_methods, get_method

    try:
        specs = [get_method(args.name)] if args.name else list(available_methods().values())
    except ValueError as error:
        return _usage_error(str(error))
    for spec in specs:
        print(f"{spec.name}: {spec.description}")
        for param in spec.params:
            bounds = ""
            if param.choices:
                bounds = " {" + ", ".join(map(str, param.choices)) + "}"
            elif param.min is not None or param.max is not None:
                bounds = f" [{param.min}, {param.max}]"
            special = f" or {', '.join(map(str, param.special))}" if param.special else ""
            when = ""
            if param.relevant_when and param.relevant_when[0] in spec.defaults:
                other, values = param.relevant_when
                when = f" (only with {other}={'/'.join(map(str, values))})"
            print(
                f"    {param.name}={param.default!r} ({param.kind}{bounds}{special}) "
                f"{param.help}{when}"
            )
        print()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``unsupseg`` console script; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
