"""What the subcommands share: exit codes, the usage-error message, argument types,
the options more than one command takes (``--seed``, ``--spacing``, ``--threads``,
``-q``), passing options on under their own names, and the ``--param KEY=VALUE``
parser."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import contextmanager

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


#: what ``--output`` may ask ``segment()`` for
OUTPUT_CHOICES = ("auto", "classes", "regions", "objects")


def same_named(args, *names: str) -> dict:
    """The options ``names`` as keyword arguments of the same names: the library's
    parameters are named as the options (``--channel-axis``: ``channel_axis``)."""
    return {name: getattr(args, name) for name in names}


def add_seed(parser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def add_quiet(parser, what: str = "no progress bars") -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help=what)


def shown_and_recorded(args) -> dict:
    """``progress`` (bars unless ``--quiet``) and ``command`` (as typed, for the
    records a run writes): what a run takes from the command line besides its
    settings."""
    return {"progress": not args.quiet, "command": ["unsupseg", *args.argv]}


def usage_error(message: str) -> int:
    """Say what is wrong, as argparse does; the usage exit code."""
    print(f"unsupseg: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _number_list(kind, what: str):
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {what} separated by commas, got {text!r}"
            ) from None

    return parse


#: ``"2,0.5,0.5"`` to ``(2.0, 0.5, 0.5)`` (argparse type)
float_list = _number_list(float, "numbers")
#: ``"1,3"`` to ``(1, 3)`` (argparse type)
int_list = _number_list(int, "whole numbers")


def add_spacing(parser, what: str) -> None:
    """``--spacing Z,Y,X``: the pixel (voxel) size per spatial axis, ``what`` it is for."""
    parser.add_argument(
        "--spacing",
        type=float_list,
        default=None,
        metavar="Z,Y,X",
        help=f"pixel/voxel size per spatial axis{what}",
    )


def add_threads(parser) -> None:
    from .._threads import DEFAULT_THREADS

    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        metavar="N",
        help=f"CPU threads of the CNN methods per image (default {DEFAULT_THREADS}); labels "
        "depend on it, not on the machine or OMP_NUM_THREADS (classical methods use one)",
    )


def parse_params(method: str, items: Sequence[str]) -> dict:
    """``["k=v", ...]`` to validated values, with the method's own :class:`Param` rules;
    an array parameter (scribbles) is read from the label file the value names."""
    from .._params_text import parse_key_values

    def read_array(key: str, value: str):
        from ..io import read_labels

        return read_labels(value)

    return parse_key_values(
        method, items, malformed="--param expects KEY=VALUE, got ", read_array=read_array
    )


@contextmanager
def stage_bar(name: str, quiet: bool):
    """A terminal bar named ``name`` and its ``progress`` callback, which shows the
    run's stage beside the name; closed on leaving, also on errors."""
    from tqdm.auto import tqdm

    bar = tqdm(desc=name, disable=quiet, leave=False)

    def update(event) -> None:
        bar.set_description(f"{name}: {event.stage}" if event.stage else name)
        bar.total, bar.n = event.total, event.iteration
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
