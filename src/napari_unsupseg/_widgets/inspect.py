"""The "Inspect clusters" dock widget: a table of the labels, edits, feature space, export.

A thin form over :class:`._inspect_model.LabelInspection` (Qt-free: the measurements
of :mod:`napari_unsupseg.measurements`, the edits of :mod:`napari_unsupseg.label_edits`
and their undo history). Measure copies the chosen Labels layer into an
"edited" layer of its own (the user's layers are only read); every edit replaces that
layer's data with a new array, is recorded in its metadata (``edits``, replayable with
:func:`napari_unsupseg.label_edits.replay`) and can be undone exactly. Selecting rows
highlights the label in the viewer; clicking a label in the viewer selects its row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, PushButton
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info

from .. import label_edits
from ..measurements import write_labels_with_table, write_table
from ._edited_layer import describe, edited_copy, is_inspect_output, label_colours, layer_array
from ._form import size_box, text_line
from ._inspect_model import LabelInspection
from ._label_table import LabelTable
from ._layers import image_data
from ._navigate import look_at
from ._scatter import PC1, PC2, FeatureScatter, axis_choices, default_axes

NO_IMAGE = "(none: no intensities)"


class InspectWidget(Container):
    """Measure, select, correct and export the labels of a Labels layer."""

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        self._target: Labels | None = None
        self._model = LabelInspection()
        self._axis_choices: list[str] = []
        self._highlighting = False

        self._labels = ComboBox(name="labels", choices=self._labels_choices)
        self._image_box = ComboBox(name="image", choices=self._image_choices)
        self._measure_button = PushButton(name="measure", text="Measure (edits go to a copy)")
        self._status = text_line("status", value="")
        self._radius_box = size_box(
            "radius",
            "object radius",
            "Typical object radius (layer units) for the watershed split; 0 reads it off the "
            "image (or the run that made the labels).",
        )
        buttons = {
            "merge": "Merge selected",
            "split_components": "Split into pieces",
            "split_watershed": "Split by watershed",
            "background": "To background",
            "relabel": "Relabel 1..K",
            "undo": "Undo",
        }
        self._buttons = {key: PushButton(name=key, text=text) for key, text in buttons.items()}
        row1 = Container(layout="horizontal", labels=False)
        row1.extend([self._buttons[k] for k in ("merge", "split_components", "background")])
        row2 = Container(layout="horizontal", labels=False)
        row2.extend([self._buttons[k] for k in ("split_watershed", "relabel", "undo")])
        self._x = ComboBox(name="x", label="scatter x", choices=[PC1, PC2], value=PC1)
        self._y = ComboBox(name="y", label="scatter y", choices=[PC1, PC2], value=PC2)
        self._export_csv = PushButton(name="export_csv", text="Export table (CSV)…")
        self._export_tiff = PushButton(name="export_tiff", text="Export labels (TIFF + CSV)…")
        self.extend(
            [
                *(self._labels, self._image_box, self._measure_button, self._status),
                *(self._radius_box, row1, row2, self._x, self._y),
                *(self._export_csv, self._export_tiff),
            ]
        )
        self.table = LabelTable()
        self.scatter = FeatureScatter(self.select_labels)
        layout = self.native.layout()
        layout.insertWidget(4, self.table)
        layout.addWidget(self.scatter.canvas)

        self._measure_button.changed.connect(self.measure)
        for key, button in self._buttons.items():
            button.changed.connect(lambda *_, key=key: self._on_button(key))
        self._x.changed.connect(self._draw_scatter)
        self._y.changed.connect(self._draw_scatter)
        self._export_csv.changed.connect(lambda *_: self._ask_path("csv"))
        self._export_tiff.changed.connect(lambda *_: self._ask_path("tif"))
        self.table.labels_selected.connect(self._on_rows_selected)
        layers = napari_viewer.layers
        layers.events.inserted.connect(self._on_inserted)
        for event in (layers.events.removed, layers.events.renamed):
            event.connect(self._refresh_choices)
        self._labels.changed.connect(self._pick_image_of)
        self.native.destroyed.connect(self._on_destroyed)
        self._pick_labels()

    # ---------------------------------------------------------------- public API
    @property
    def target(self) -> Labels | None:
        """The layer edits go to (a copy of the chosen labels), once measured."""
        return self._target

    @property
    def rows(self) -> list[dict]:
        """The table as :func:`napari_unsupseg.measure` gives it, in id order."""
        return list(self._model.rows)

    def measure(self, *_) -> None:
        """Copy the chosen labels into an edited layer (once) and fill the table."""
        source, image_layer = self._labels.value, self._image_box.value
        if not isinstance(source, Labels):
            show_error("Pick a Labels layer first.")
            return
        image = None if image_layer is None else layer_array(image_layer)
        rgb = image_layer is not None and image_layer.rgb
        channel_axis = image.ndim - 1 if rgb else None
        if image is not None and not rgb and isinstance(source.metadata.get("channel_axis"), int):
            channel_axis = source.metadata["channel_axis"]
        try:
            scale = tuple(source.scale)
            rows = self._model.start(image, layer_array(source), scale, channel_axis, rgb)
        except (ValueError, TypeError) as error:
            self._status.value = "Not measured: see the notification."
            show_error(f"Cannot measure '{source.name}': {error}")
            return
        target = edited_copy(self._viewer, source, image_layer)
        self._use_target(target)
        self._refresh(rows if target is source else None)

    def select_labels(self, ids) -> None:
        """Select these labels' rows (and so highlight them in the viewer)."""
        self.table.select_labels(ids)

    def apply(self, edit: str) -> None:
        """Apply an edit to the selected labels of the edited layer (undoable)."""
        target = self._target
        if target is None or target not in self._viewer.layers:
            show_error("Press Measure first: edits go to the edited copy it makes.")
            return
        ids = self.table.selected_labels()
        settings = {}
        if edit == "split_watershed":
            settings = {"radius": self._object_radius(), "spacing": tuple(target.scale)}
        record = label_edits.edit_record(edit, ids, **settings)
        try:
            after = self._model.edit(layer_array(target), record)
        except (ValueError, TypeError) as error:
            show_error(f"Cannot {edit.replace('_', ' ')}: {error}")
            return
        target.data = after
        target.metadata = {**target.metadata, "edits": [*target.metadata["edits"], record]}
        self._refresh()
        kept = [i for i in ids if i in {row["label"] for row in self._model.rows}]
        self.select_labels(kept if edit != "relabel" else [])
        self._status.value = f"{describe(record)}; {len(self._model.rows)} labels."

    def undo(self) -> None:
        """Put back the labels as they were before the last edit, exactly."""
        target = self._target
        before = self._model.undo() if target is not None else None
        if before is None:
            show_info("Nothing to undo.")
            return
        target.data = before
        record = target.metadata["edits"][-1]
        target.metadata = {**target.metadata, "edits": target.metadata["edits"][:-1]}
        self._refresh()
        self._status.value = f"Undone: {describe(record)}; {len(self._model.rows)} labels."

    def export_csv(self, path) -> Path:
        """Write the table as CSV."""
        return write_table(path, self._model.rows)

    def export_tiff(self, path) -> tuple[Path, Path]:
        """Write the edited labels as a TIFF and the table as a CSV beside it."""
        if self._target is None:
            raise ValueError("Nothing to export yet: press Measure first.")
        return write_labels_with_table(path, layer_array(self._target), self._model.rows)

    # ------------------------------------------------------------------ layers
    def _labels_choices(self, _=None):
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Labels)]

    def _image_choices(self, _=None):
        images = [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image)]
        return [*images, (NO_IMAGE, None)]

    def _refresh_choices(self, *_):
        self._labels.reset_choices()
        self._image_box.reset_choices()

    def _pick_labels(self) -> None:
        """The active Labels layer, else the newest one not made by this widget."""
        labels = [layer for _, layer in self._labels_choices()]
        active = self._viewer.layers.selection.active
        users = [layer for layer in labels if not is_inspect_output(layer)]
        pick = active if active in labels else (users or labels or [None])[-1]
        if pick is not None:
            self._labels.value = pick
            self._pick_image_of(pick)

    def _on_inserted(self, event) -> None:
        """A new Labels layer (not an edited copy) becomes the pick."""
        self._refresh_choices()
        layer = event.value
        if isinstance(layer, Labels) and not is_inspect_output(layer):
            self._labels.value = layer

    def _pick_image_of(self, labels, *_):
        """The image the labels were made from (named in the run record), else the
        image of matching shape."""
        if not isinstance(labels, Labels):
            return
        metadata = labels.metadata if isinstance(labels.metadata, dict) else {}
        images = [layer for _, layer in self._image_choices() if layer is not None]
        named = [layer for layer in images if layer.name == metadata.get("source_layer")]
        shape = tuple(image_data(labels).shape)
        fitting = [layer for layer in images if shape == image_data(layer).shape[: len(shape)]]
        fitting += [layer for layer in images if shape == image_data(layer).shape[-len(shape) :]]
        self._image_box.value = (named or fitting or [None])[0]

    def _use_target(self, layer: Labels | None) -> None:
        if self._target is layer:
            return
        if self._target is not None:
            self._target.events.selected_label.disconnect(self._on_viewer_label)
            self._target.events.paint.disconnect(self._on_paint)
            if self._on_click in self._target.mouse_drag_callbacks:
                self._target.mouse_drag_callbacks.remove(self._on_click)
        self._target, self._model.history = layer, []
        if layer is None:
            return
        layer.events.selected_label.connect(self._on_viewer_label)
        layer.events.paint.connect(self._on_paint)
        layer.mouse_drag_callbacks.append(self._on_click)

    def _on_paint(self, *_) -> None:
        """Painting by hand changes the labels: measure them again (not an edit record),
        once the stroke is written (napari tells of it just before)."""
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, self._refresh_if_shown)

    def _refresh_if_shown(self) -> None:
        if self._target is not None and self._target in self._viewer.layers:
            self._refresh()

    # ------------------------------------------------------------------- table
    def _refresh(self, rows=None) -> None:
        """Measure the edited layer again and redraw the table and the scatter."""
        target = self._target
        rows = self._model.remeasure(layer_array(target), tuple(target.scale), rows)
        self.table.fill(rows)
        columns = list(rows[0]) if rows else []
        choices = axis_choices(columns, with_pcs=self._model.image is not None)
        x, y = self._x.value, self._y.value
        if choices != self._axis_choices:  # a new kind of table: the default axes
            n_channels = sum(1 for c in columns if c.startswith("mean"))
            x, y = default_axes(choices, n_channels)
        self._axis_choices = choices
        with self._x.changed.blocked(), self._y.changed.blocked():
            self._x.choices = self._y.choices = choices
            self._x.value, self._y.value = x, y
        self._draw_scatter()
        edits = len(target.metadata.get("edits", []))
        self._status.value = f"{len(rows)} labels in '{target.name}'; {edits} edit(s)."

    def _draw_scatter(self, *_) -> None:
        if self._target is None:
            return
        ids = [row["label"] for row in self._model.rows]
        x_name, y_name = self._x.value, self._y.value
        xs, ys = self._column(x_name), self._column(y_name)
        colours = label_colours(self._target, ids)
        self.scatter.draw(ids, xs, ys, colours, x_name, y_name, self.table.selected_labels())

    def _column(self, name: str) -> list[float]:
        values, trouble = self._model.column(name, layer_array(self._target))
        if trouble:
            self._status.value = trouble
        return values

    def _on_rows_selected(self, ids: list[int]) -> None:
        """Highlight the selection: the viewer shows the last selected label alone."""
        self.scatter.show_selected(ids)
        target = self._target
        if target is None or target not in self._viewer.layers:
            return
        if not ids:
            target.show_selected_label = False
            return
        target.visible = True
        self._highlighting = True  # the layer's own event must not reselect rows
        try:
            target.selected_label = ids[-1]
        finally:
            self._highlighting = False
        target.show_selected_label = True
        self._go_to(ids[-1])

    def _go_to(self, label: int) -> None:
        """Move the sliders of the axes not shown to the middle of the label's box."""
        row = next(r for r in self._model.rows if r["label"] == label)
        lows = [v for k, v in row.items() if k.startswith("bbox_min_")]
        highs = [v for k, v in row.items() if k.startswith("bbox_max_")]
        look_at(self._viewer, self._target, (np.asarray(lows) + np.asarray(highs) - 1) / 2)

    def _on_viewer_label(self, *_) -> None:
        """The label picked in the viewer (picker tool, click) selects its row."""
        label = int(self._target.selected_label)
        if not self._highlighting and self.table.selected_labels() != [label]:
            self.table.select_labels([label] if label else [])

    def _on_click(self, layer, event):
        """A click (not a paint stroke) on a label in pan/zoom mode picks that label."""
        if layer.mode != "pan_zoom" or event.button != 1:
            return
        value = layer.get_value(
            event.position,
            view_direction=event.view_direction,
            dims_displayed=event.dims_displayed,
            world=True,
        )
        if value is not None and int(value) > 0:
            layer.selected_label = int(value)

    def _on_destroyed(self, *_) -> None:
        """A closed dock lets go of the layers: no callback may reach deleted widgets."""
        self._use_target(None)
        layers = self._viewer.layers
        layers.events.inserted.disconnect(self._on_inserted)
        for event in (layers.events.removed, layers.events.renamed):
            event.disconnect(self._refresh_choices)

    # ---------------------------------------------------------------- buttons
    def _on_button(self, key: str) -> None:
        self.undo() if key == "undo" else self.apply(key)

    def _object_radius(self) -> float:
        """The typical object radius: the box's value, the run's, or measured once."""
        if self._radius_box.value > 0:
            return float(self._radius_box.value)
        target = self._target
        recorded = target.metadata.get("object_radius")
        radius = self._model.object_radius(layer_array(target), tuple(target.scale), recorded)
        self._radius_box.value = round(radius, 3)
        return radius

    def _ask_path(self, kind: str) -> None:
        if self._target is None:
            show_error("Nothing to export yet: press Measure first.")
            return
        from qtpy.QtWidgets import QFileDialog

        what = "CSV (*.csv)" if kind == "csv" else "TIFF (*.tif *.tiff)"
        path, _ = QFileDialog.getSaveFileName(
            self.native, "Export", f"{self._target.name}.{kind}", what
        )
        if not path:
            return
        try:
            written = self.export_csv(path) if kind == "csv" else self.export_tiff(path)
        except OSError as error:
            show_error(f"Could not write {path}: {error}")
            return
        names = [Path(p).name for p in np.atleast_1d(written)]
        show_info(f"Saved {', '.join(names)}")
