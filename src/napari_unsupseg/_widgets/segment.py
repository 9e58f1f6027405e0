"""The segmentation dock widget: pick an image and a method, watch the labels form.

A thin front end over :func:`napari_unsupseg.segment`: the form is built from the
method's parameter specs, the run happens in a napari thread worker, progress comes
back through a Qt signal, and the result is written to a Labels layer that overlays
the image. The widget never modifies the user's own layers.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer

from .. import __version__
from .._output import OUTPUTS
from .._progress import Progress, SegmentationCancelled
from .._registry import available_methods, get_method
from .._threads import DEFAULT_THREADS, MAX_THREADS
from . import _about, _layers, _progress_text, _warmup
from ._fold import Folded, fit_narrow
from ._lazy import label_count
from ._objects import BackgroundPicker
from ._params import param_widget
from ._worker import Job, Outcome, ProgressRelay, describe_error, run_job

logger = logging.getLogger(__name__)

CURRENT_PLANE = "current plane"
WHOLE_STACK = "whole stack"
CREATED_BY = "napari-unsupseg"
#: after Cancel, wait this long for the engine to stop before giving the UI back anyway
CANCEL_GRACE_MS = 1000
#: napari's default opacity of a Labels layer; the preview is fainter
RESULT_OPACITY, PREVIEW_OPACITY = 0.7, 0.6

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


@dataclass
class _Run:
    """One press of Run: what was asked, and where the result must go."""

    job: Job
    source: str
    target: str
    geometry: _layers.Geometry
    plane: dict[int, int]
    record: dict
    new_layer: bool
    keep_preview: bool
    cancel: threading.Event = field(default_factory=threading.Event)
    worker: object = None
    preview: Labels | None = None
    last: Progress | None = None
    first_labels: int | None = None
    layer: object = None  # the source layer: removing it cancels the run
    why_cancelled: str = ""


def _made_here(layer) -> bool:
    """A layer this plugin wrote (a result, a preview, an evaluation heat map)."""
    metadata = layer.metadata if isinstance(layer.metadata, dict) else {}
    return metadata.get("created_by") == CREATED_BY


def _is_output(layer) -> bool:
    return isinstance(layer, Labels) and _made_here(layer)


class SegmentWidget(Container):
    """Segment the chosen image layer with any registered method, live."""

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        self._run: _Run | None = None
        self._closing = threading.Event()
        self._devices = ["auto", "cpu"]
        self._devices_listed = False
        self._param_widgets: dict = {}
        self._relay = ProgressRelay()
        self._relay.progressed.connect(self._on_progress)
        _warmup.start()

        self._image = ComboBox(
            name="image", choices=self._image_choices, tooltip="Image layer to segment."
        )
        self._method = ComboBox(name="method", choices=list(available_methods()))
        self._about = Label(name="about", label="")
        self._about.native.setWordWrap(True)
        self._output = ComboBox(
            name="output", choices=list(OUTPUTS), value="auto", tooltip=_OUTPUT_HELP
        )
        self._diameter = FloatSpinBox(
            name="object_diameter",
            label="object diameter",
            value=0.0,
            min=0.0,
            max=1e6,
            step=1.0,
            tooltip="Typical object diameter in the layer's units (its scale); 0 = measure "
            "it from the image.",
        )
        self._background = BackgroundPicker(on_change=self._remake_objects)
        self._scribbles = ComboBox(
            name="scribbles_layer",
            choices=self._scribble_choices,
            tooltip="Labels layer of user scribbles (0 = no scribble): pixels painted "
            "with class c are pulled towards one segment per class.",
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
        self._channel = ComboBox(
            name="channel_axis",
            label="channel axis",
            choices=self._channel_choices,
            tooltip="Axis holding channels (colours, fluorescence channels), or none.",
        )
        self._extent = ComboBox(
            name="run_on",
            label="run on",
            choices=[CURRENT_PLANE, WHOLE_STACK],
            value=WHOLE_STACK,  # a stack is one specimen: segmented as one, ids consistent
            tooltip=_EXTENT_HELP,
        )
        self._device = ComboBox(
            name="device",
            choices=self._device_choices,
            tooltip="Where the CNN trains: auto = CUDA GPU, then Apple MPS, then CPU.",
        )
        self._seed = SpinBox(
            name="seed",
            value=0,
            min=0,
            max=2**31 - 1,
            tooltip="Same seed, same image, same parameters: same labels (on the CPU).",
        )
        self._threads = SpinBox(
            name="threads",
            value=DEFAULT_THREADS,
            min=1,
            max=MAX_THREADS,
            tooltip="CPU threads of the CNN. More is faster on a CPU with free cores, and "
            "gives other labels: the same labels need the same threads.",
        )
        self._new_layer = CheckBox(
            name="new_layer",
            text="new layer each run",
            tooltip="Unticked: running again updates the '<image> <method>' layer.",
        )
        self._keep_preview = CheckBox(
            name="keep_preview",
            text="keep cancelled preview",
            tooltip="On Cancel, keep the live preview as a layer marked 'cancelled preview'.",
        )
        self._run_button = PushButton(name="run", text="Run")
        self._progress = ProgressBar(name="progress", label="", value=0, min=0, max=100)
        self._status = Label(name="status", label="")
        self._status.native.setWordWrap(True)
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
        self._run_button.changed.connect(self._on_run_clicked)
        self._scribble_button.changed.connect(self.add_scribbles_layer)
        layers = napari_viewer.layers
        for event in (layers.events.inserted, layers.events.removed, layers.events.renamed):
            event.connect(self._refresh_layers)
        layers.selection.events.active.connect(self._follow_active)
        closing = self._closing
        self.native.destroyed.connect(lambda *_: closing.set())

        self._follow_active()
        self._on_image()
        self._on_method()
        self._sync_output()

    # ---------------------------------------------------------------- public API
    @property
    def is_running(self) -> bool:
        return self._run is not None

    @property
    def param_widgets(self) -> dict:
        """The current method's parameter widgets, by parameter name."""
        return dict(self._param_widgets)

    def run(self) -> None:
        """Start a run (what the Run button does when idle)."""
        if self._run is None:
            self._on_run_clicked()

    def cancel(self) -> None:
        """Ask the running segmentation to stop; the UI is back within a second."""
        run = self._run
        if run is None or run.cancel.is_set():
            return
        run.cancel.set()
        self._run_button.text = "Cancelling…"
        self._run_button.enabled = False
        timer = QTimer(self.native)
        timer.setSingleShot(True)
        timer.timeout.connect(partial(self._on_cancelled, run))
        timer.start(CANCEL_GRACE_MS)

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
        return [(x.name, x) for x in layers if isinstance(x, kind) and not _made_here(x)]

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
        """Ask torch which accelerators exist (imports torch, so only when needed)."""
        from .._device import available_devices

        try:
            self._devices = available_devices()
        except Exception as error:  # a broken torch install must not break the form
            logger.warning("could not list torch devices: %s", error)
        self._devices_listed = True
        self._device.reset_choices()

    # --------------------------------------------------------------------- runs
    def _on_run_clicked(self, *_):
        if self._run is not None:
            self.cancel()
            return
        try:
            run = self._prepare_run()
        except (ValueError, TypeError) as error:
            show_error(str(error))
            return
        self._start(run)

    def _prepare_run(self) -> _Run:
        layer = self._image.value
        if layer is None:
            raise ValueError("Open or pick an image layer to segment first.")
        method = self._method.value
        spec = get_method(method)
        channel = self._channel.value
        axes = _layers.spatial_axes(layer, channel)
        geometry = _layers.output_geometry(layer, channel)
        plane = {}
        if self._is_stack() and self._extent.value == CURRENT_PLANE:
            plane = _layers.current_plane(self._viewer, layer, channel)

        data = _layers.image_data(layer)
        if plane:
            data = data[_layers.take_plane(data, axes, plane)]
        if channel is None:
            data, channel_axis = data[..., np.newaxis], -1  # never guess RGB for grey data
        elif channel == _layers.RGB:
            channel_axis = None
        else:
            channel_axis = channel - sum(axes[axis] < channel for axis in plane)

        params = {name: widget.value for name, widget in self._param_widgets.items()}
        scribbles = self._scribbles.value if "scribbles" in spec.defaults else None
        if scribbles is not None:
            params["scribbles"] = self._scribble_array(scribbles, geometry, plane)
        resolved = spec.resolve(params)
        spacing = tuple(s for axis, s in enumerate(geometry.scale) if axis not in plane)
        output = {
            "output": self._output.value,
            "spacing": spacing,
            "object_diameter": self._diameter.value or None,
        }
        record = {
            "created_by": CREATED_BY,
            "version": __version__,
            "method": method,
            "params": {k: v for k, v in resolved.items() if spec.param(k).kind != "array"},
            "seed": int(self._seed.value),
            "threads": int(self._threads.value),
            "device_requested": self._device.value,
            "source_layer": layer.name,
            "channel_axis": channel,
            "plane": {int(axis): int(i) for axis, i in plane.items()} or None,
            "scribbles_layer": scribbles.name if scribbles is not None else None,
            **output,
        }
        seed, threads = record["seed"], record["threads"]
        job = Job(data, method, channel_axis, seed, self._device.value, params, output, threads)
        return _Run(
            job=job,
            source=layer.name,
            target=f"{layer.name} {method}",
            geometry=geometry,
            plane=plane,
            record=record,
            new_layer=self._new_layer.value,
            keep_preview=self._keep_preview.value,
            layer=layer,
        )

    @staticmethod
    def _scribble_array(layer, geometry, plane) -> np.ndarray:
        data = np.asarray(layer.data)
        if data.shape != geometry.shape:
            raise ValueError(
                f"The scribbles layer '{layer.name}' has shape {data.shape}, but the image's "
                f"spatial shape is {geometry.shape}: use the Scribble button to make one."
            )
        return np.array(data[_layers.plane_key(data.ndim, plane)])  # a copy: painting goes on

    def _start(self, run: _Run) -> None:
        closing = self._closing

        def stop() -> bool:
            return run.cancel.is_set() or closing.is_set()

        def report(event: Progress) -> None:
            self._relay.progressed.emit((run, event))

        def work() -> Outcome:
            outcome = run_job(run.job, report, stop)
            _warmup.wait(timeout=60)  # the result's add_labels must not compile on the GUI
            return outcome

        worker = create_worker(work, _ignore_errors=True)
        worker.returned.connect(partial(self._on_returned, run))
        worker.errored.connect(partial(self._on_errored, run))
        run.worker = worker
        self._run = run
        self._run_button.text = "Cancel"
        self._progress.value = 0
        self._status.value = f"Segmenting '{run.source}' with {run.job.method}…"
        worker.start()

    def _current(self, run: _Run) -> bool:
        return run is self._run and not self._closing.is_set()

    def _on_progress(self, payload) -> None:
        run, event = payload
        if not self._current(run) or run.cancel.is_set():
            return
        run.last = event
        if run.first_labels is None and event.n_labels is not None:
            run.first_labels = event.n_labels
        self._progress.value = 100 * _progress_text.fraction(event, run.first_labels)
        self._status.value = _progress_text.describe(event)
        if event.labels is not None and _warmup.is_done():  # else the next one shows
            self._show_preview(run, event.labels)

    def _show_preview(self, run: _Run, labels: np.ndarray) -> None:
        geometry = run.geometry.plane(run.plane) if run.plane else run.geometry
        data = np.asarray(labels).reshape(geometry.shape)
        if run.preview is not None and run.preview in self._viewer.layers:
            run.preview.data = data
            return
        active = self._viewer.layers.selection.active
        run.preview = self._viewer.add_labels(
            data,
            name=f"{run.target} (preview)",
            opacity=PREVIEW_OPACITY,
            metadata={"created_by": CREATED_BY, "preview": True},
            **geometry.layer_kwargs(),
        )
        if active is not None and active in self._viewer.layers:
            self._viewer.layers.selection.active = active  # keep the user's selection

    def _on_returned(self, run: _Run, outcome: Outcome) -> None:
        if not self._current(run):
            return
        if run.cancel.is_set():
            self._on_cancelled(run)
            return
        plan = outcome.result.plan
        record = {
            **run.record,
            "device": outcome.device,
            "run_time_s": round(outcome.seconds, 3),
            "n_labels": label_count(outcome.labels),
            "output_kind": plan.kind,
        }
        if plan.kind == "objects":
            record["object_radius"] = round(float(plan.radius), 3)
            record["background_flattened"] = plan.flatten
        layer = self._write_result(run, outcome.labels, record)
        self._drop_preview(run)
        self._background.show_run(outcome.result, layer, run)
        self._status.value = (
            f"Done: {record['n_labels']} {plan.kind} in {outcome.seconds:.1f} s on "
            f"{outcome.device}, in layer '{layer.name}'."
        )
        self._progress.value = 100
        self._finish()

    def _write_result(self, run: _Run, labels: np.ndarray, record: dict) -> Labels:
        shape = run.geometry.shape
        existing = None
        if not run.new_layer:
            existing = next(
                (
                    layer
                    for layer in self._viewer.layers
                    if layer.name == run.target and _is_output(layer) and layer.data.shape == shape
                ),
                None,
            )
        if run.plane:
            data = np.array(existing.data) if existing is not None else np.zeros(shape, np.int32)
            data[_layers.plane_key(len(shape), run.plane)] = labels
        else:
            data = labels
        runs = [*existing.metadata.get("runs", []), record] if existing is not None else [record]
        metadata = {**record, "runs": runs}
        preview = run.preview
        if existing is None and not run.plane and preview in self._viewer.layers:
            # the preview becomes the result: adding a layer and removing another costs
            # napari a vispy visual and a full garbage collection on the GUI thread
            run.preview = None
            preview.data, preview.metadata = data, metadata
            preview.name, preview.opacity = run.target, RESULT_OPACITY
            return preview
        if existing is None:
            return self._viewer.add_labels(
                data, name=run.target, metadata=metadata, **run.geometry.layer_kwargs()
            )
        existing.data = data
        existing.metadata = metadata
        existing.scale, existing.translate = run.geometry.scale, run.geometry.translate
        return existing

    def _remake_objects(self, labels: np.ndarray, run: _Run, layer: Labels, background) -> None:
        """Objects re-made from the last run's classes with other background classes."""
        if layer not in self._viewer.layers:
            self._status.value = "The result layer was removed: run again."
            return
        if run.plane:
            data = np.array(layer.data)
            data[_layers.plane_key(data.ndim, run.plane)] = labels
        else:
            data = labels.reshape(run.geometry.shape)
        layer.data = data
        layer.metadata = {
            **layer.metadata,
            "background_classes": list(background),
            "n_labels": int(labels.max(initial=0)),
        }
        self._status.value = (
            f"{int(labels.max(initial=0))} objects; background classes "
            f"{', '.join(map(str, background)) or 'none'}."
        )

    def _on_errored(self, run: _Run, error: BaseException) -> None:
        if not self._current(run):
            return
        if isinstance(error, SegmentationCancelled):
            self._on_cancelled(run)
            return
        if not isinstance(error, ValueError | TypeError | MemoryError):
            logger.error("segmentation failed", exc_info=error)
        self._drop_preview(run)
        self._status.value = "Failed: see the notification."
        self._finish()
        show_error(describe_error(error, run.source, run.job.method))

    def _on_cancelled(self, run: _Run) -> None:
        if not self._current(run):
            return
        where = f" at iteration {run.last.iteration}" if run.last is not None else ""
        preview = run.preview
        if run.keep_preview and preview is not None and preview in self._viewer.layers:
            preview.name = f"{run.target} (cancelled preview)"
            preview.metadata = {
                **run.record,
                "preview": True,
                "cancelled_at_iteration": run.last.iteration if run.last else None,
            }
        else:
            self._drop_preview(run)
        self._status.value = f"Cancelled{where}{run.why_cancelled}."
        self._finish()

    def _drop_preview(self, run: _Run) -> None:
        if run.preview is not None and run.preview in self._viewer.layers:
            self._viewer.layers.remove(run.preview)
        run.preview = None

    def _finish(self) -> None:
        self._run = None
        self._run_button.text = "Run"
        self._run_button.enabled = True
