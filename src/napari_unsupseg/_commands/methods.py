"""``unsupseg methods``: the methods, their parameters, defaults and ranges, as the
registry declares them."""

from __future__ import annotations

import argparse

from . import common

NAME = "methods"
HELP = "list the methods and their parameters (for --param / --methods)"
DESCRIPTION = "List the segmentation methods with their parameters, defaults and ranges."
EPILOG = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show only this method")


def run(args) -> int:
    from .._registry import available_methods, get_method

    try:
        specs = [get_method(args.name)] if args.name else list(available_methods().values())
    except ValueError as error:
        return common.usage_error(str(error))
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
    return common.EXIT_OK
