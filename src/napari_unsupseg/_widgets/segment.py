"""The segmentation dock widget: pick an image and a method, watch the labels form.

A thin form over :func:`napari_unsupseg.segment`: the fields are built from the
method's parameter specs and read into a request, which the Qt-free model
(:mod:`._segment_run`) turns into a job and a record; the run happens in a napari
thread worker (:mod:`._runner`, shared with the transfer dock), and the result is
written to a Labels layer that overlays the image (:mod:`._outputs`). The widget never
modifies the user's own layers.
"""

from __future__ import annotations

import logging

import numpy as np
from magicgui.widgets import ComboBox, Container, PushButton, SpinBox
from napari.layers import Image, Labels
from napari.utils.notifications import show_error

from .._output import OUTPUTS
from .._registry import available_methods, get_method
from .._threads import DEFAULT_THREADS, MAX_THREADS
from . import _about, _layers, _outputs, _progress_text, _warmup
from ._fold import Folded, fit_narrow
from ._form import BASIC_DEVICES, device_choices, picker, seed_box, size_box, switch, text_line
from ._objects import BackgroundPicker
from ._params import param_widget
from ._runner import RunDock
from ._segment_run import (
    CURRENT_PLANE,
    WHOLE_STACK,
    SegmentRequest,
    SegmentRun,
    done_text,
    plan_run,
    result_record,
)
from ._worker import Outcome, run_job

logger = logging.getLogger(__name__)

_EXTENT_HELP = (
    "Current plane: segment only the 2D plane shown now (the slider position); the "
    "result is written into that plane of a Labels layer shaped like the stack, so "
    "other planes keep earlier results and you can go plane by plane (ids are per "
    "plane).\nWhole stack: segment the whole volume / time series at once, with "
    "label ids consistent across planes (slower)."
)
_OUTPUT_HELP = (
    "classes: one id per cluster, shared by all its pieces. regions: every connected "
    "piece its own id (photographs). objects: one id per nucleus or cell, 0 = background "
    "(microscopy). auto: regions for RGB images, objects otherwise."
)


class SegmentWidget(RunDock):
    """Segment the chosen image layer with any registered method, live."""

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer)
        self._devices = list(BASIC_DEVICES)
        self._devices_listed = False
        self._param_widgets: dict = {}
        _warmup.start()

        self._image = picker("image", self._image_choices, "Image layer to segment.")
        self._method = ComboBox(name="method", choices=list(available_methods()))
        self._about = text_line("about", label="")
        self._output = picker("output", list(OUTPUTS), _OUTPUT_HELP, value="auto")
        self._diameter = size_box(
            "object_diameter",
            "object diameter",
            "Typical object diameter in the layer's units (its scale); 0 = measure it from "
            "the image.",
            step=1.0,
        )
        self._background = BackgroundPicker(on_change=self._remake_objects)
        self._scribbles = picker(
            "scribbles_layer",
            self._scribble_choices,
            "Labels layer of user scribbles (0 = no scribble): pixels painted with class c "
            "are pulled towards one segment per class.",
        )
        self._scribble_button = PushButton(
            name="scribble",
            text="Scribble",
            tooltip="Add an empty Labels layer over the image, ready to paint scribbles.",
        )
        self._scribble_row = Container(
            widgets=[self._scribbles, self._scribble_button],
            name="scribbles",
            layout="horizontal",
            labels=False,
        )
        self._scribble_row.margins = (0, 0, 0, 0)
        self._channel = picker(
            "channel_axis",
            self._channel_choices,
            "Axis holding channels (colours, fluorescence channels), or none.",
        )
        # a stack is one specimen: segmented as one, ids consistent
        extents = [CURRENT_PLANE, WHOLE_STACK]
        self._extent = picker("run_on", extents, _EXTENT_HELP, value=WHOLE_STACK)
        self._device = picker(
            "device",
            self._device_choices,
            "Where the CNN trains: auto = CUDA GPU, then Apple MPS, then CPU.",
        )
        self._seed = seed_box("image")
        self._threads = SpinBox(
            name="threads",
            value=DEFAULT_THREADS,
            min=1,
            max=MAX_THREADS,
            tooltip="CPU threads of the CNN. More is faster on a CPU with free cores, and "
            "gives other labels: the same labels need the same threads.",
        )
        self._new_layer = switch(
            "new_layer",
            "new layer each run",
            "Unticked: running again updates the '<image> <method>' layer.",
        )
        self._keep_preview = switch(
            "keep_preview",
            "keep cancelled preview",
            "On Cancel, keep the live preview as a layer marked 'cancelled preview'.",
        )
        self.extend(
            [
                self._image,
                self._method,
                self._about,
                self._output,
                self._diameter,
                self._run_button,
                self._progress,
                self._status,
                self._background,
            ]
        )
        # everything else, folded: the method's own parameters first (see _on_method)
        self._advanced = Folded(
            "Advanced",
            [
                self._channel,
                self._extent,
                self._scribble_row,
                self._device,
                self._seed,
                self._threads,
                self._new_layer,
                self._keep_preview,
            ],
        )
        self.native.layout().addWidget(self._advanced.native)
        fit_narrow(self)

        self._image.changed.connect(self._on_image)
        self._channel.changed.connect(self._sync_extent)
        self._method.changed.connect(self._on_method)
        self._output.changed.connect(self._sync_output)
        self._scribble_button.changed.connect(self.add_scribbles_layer)
        layers = napari_viewer.layers
        for event in (layers.events.inserted, layers.events.removed, layers.events.renamed):
            event.connect(self._refresh_layers)
        layers.selection.events.active.connect(self._follow_active)

        self._follow_active()
        self._on_image()
        self._on_method()
        self._sync_output()

    # ---------------------------------------------------------------- public API
    @property
    def param_widgets(self) -> dict:
        """The current method's parameter widgets, by parameter name."""
        return dict(self._param_widgets)

    def add_scribbles_layer(self, *_) -> Labels | None:
        """Add an empty Labels layer over the image's spatial axes, ready to paint."""
        layer = self._image.value
        if layer is None:
            show_error("Open or pick an image layer first, then add scribbles to it.")
            return None
        geometry = _layers.output_geometry(layer, self._channel.value)
        scribbles = self._viewer.add_labels(
            np.zeros(geometry.shape, dtype=np.uint16),
            name=f"{layer.name} scribbles",
            **geometry.layer_kwargs(),
        )
        scribbles.brush_size = max(2, round(min(geometry.shape[-2:]) / 60))
        scribbles.selected_label = 1
        self._viewer.layers.selection.active = scribbles
        scribbles.mode = "paint"
        self._scribbles.reset_choices()
        self._scribbles.value = scribbles
        self._status.value = (
            f"Paint on '{scribbles.name}': one label per class (1, 2, …); 0 = no scribble."
        )
        return scribbles

    # ------------------------------------------------------------- form upkeep
    def _inputs(self, kind) -> list:
        """The user's layers of ``kind``: never one this plugin wrote (a heat map is no
        image to segment, a result no scribble)."""
        layers = self._viewer.layers
        return [(x.name, x) for x in layers if isinstance(x, kind) and not _outputs.made_here(x)]

    def _image_choices(self, _=None):
        return self._inputs(Image)

    def _scribble_choices(self, _=None):
        return [("none", None), *self._inputs(Labels)]

    def _channel_choices(self, _=None):
        return _layers.channel_choices(self._image.value)

    def _device_choices(self, _=None):
        return list(self._devices)

    def _refresh_layers(self, *_):
        self._image.reset_choices()
        self._scribbles.reset_choices()
        run = self._run
        if run is not None and run.layer is not None and run.layer not in self._viewer.layers:
            run.why_cancelled = f": its image '{run.source}' was removed"
            self.cancel()

    def _follow_active(self, *_):
        """The picker follows the active layer when that is an image."""
        active = self._viewer.layers.selection.active
        if isinstance(active, Image) and active in self._image.choices:
            self._image.value = active

    def _on_image(self, *_):
        self._channel.reset_choices()
        self._channel.value = _layers.default_channel(self._image.value)
        self._sync_extent()

    def _is_stack(self) -> bool:
        layer = self._image.value
        return layer is not None and len(_layers.spatial_axes(layer, self._channel.value)) > 2

    def _sync_extent(self, *_):
        self._extent.visible = self._is_stack()
        self._sync_output()

    def _sync_output(self, *_):
        """The object settings only where objects can come out."""
        objects = self._output.value == "objects" or (
            self._output.value == "auto" and self._channel.value != _layers.RGB
        )
        self._diameter.visible = objects

    def _on_method(self, *_):
        spec = get_method(self._method.value)
        fields = self._advanced.fields
        for widget in self._param_widgets.values():
            fields.remove(widget)
        self._param_widgets = {}
        index = 0
        for param in spec.params:
            widget = param_widget(param)
            if widget is not None:
                fields.insert(index, widget)
                self._param_widgets[param.name] = widget
                index += 1
        fit_narrow(fields)
        self._advanced.title = f"Advanced: {spec.name} settings"
        for widget in self._param_widgets.values():
            widget.changed.connect(self._sync_relevance)
        self._sync_relevance()
        self._about.value = _about.good_for(spec.name, spec.description)
        tip = _about.tooltip(spec.name, spec.description, spec.paper)
        self._method.tooltip = self._about.tooltip = tip
        self._scribble_row.visible = any(p.name == "scribbles" for p in spec.params)
        if spec.uses_torch and not self._devices_listed:
            self._list_devices()
        if spec.uses_torch:
            _warmup.start_torch()
        self._device.visible = self._threads.visible = spec.uses_torch

    def _sync_relevance(self, *_):
        """Show only the parameters that matter for the values chosen now (SLIC's
        settings only with SLIC refinement, p only with FSF/SCF weighting, ...)."""
        spec = get_method(self._method.value)
        values = {name: widget.value for name, widget in self._param_widgets.items()}
        for name, widget in self._param_widgets.items():
            widget.visible = spec.param(name).is_relevant(values)

    def _list_devices(self):
        self._devices = device_choices()
        self._devices_listed = True
        self._device.reset_choices()

    # --------------------------------------------------------------------- runs
    def _prepare_run(self) -> SegmentRun:
        layer = self._image.value
        if layer is None:
            raise ValueError("Open or pick an image layer to segment first.")
        channel = self._channel.value
        plane = {}
        if self._is_stack() and self._extent.value == CURRENT_PLANE:
            plane = _layers.current_plane(self._viewer, layer, channel)
        return plan_run(
            SegmentRequest(
                layer=layer,
                method=self._method.value,
                channel=channel,
                plane=plane,
                params={name: widget.value for name, widget in self._param_widgets.items()},
                scribbles=self._scribbles.value,
                output=self._output.value,
                object_diameter=self._diameter.value,
                seed=self._seed.value,
                threads=self._threads.value,
                device=self._device.value,
                new_layer=self._new_layer.value,
                keep_preview=self._keep_preview.value,
            )
        )

    @staticmethod
    def _work(job, report, should_stop) -> Outcome:
        """The worker thread's part (``run_job`` looked up here, where tests replace it)."""
        outcome = run_job(job, report, should_stop)
        _warmup.wait(timeout=60)  # the result's add_labels must not compile on the GUI
        return outcome

    @staticmethod
    def _starting(run: SegmentRun) -> str:
        return f"Segmenting '{run.source}' with {run.job.method}…"

    def _notify(self, text: str) -> None:
        show_error(text)

    def _keep_on_cancel(self, run: SegmentRun) -> bool:
        return _outputs.keep_cancelled_preview(self._viewer, run)

    def _on_progress(self, run: SegmentRun, event) -> None:
        self._progress.value = 100 * _progress_text.fraction(event, run.first_labels)
        if event.labels is not None and _warmup.is_done():  # else the next one shows
            geometry = run.preview_geometry()
            data = np.asarray(event.labels).reshape(geometry.shape)
            name = f"{run.target} (preview)"
            _outputs.show_preview(self._viewer, run, data, name, geometry)

    def _on_result(self, run: SegmentRun, outcome: Outcome) -> str:
        record = result_record(run, outcome)
        layer = _outputs.write_result(self._viewer, run, outcome.labels, record)
        self._background.show_run(outcome.result, layer, run)
        return done_text(record, outcome, layer.name)

    def _remake_objects(self, labels: np.ndarray, run: SegmentRun, layer, background) -> None:
        """Objects re-made from the last run's classes with other background classes."""
        if layer not in self._viewer.layers:
            self._status.value = "The result layer was removed: run again."
            return
        count = _outputs.put_objects(run, layer, labels, background)
        self._status.value = (
            f"{count} objects; background classes {', '.join(map(str, background)) or 'none'}."
        )
