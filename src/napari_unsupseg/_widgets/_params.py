"""Form fields built from a method's :class:`~napari_unsupseg.Param` specs.

Each parameter is described once, in the engine; this module only turns that
description into a magicgui widget with its range, choices and help as tooltip.
"""

from __future__ import annotations

import math

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox

from .._registry import Param

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e12
_NUMBER = "value"


def _tooltip(param: Param) -> str:
    tip = param.help
    if param.min is not None or param.max is not None:
        low = "-∞" if param.min is None else f"{param.min:g}"
        high = "∞" if param.max is None else f"{param.max:g}"
        tip += f"\nRange: {low} to {high}."
    if param.special:
        tip += f"\nAlso accepts: {', '.join(map(str, param.special))}."
    return tip + f"\nDefault: {param.default}."


def _float_step(value: float) -> float:
    """A step one decade below the default's magnitude: 0.8 -> 0.01, 100 -> 10."""
    if not value:
        return 0.1
    return 10.0 ** (math.floor(math.log10(abs(value))) - 1)


def _number_widget(param: Param, value):
    label = param.name.replace("_", " ")
    if param.kind == "int":
        low = -_INT_LIMIT if param.min is None else math.ceil(param.min)
        high = _INT_LIMIT if param.max is None else int(param.max)
        return SpinBox(value=int(value), min=low, max=high, label=label)
    low = -_FLOAT_LIMIT if param.min is None else float(param.min)
    high = _FLOAT_LIMIT if param.max is None else float(param.max)
    step = _float_step(float(value))
    widget = FloatSpinBox(min=low, max=high, step=step, label=label)
    decimals = max(3, 1 - math.floor(math.log10(step)))
    if 0 < low < 1:
        decimals = max(decimals, 1 - math.floor(math.log10(low)))
    widget.native.setDecimals(min(decimals, 8))
    widget.value = float(value)
    return widget


class SpecialValueWidget(Container):
    """A number that may instead take a named value, e.g. ``min_labels = "auto"``."""

    def __init__(self, param: Param):
        specials = list(param.special) + ([None] if param.default is None else [])
        numeric_default = param.min if param.min is not None else 0
        is_special = param.default in specials
        self._mode = ComboBox(
            choices=[(str(v).lower(), v) for v in specials] + [(_NUMBER, _NUMBER)],
            value=param.default if is_special else _NUMBER,
        )
        self._number = _number_widget(param, numeric_default if is_special else param.default)
        super().__init__(
            widgets=[self._mode, self._number],
            layout="horizontal",
            labels=False,
            label=param.name.replace("_", " "),
        )
        self.margins = (0, 0, 0, 0)
        self._mode.changed.connect(self._sync)
        self._sync()

    def _sync(self, *_):
        self._number.enabled = self._mode.value == _NUMBER

    @property
    def value(self):
        return self._number.value if self._mode.value == _NUMBER else self._mode.value

    @value.setter
    def value(self, value):
        if value in self._mode.choices and value != _NUMBER:
            self._mode.value = value
        else:
            self._mode.value = _NUMBER
            self._number.value = value


def param_widget(param: Param):
    """The magicgui widget for ``param``; ``None`` for arrays (set from a layer picker)."""
    label = param.name.replace("_", " ")
    if param.kind == "array":
        return None
    if param.kind == "bool":
        widget = CheckBox(value=bool(param.default), label=label)
    elif param.kind == "str" and param.choices:
        widget = ComboBox(choices=list(param.choices), value=param.default, label=label)
    elif param.kind == "str":
        widget = LineEdit(value=str(param.default or ""), label=label)
    elif param.special or param.default is None:
        widget = SpecialValueWidget(param)
    else:
        widget = _number_widget(param, param.default)
    widget.name = param.name
    widget.tooltip = _tooltip(param)
    return widget
