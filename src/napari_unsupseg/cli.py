"""The ``unsupseg`` command: segment files in batch (optionally on Dask), score label
files against ground truth, measure labels, and benchmark methods on a dataset.

Each subcommand is a module of :mod:`napari_unsupseg._commands`: its NAME, texts (HELP,
DESCRIPTION, EPILOG), ``add_arguments(parser)`` and a ``run(args)`` that calls the
library and prints; this module assembles them and holds ``main()``.
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

from ._commands import bench, evaluate, measure, methods, segment, transfer
from ._commands.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    parse_params,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "parse_params",
]

MAIN_HELP = """\
Unsupervised image segmentation from the command line (napari-unsupseg).

Run 'unsupseg COMMAND --help' for each command's options.

exit codes: 0 all ok (or already done), 1 some images failed, 2 usage error,
            130 interrupted (Ctrl-C)
"""


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="unsupseg",
        description=MAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (segment, evaluate, measure, bench, methods, transfer):
        subparser = commands.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.DESCRIPTION,
            epilog=command.EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(subparser)
        subparser.set_defaults(handler=command.run)
    return parser


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
