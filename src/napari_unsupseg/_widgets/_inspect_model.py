"""The model of the inspect dock: what was measured, the edits' history, the table and
its feature-space columns. Qt-free: :mod:`.inspect` is the form and the viewer's side.
"""

from __future__ import annotations

import numpy as np

from .. import label_edits
from ..measurements import measure, pixel_feature_pcs
from ._scatter import PC1, PC2


class LabelInspection:
    """The image measured with the edited labels, their rows, and the undo history."""

    def __init__(self):
        self.image = None  # the image array measured with the labels, or None
        self.channel_axis = None
        self.history: list[np.ndarray] = []  # the labels before each edit, for undo
        self.rows: list[dict] = []
        self.pcs: dict | None = None  # principal components of the pixel features, by label
        self.radius: float | None = None  # typical object radius, once known

    def start(self, image, labels: np.ndarray, scale: tuple, channel_axis, rgb: bool) -> list:
        """Measure ``labels`` (with ``image``, or None) for a new edited layer; a channel
        axis recorded by the run that does not fit this image is dropped. ValueError or
        TypeError when they cannot be measured (nothing changes then)."""
        try:
            rows = measure(image, labels, scale, channel_axis)
        except ValueError:  # the run's channel axis may not fit another image
            if channel_axis is None or rgb:
                raise
            channel_axis = None
            rows = measure(image, labels, scale, channel_axis)
        self.image, self.channel_axis, self.pcs, self.radius = image, channel_axis, None, None
        return rows

    def remeasure(self, labels: np.ndarray, scale: tuple, rows=None) -> list[dict]:
        """The table of ``labels`` now (``rows`` when they are measured already)."""
        if rows is None:
            rows = measure(self.image, labels, scale, self.channel_axis)
        self.rows, self.pcs = rows, None
        return rows

    def edit(self, before: np.ndarray, record: dict) -> np.ndarray:
        """The labels after the edit ``record``; the ones before are kept for undo."""
        after = label_edits.apply_edit(before, record)
        self.history.append(before)
        return after

    def undo(self) -> np.ndarray | None:
        """The labels before the last edit, or None when there is none."""
        return self.history.pop() if self.history else None

    def column(self, name: str, labels: np.ndarray) -> tuple[list[float], str]:
        """A column of the table for the scatter (``PC1``/``PC2`` computed once), and
        why it is empty when it is."""
        if name not in (PC1, PC2):
            return [float(row.get(name, np.nan)) for row in self.rows], ""
        empty = [np.nan] * len(self.rows)
        if self.image is None:
            return empty, ""
        if self.pcs is None:
            try:
                self.pcs = pixel_feature_pcs(self.image, labels, self.channel_axis)
            except ValueError as error:  # e.g. a constant image: nothing to project
                return empty, f"No principal components: {error}"
        return [self.pcs[row["label"]][name == PC2] for row in self.rows], ""

    def object_radius(self, labels: np.ndarray, scale: tuple, recorded=None) -> float:
        """The typical object radius: the run's (``recorded``), or measured once."""
        if self.radius is None and isinstance(recorded, int | float):
            self.radius = float(recorded)
        if self.radius is None:
            from .._preprocess import prepare_image
            from ..objects import intensity_of, object_radius

            image = self.image if self.image is not None else labels > 0
            features = prepare_image(np.asarray(image, dtype=np.float32), self.channel_axis)
            self.radius = object_radius(intensity_of(features.features), scale)
        return self.radius
