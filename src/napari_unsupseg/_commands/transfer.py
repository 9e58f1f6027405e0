"""``unsupseg transfer SOURCE SOURCE_LABELS TARGET... -o OUTDIR``: one annotated image
teaches its classes to images from another microscope (:func:`napari_unsupseg.segment`
with ``method="transfer"``), as the label-transfer dock does."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import common

NAME = "transfer"
HELP = "give the classes of one annotated image to other images (label transfer)"

DESCRIPTION = """\
Label transfer across domains by adversarial output-space adaptation (Tsai et al. 2018,
"Learning to Adapt Structured Output Space for Semantic Segmentation"): a small network
learns the classes of SOURCE_LABELS on SOURCE while adapting to every TARGET at once,
then labels each TARGET with the source's label ids. Guided by one annotation, not
unsupervised. Writes OUTDIR/<target>_labels.tif per target.

SOURCE_LABELS has SOURCE's spatial shape; its 0 is a class (background) like the
others, or, with --param label_zero=unlabelled, pixels left unannotated that teach
nothing. Targets need SOURCE's channels, not its size.
"""

EPILOG = """\
examples:
  unsupseg transfer confocal.tif confocal_labels.tif widefield1.tif widefield2.tif -o out
  unsupseg transfer src.tif src_labels.tif tgt.tif -o out --param max_iter=300 --seed 1
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="the annotated image")
    parser.add_argument("source_labels", metavar="SOURCE_LABELS", help="its label file")
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="images to label")
    parser.add_argument("-o", "--outdir", required=True, help="folder for the label files")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the transfer method (see: unsupseg methods transfer)",
    )
    parser.add_argument(
        "--channel-axis",
        type=int,
        default=None,
        metavar="N",
        help="axis holding channels, in the source and the targets alike (default: "
        "RGB guessed as napari does)",
    )
    common.add_seed(parser)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    common.add_threads(parser)
    common.add_quiet(parser, "no progress bar")
    parser.set_defaults(method="transfer")  # what --param names belong to


def run(args) -> int:
    from .._api import segment
    from .._batch_plan import LABELS_SUFFIX
    from ..io import ImageReadError, read_image, read_labels, write_labels

    try:
        params = common.parse_params(args.method, args.param)
        source, labels = read_image(args.source), read_labels(args.source_labels)
        targets = [read_image(path) for path in args.targets]
    except (ImageReadError, ValueError, TypeError) as error:
        return common.usage_error(str(error))
    outputs = [Path(args.outdir) / (Path(path).stem + LABELS_SUFFIX) for path in args.targets]
    if len(set(outputs)) < len(outputs):
        return common.usage_error("two targets have the same file name: their labels would clash")

    clock = time.perf_counter()
    try:
        with common.stage_bar(args.method, args.quiet) as update:
            found = segment(
                targets, args.method, source_image=source, source_labels=labels,
                channel_axis=args.channel_axis, seed=args.seed, device=args.device,
                threads=args.threads, progress=update, **params,
            )  # fmt: skip
    except (ValueError, TypeError, MemoryError) as error:
        return common.usage_error(str(error))
    Path(args.outdir).mkdir(parents=True, exist_ok=True)
    for path, target_labels in zip(outputs, found, strict=True):
        write_labels(path, target_labels)
    seconds = time.perf_counter() - clock
    print(f"{len(outputs)} target(s) labelled in {seconds:.1f} s; written to {args.outdir}")
    return common.EXIT_OK
