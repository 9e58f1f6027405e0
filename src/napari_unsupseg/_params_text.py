"""Method parameters written as text, ``KEY=VALUE``: one parser for ``unsupseg segment
--param`` and for the benchmark's ``method:k=v,k=v`` specs, checked by the method's own
:class:`~napari_unsupseg._registry.Param` rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def parse_key_values(
    method: str,
    items: Iterable[str],
    *,
    malformed: str,
    read_array: Callable[[str, str], Any],
) -> dict[str, Any]:
    """``["k=v", ...]`` to ``{k: validated value}`` for ``method``.

    ``malformed`` opens the message for an item without ``=`` or key (its repr
    follows); an unknown key raises the registry's message naming
    the method's parameters; an array parameter (scribbles) gets
    ``read_array(key, value)``, which may read a file or refuse.
    """
    from ._registry import get_method

    spec = get_method(method)
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{malformed}{item!r}")
        if key not in spec.defaults:
            spec.resolve({key: value})  # raises, naming the method's parameters
        param = spec.param(key)
        params[key] = read_array(key, value) if param.kind == "array" else param.validate(value)
    return params
