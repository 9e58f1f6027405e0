"""What a segmenter is: its parameters (:class:`Param`, with their one default) and
its spec (:class:`MethodSpec`: the functions that run it, estimate its memory and, for
the CNNs, train it on a list of images; the engine settings that make the method).

This module imports nothing of the package, so every engine can declare its specs
here without a cycle; :mod:`napari_unsupseg._registry` collects them. Widgets build
their forms from the specs, the command line parses ``--param k=v`` with them, and
:func:`napari_unsupseg.segment` validates keyword arguments against them, so a
parameter and its default are written exactly once.
"""

from __future__ import annotations

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
    """A segmenter: the function that runs it, its parameters and fixed settings.

    ``run`` is called as ``run(features, *, seed, device, reporter, **settings)`` with
    ``settings`` = :meth:`settings` (every parameter resolved, plus :attr:`fixed`);
    ``features`` are float32, channel-last, normalised, with 2 or 3 spatial axes; it
    returns integer labels of the spatial shape (any ids: they are renumbered).
    """

    name: str
    description: str
    run: Callable[..., Any]
    #: ``estimate(spatial_shape, n_channels, settings, device) -> bytes``; the run is
    #: refused up front when the estimate does not fit in available memory
    estimate: Callable[..., int]
    params: tuple[Param, ...] = ()
    #: engine settings that make this method (not user parameters): what the engine
    #: does where the method has no parameter, e.g. Kanezaki's SLIC refinement
    fixed: Mapping[str, Any] = field(default_factory=dict)
    #: ``series(features, index, settings, *, seed, device, reporter, batch_size)``:
    #: train one network on ``features[i] for i in index`` and label every array
    #: (:func:`napari_unsupseg.segment_series`); None where the method cannot
    series: Callable[..., list] | None = None
    uses_torch: bool = False
    iterative: bool = False
    paper: str = ""
    #: spatial dimensionalities the method accepts natively
    spatial_ndims: tuple[int, ...] = (2, 3)
    #: guided by a labelled source image: not among ``available_methods()``; ``run``
    #: takes the user's image and :func:`napari_unsupseg.segment`'s keywords
    guided: bool = False
    _param_index: dict[str, Param] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self._param_index.update({p.name: p for p in self.params})
        both = sorted(set(self._param_index) & set(self.fixed))
        if both:
            raise ValueError(f"method {self.name!r}: {both} are both parameters and fixed")

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

    def settings(self, resolved: Mapping[str, Any]) -> dict[str, Any]:
        """What the engine is given: the resolved parameters and the fixed settings."""
        return {**resolved, **self.fixed}

    def estimate_memory(self, spatial_shape, n_channels: int, params, device="auto") -> int:
        """Peak bytes this method is expected to need on ``spatial_shape``, with the
        resolved ``params``."""
        return int(self.estimate(spatial_shape, n_channels, self.settings(params), device))
