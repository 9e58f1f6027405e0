"""Form fields the docks share, each written once: pickers, switches, the seed box.

magicgui widgets (their Qt side is made when a field is built, not at import).
"""

from __future__ import annotations

import logging

from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, Label, SpinBox

SEED_MAX = 2**31 - 1
#: what the device picker offers before (or without) asking torch
BASIC_DEVICES = ["auto", "cpu"]


def device_choices() -> list[str]:
    """Ask torch which accelerators exist (imports torch: call it only for a dock that
    trains); a broken torch install must not break the form, so it falls back to
    auto and cpu."""
    from .._device import available_devices

    try:
        return available_devices()
    except Exception as error:
        logging.getLogger(__name__).warning("could not list torch devices: %s", error)
        return list(BASIC_DEVICES)


def picker(name: str, choices, tooltip: str, label: str | None = None, **kwargs) -> ComboBox:
    """A drop-down; ``choices`` may be a callable, re-read on ``reset_choices``."""
    label = label if label is not None else name.replace("_", " ")
    return ComboBox(name=name, label=label, choices=choices, tooltip=tooltip, **kwargs)


def switch(name: str, text: str, tooltip: str, value: bool = False) -> CheckBox:
    return CheckBox(name=name, text=text, value=value, tooltip=tooltip)


def size_box(name: str, label: str, tooltip: str, **kwargs) -> FloatSpinBox:
    """A length in the layer's units, 0 meaning "measure it from the image"."""
    return FloatSpinBox(
        name=name, label=label, value=0.0, min=0.0, max=1e6, tooltip=tooltip, **kwargs
    )


def seed_box(what: str) -> SpinBox:
    """The random seed; ``what`` names the inputs that, with it, fix the labels."""
    tooltip = f"Same seed, same {what}, same parameters: same labels (on the CPU)."
    return SpinBox(name="seed", value=0, min=0, max=SEED_MAX, tooltip=tooltip)


def text_line(name: str, **kwargs) -> Label:
    """A label that wraps long text (a status line, a method's description)."""
    line = Label(name=name, **kwargs)
    line.native.setWordWrap(True)
    return line
