"""The catalogue of segmenters: names, parameters, defaults and descriptions.

Each engine module declares its own :class:`MethodSpec` objects; this module only
collects them. Widgets build their forms from these specs, the command line parses
``--param k=v`` with them, and :func:`segment` validates keyword arguments against
them, so a parameter is described exactly once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Parameter kinds that a form or a command line can hold; "array" is a numpy array
#: (scribbles) that only the Python API or a layer picker can provide.
KINDS = ("int", "float", "str", "bool", "array")


@dataclass(frozen=True)
class Param:
    """One tunable parameter of a segmenter."""

    name: str
    default: Any
    kind: str
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    #: extra values accepted besides numbers in range (e.g. "auto" for min_labels)
    special: tuple[Any, ...] = ()
    #: (other parameter, its values) for which this one matters, e.g. SLIC's settings
    #: only with ``refinement="slic"``; forms hide it otherwise. Methods that lack the
    #: other parameter always use this one.
    relevant_when: tuple[str, tuple[Any, ...]] | None = None

    def is_relevant(self, values: Mapping[str, Any]) -> bool:
        """Whether this parameter has an effect, given the method's other values."""
        if self.relevant_when is None or self.relevant_when[0] not in values:
            return True
        name, allowed = self.relevant_when
        return values[name] in allowed

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's kind, or raise a clear error."""
        if value in self.special and not isinstance(value, bool | float):
            return value
        if value is None and self.default is None:
            return None
        if self.kind == "array":
            return value
        if self.kind == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(f"parameter {self.name!r} must be true or false, got {value!r}")
            return bool(value)
        if self.kind == "str":
            value = str(value)
            if self.choices is not None and value not in self.choices:
                options = ", ".join(map(str, self.choices))
                raise ValueError(f"parameter {self.name!r} must be one of {options}; got {value!r}")
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"parameter {self.name!r} must be a number, got {value!r}") from None
        if number != number:
            raise ValueError(f"parameter {self.name!r} must be a number, got NaN")
        if number in (float("inf"), float("-inf")):
            raise ValueError(f"parameter {self.name!r} must be a finite number, got {value!r}")
        if self.kind == "int":
            if number != int(number):
                raise ValueError(f"parameter {self.name!r} must be a whole number, got {value!r}")
            number = int(number)
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            raise ValueError(
                f"parameter {self.name!r} = {value!r} is out of range "
                f"[{self.min if self.min is not None else '-inf'}, "
                f"{self.max if self.max is not None else 'inf'}]"
            )
        return number


@dataclass(frozen=True)
class MethodSpec:
    """A segmenter: its entry point (``module:function``) and its parameters.

    The entry point is called as ``fn(features, *, seed, device, reporter, **params)``
    where ``features`` is float32, channel-last, normalised, with 2 or 3 spatial axes;
    it returns integer labels of the spatial shape (any ids: they are renumbered).
    """

    name: str
    description: str
    entry_point: str
    params: tuple[Param, ...] = ()
    uses_torch: bool = False
    iterative: bool = False
    paper: str = ""
    #: spatial dimensionalities the method accepts natively
    spatial_ndims: tuple[int, ...] = (2, 3)
    #: ``module:function(spatial_shape, n_channels, params, device) -> bytes``; the
    #: run is refused up front when the estimate does not fit in available memory.
    memory_estimate: str = "napari_unsupseg._memory:classical_estimate"
    #: guided by a labelled source image: not among :func:`available_methods`; its entry
    #: point takes the user's image and :func:`napari_unsupseg.segment`'s keywords
    guided: bool = False
    _param_index: dict[str, Param] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self._param_index.update({p.name: p for p in self.params})

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        return self._param_index[name]

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``params``, each validated; unknown names raise."""
        unknown = sorted(set(params) - set(self._param_index))
        if unknown:
            known = ", ".join(self._param_index) or "none"
            raise ValueError(
                f"method {self.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters are: {known}"
            )
        resolved = self.defaults
        for key, value in params.items():
            resolved[key] = self._param_index[key].validate(value)
        return resolved

    def load(self) -> Callable[..., Any]:
        return _import(self.entry_point)

    def estimate_memory(self, spatial_shape, n_channels: int, params, device="auto") -> int:
        """Peak bytes this method is expected to need on ``spatial_shape``."""
        return int(_import(self.memory_estimate)(spatial_shape, n_channels, params, device))


def _import(entry_point: str):
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)


_ENGINE_MODULES = (
    "napari_unsupseg.classical",
    "napari_unsupseg.cnn.specs",
    "napari_unsupseg.baselines.specs",
)
#: methods that need more than the image (a labelled source): found by name only
_GUIDED_MODULES = ("napari_unsupseg.transfer.specs",)


def available_methods() -> dict[str, MethodSpec]:
    """Every segmenter by name, in the order the widgets list them."""
    methods: dict[str, MethodSpec] = {}
    for module in _ENGINE_MODULES:
        for spec in importlib.import_module(module).METHODS:
            methods[spec.name] = spec
    default = methods.pop("cnn", None)
    return {"cnn": default, **methods} if default is not None else methods


def guided_methods() -> dict[str, MethodSpec]:
    """Methods guided by a labelled source image (label transfer), by name."""
    return {
        module.METHOD.name: module.METHOD
        for module in map(importlib.import_module, _GUIDED_MODULES)
    }


def get_method(name: str) -> MethodSpec:
    methods = {**available_methods(), **guided_methods()}
    try:
        return methods[name]
    except KeyError:
        raise ValueError(
            f"unknown method {name!r}; available methods: {', '.join(methods)}"
        ) from None
