"""``unsupseg measure IMAGE LABELS -o table.csv``: the measurement table of a label
file over its image (:func:`napari_unsupseg.measure`), as the napari widget
shows it."""

from __future__ import annotations

import argparse

from . import common

NAME = "measure"
HELP = "one row per label: size, area/volume, channel means and spreads, pieces, bbox"

DESCRIPTION = """\
Measure every label of LABELS over IMAGE and write one CSV row per label: label,
pixels, area (2D) or volume (3D), mean and std of each channel, pieces (face-connected
pieces) and the bounding box (bbox_min_*, bbox_max_*: pixel indices, end excluded).

IMAGE has the labels' shape, plus at most one channel axis (found from the shapes, or
given by --channel-axis). Label 0 is background and gets no row.
"""

EPILOG = """\
examples:
  unsupseg measure cells.tif out/cells_labels.tif -o table.csv
  unsupseg measure stack.tif stack_labels.tif --spacing 2,0.5,0.5 -o table.csv
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="the image file the labels belong to")
    parser.add_argument("labels", metavar="LABELS", help="label file (TIFF, PNG, NPY, NPZ)")
    parser.add_argument("-o", "--output", required=True, metavar="CSV", help="table to write")
    parser.add_argument(
        "--channel-axis",
        type=int,
        default=None,
        metavar="N",
        help="axis of IMAGE that holds channels (default: found from the two shapes)",
    )
    common.add_spacing(parser, ", for area/volume (default 1 per axis)")


def run(args) -> int:
    from ..io import ImageReadError, read_image, read_labels
    from ..measurements import measure, write_table

    try:
        image, labels = read_image(args.image), read_labels(args.labels)
        rows = measure(image, labels, spacing=args.spacing, channel_axis=args.channel_axis)
    except (ImageReadError, ValueError, TypeError) as error:
        return common.usage_error(str(error))
    path = write_table(args.output, rows)
    print(f"{len(rows)} labels measured; written: {path}")
    return common.EXIT_OK
