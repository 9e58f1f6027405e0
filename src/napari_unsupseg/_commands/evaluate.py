"""``unsupseg evaluate``: score a label file against ground truth
(:func:`napari_unsupseg.evaluate`) and print or write the metrics."""

from __future__ import annotations

import argparse

from . import common

NAME = "evaluate"
HELP = "score a label file against ground truth (one image or an annotator stack)"

DESCRIPTION = (
    "Score predicted labels against ground truth and print the metrics "
    "of napari_unsupseg.evaluate (mIoU All/Fine/Coarse, Hungarian mIoU, covering, "
    "Rand index, adjusted Rand index, VI, matching scores at IoU thresholds, ...).\n\n"
    "PRED and GT are label files: TIFF, PNG (grey ids, or colours), NPY or NPZ. GT "
    "may hold a stack of annotators on its first axis (an NPZ with key 'segs', the "
    "BSDS500 layout); PRED must have the shape of one annotator's labels."
)

EPILOG = (
    "examples:\n"
    "  unsupseg evaluate out/cells_labels.tif truth.tif\n"
    "  unsupseg evaluate pred.tif groundtruth/12003.npz --json\n"
    "  unsupseg evaluate pred.tif truth.tif --thresholds 0.5 0.75 --csv scores.csv "
    "--segments-csv segments.csv"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def run(args) -> int:
    import json

    import numpy as np

    from ..evaluation import evaluate, segment_table, write_csv
    from ..io import ImageReadError, read_labels

    try:
        pred, truth = read_labels(args.pred), read_labels(args.gt)
    except ImageReadError as error:
        return common.usage_error(str(error))
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
        return common.usage_error(str(error))
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
    return common.EXIT_OK
