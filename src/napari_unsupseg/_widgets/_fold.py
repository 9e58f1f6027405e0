"""A folded section of a dock: settings a first run does not need, one click away.

The segmentation dock showed 17 fields for ``cnn``; cellpose-napari and
stardist-napari show a handful and fold the rest. :class:`Folded` is a magicgui
container inside superqt's ``QCollapsible`` (napari ships superqt), closed at first.
"""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, SpinBox
from qtpy.QtWidgets import QComboBox, QSizePolicy
from superqt import QCollapsible

#: characters a drop-down shows before eliding: it no longer widens the dock to its
#: longest entry (a long layer name, "axis 0 (2 channels)")
COMBO_CHARS = 8
#: a number box sized for its value, not for the widest number its range allows
NUMBER_WIDTH = 80


class Folded:
    """A titled, collapsible group of magicgui widgets (``.fields`` holds them)."""

    def __init__(self, title: str, widgets=()):
        self.fields = Container(widgets=list(widgets), labels=True)
        self.fields.margins = (0, 0, 0, 0)
        self.native = QCollapsible(title)
        self.native.setDuration(0)  # no animation: tests and screen readers see it at once
        self.native.addWidget(self.fields.native)

    @property
    def title(self) -> str:
        return self.native.text()

    @title.setter
    def title(self, text: str) -> None:
        self.native.setText(text)

    @property
    def expanded(self) -> bool:
        return self.native.isExpanded()

    @expanded.setter
    def expanded(self, value: bool) -> None:
        (self.native.expand if value else self.native.collapse)(animate=False)


def fit_narrow(container: Container) -> None:
    """Let ``container``'s drop-downs and texts shrink, so the dock fits in 420 px."""
    for widget in container:
        if isinstance(widget, Container):
            fit_narrow(widget)
        elif isinstance(widget, ComboBox):
            combo = widget.native
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(COMBO_CHARS)
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        elif isinstance(widget, SpinBox | FloatSpinBox):
            widget.native.setMinimumWidth(NUMBER_WIDTH)
        elif isinstance(widget, Label):
            widget.native.setWordWrap(True)
