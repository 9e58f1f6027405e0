"""Pick the background classes of an objects run, and re-make the objects at once.

After a run with objects as output, the classes the objects came from are listed (id,
share of the image, mean intensity), the ones the automatic rule took for background
ticked. Changing the ticks re-makes the objects from the same classes in a worker
thread: no new training, and the user's layers are never touched.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import Container, PushButton, Select
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error

from ..objects import automatic_foreground, background_classes_of


class BackgroundPicker(Container):
    """The classes of the last objects run, background ones selected."""

    def __init__(self, on_change):
        self._select = Select(
            name="background_classes",
            label="background classes",
            choices=[],
            tooltip="Classes of the last run taken as background; pick others and press "
            "'Remake objects' (no new training).",
        )
        self._remake = PushButton(name="remake", text="Remake objects")
        super().__init__(widgets=[self._select, self._remake], name="background", labels=True)
        self.margins = (0, 0, 0, 0)
        self._on_change = on_change
        self._last = None
        self._remake.changed.connect(self.remake)
        self.visible = False

    def show_run(self, result, layer, run) -> None:
        """List ``result``'s classes when its output is objects; hide otherwise."""
        plan = result.plan
        if plan.kind != "objects" or plan.intensity is None:  # lazy runs: no re-pick
            self._last = None
            self.visible = False
            return
        classes = result.classes.reshape(plan.intensity.shape)
        ids, inverse, counts = np.unique(classes, return_inverse=True, return_counts=True)
        means = np.bincount(inverse.ravel(), plan.intensity.ravel()) / counts
        chosen = plan.background_classes
        if chosen is None:
            foreground = automatic_foreground(classes, plan.intensity, plan.spacing)
            chosen = background_classes_of(classes, foreground)
        choices = [
            (f"{i}: {100 * n / classes.size:.1f}% of pixels, mean {m:.2f}", int(i))
            for i, n, m in zip(ids, counts, means, strict=True)
        ]
        self._select.choices = choices
        self._select.value = [int(c) for c in chosen]
        self._last = (classes, plan, layer, run)
        self.visible = True

    def remake(self, *_) -> None:
        """Objects from the last run's classes with the selected background."""
        if self._last is None:
            return
        classes, plan, layer, run = self._last
        background = tuple(self._select.value)
        worker = create_worker(plan.finish, classes, background, _ignore_errors=True)
        worker.returned.connect(lambda labels: self._on_change(labels, run, layer, background))
        worker.errored.connect(lambda error: show_error(f"Cannot remake objects: {error}"))
        worker.start()
