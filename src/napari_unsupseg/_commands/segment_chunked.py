"""``unsupseg segment`` on images bigger than memory: Zarr / OME-Zarr inputs, or any
input with ``--chunk N``, are read lazily and their labels written to
``OUTDIR/NAME.zarr`` chunk by chunk, on local threads or a Dask cluster
(:mod:`napari_unsupseg.chunked`)."""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from pathlib import Path

from . import common


def output_path(outdir, source) -> Path:
    name = Path(source).name
    for suffix in (".ome.zarr", ".zarr", ".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Path(outdir) / f"{name}.zarr"


def run_chunked(args, params: dict) -> int:
    """Segment every input lazily with the method's checked ``params``; return the
    exit status."""

    from .._cluster import dask_client
    from .._progress import Reporter
    from ..chunked import lazy_classes
    from ..chunked.store import open_lazy, write_segmentation

    if args.sample:
        return common.usage_error("--sample images are small: drop --chunk")
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    failed = 0
    parallel = max(1, args.workers or 2)  # chunks at once: workers, or two threads
    with ExitStack() as stack:
        try:
            client = stack.enter_context(dask_client(args.workers, args.scheduler))
        except (OSError, TimeoutError, ValueError) as error:
            return common.usage_error(f"cannot reach the Dask scheduler: {error}")
        where = args.scheduler or "threads"
        if args.workers:
            where = f"LocalCluster({args.workers} workers)"
        for source in args.inputs:
            clock = time.perf_counter()
            target = output_path(outdir, source)
            try:
                with common.stage_bar(Path(source).name, args.quiet) as update:
                    image, channel_axis = open_lazy(source)
                    if args.channel_axis is not None:
                        channel_axis = args.channel_axis
                    classes, kind, _ = lazy_classes(
                        image, args.method, output=args.output, channel_axis=channel_axis,
                        seed=args.seed, device=args.device, normalize=args.normalize,
                        threads=args.threads, chunk=args.chunk or None, spacing=args.spacing,
                        object_diameter=args.object_diameter,
                        background_classes=args.background_classes,
                        workers=parallel, progress=update, **params,
                    )  # fmt: skip
                    write_segmentation(
                        classes, target, kind, client=client, workers=parallel,
                        reporter=Reporter(update),
                    )  # fmt: skip
            except (ValueError, TypeError, OSError, MemoryError) as error:
                failed += 1
                print(f"failed: {source}: {error}", file=sys.stderr)
                continue
            seconds = time.perf_counter() - clock
            print(f"{source} -> {target} ({kind}, {where}) in {seconds:.1f} s")
    return common.EXIT_FAILED if failed else common.EXIT_OK
