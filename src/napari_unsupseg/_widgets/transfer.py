"""The label-transfer dock widget: pick an annotated source and the target images.

A thin front end over :func:`napari_unsupseg.segment` with ``method="transfer"``
(Tsai et al. 2018, "Learning to Adapt Structured Output Space for Semantic
Segmentation"): the source image and its labels teach the classes, every selected
target (an image, a stack labelled plane by plane, or several images at once) gets
them. Runs in a napari thread worker with a live preview on the first target; the
user's layers are never modified.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, ProgressBar, PushButton, Select, SpinBox
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer

from .. import __version__
from .._progress import Progress, SegmentationCancelled
from .._registry import get_method
from . import _layers
from ._params import param_widget
from ._progress_text import describe
from ._worker import Job, Outcome, ProgressRelay, describe_error, run_job
from .segment import CANCEL_GRACE_MS, CREATED_BY

logger = logging.getLogger(__name__)

METHOD = "transfer"


@dataclass
class _Run:
    job: Job
    targets: list  # (target layer name, Geometry of its output) per target
    record: dict
    cancel: threading.Event = field(default_factory=threading.Event)
    preview: Labels | None = None
    last: Progress | None = None


def channel_last(layer) -> np.ndarray:
    """The layer's pixels with channels on the last axis (one channel for grey data),
    so source and targets share ``channel_axis=-1`` whatever each layer's layout."""
    data = _layers.image_data(layer)
    channel = _layers.default_channel(layer)
    if channel is None:
        return data[..., np.newaxis]
    if channel == _layers.RGB:
        return data
    return np.moveaxis(data, channel, -1)


class TransferWidget(Container):
    """Transfer the classes of an annotated source image to other images, live."""

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        self._run: _Run | None = None
        self._closing = threading.Event()
        self._relay = ProgressRelay()
        self._relay.progressed.connect(self._on_progress)
        spec = get_method(METHOD)

        self._source = ComboBox(
            name="source_image",
            label="source image",
            choices=self._image_choices,
            tooltip="The annotated image whose classes are learnt.",
        )
        self._labels = ComboBox(
            name="source_labels",
            label="source labels",
            choices=self._labels_choices,
            tooltip="Labels layer of the source's classes (same shape as its pixels).",
        )
        self._targets = Select(
            name="targets",
            label="target image(s)",
            choices=self._image_choices,
            tooltip="Images to label (select several for a list; a stack is labelled "
            "plane by plane). All are adapted to in one training.",
        )
        self._about = Label(name="about", value=f"{spec.description}\n({spec.paper})")
        self._about.native.setWordWrap(True)
        self._param_widgets = {}
        for param in spec.params:
            widget = param_widget(param)
            if widget is not None:
                self._param_widgets[param.name] = widget
        from .._device import available_devices

        self._device = ComboBox(
            name="device",
            choices=available_devices(),
            tooltip="Where the networks train: auto = CUDA GPU, then Apple MPS, then CPU.",
        )
        self._seed = SpinBox(
            name="seed",
            value=0,
            min=0,
            max=2**31 - 1,
            tooltip="Same seed, same images, same parameters: same labels (on the CPU).",
        )
        self._run_button = PushButton(name="run", text="Run")
        self._progress = ProgressBar(name="progress", label="", value=0, min=0, max=100)
        self._status = Label(name="status", label="")
        self._status.native.setWordWrap(True)
        self.extend(
            [
                self._source,
                self._labels,
                self._targets,
                self._about,
                *self._param_widgets.values(),
                self._device,
                self._seed,
                self._run_button,
                self._progress,
                self._status,
            ]
        )
        self._run_button.changed.connect(self._on_run_clicked)
        layers = napari_viewer.layers
        for event in (layers.events.inserted, layers.events.removed, layers.events.renamed):
            event.connect(self._refresh_layers)
        closing = self._closing
        self.native.destroyed.connect(lambda *_: closing.set())

    # ---------------------------------------------------------------- public API
    @property
    def is_running(self) -> bool:
        return self._run is not None

    @property
    def param_widgets(self) -> dict:
        return dict(self._param_widgets)

    def run(self) -> None:
        """Start a run (what the Run button does when idle)."""
        if self._run is None:
            self._on_run_clicked()

    def cancel(self) -> None:
        """Ask the running transfer to stop; the UI is back within a second."""
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

    # ------------------------------------------------------------- form upkeep
    def _image_choices(self, _=None):
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image)]

    def _labels_choices(self, _=None):
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Labels)]

    def _refresh_layers(self, *_):
        for picker in (self._source, self._labels, self._targets):
            picker.reset_choices()

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
        source, labels = self._source.value, self._labels.value
        targets = list(self._targets.value or [])
        if source is None or labels is None:
            raise ValueError("Pick a source image and its labels layer first.")
        if not targets:
            raise ValueError("Select at least one target image.")
        params = {name: widget.value for name, widget in self._param_widgets.items()}
        resolved = get_method(METHOD).resolve(params)
        params["source_image"] = channel_last(source)
        params["source_labels"] = np.array(labels.data)  # a copy: painting may go on
        seed = int(self._seed.value)
        job = Job([channel_last(t) for t in targets], METHOD, -1, seed, self._device.value, params)
        outputs = [
            (t.name, _layers.output_geometry(t, _layers.default_channel(t))) for t in targets
        ]
        record = {
            "created_by": CREATED_BY,
            "version": __version__,
            "method": METHOD,
            "params": {k: v for k, v in resolved.items() if not k.startswith("source_")},
            "seed": seed,
            "device_requested": self._device.value,
            "source_layer": source.name,
            "source_labels_layer": labels.name,
        }
        return _Run(job=job, targets=outputs, record=record)

    def _start(self, run: _Run) -> None:
        closing = self._closing

        def stop() -> bool:
            return run.cancel.is_set() or closing.is_set()

        def report(event: Progress) -> None:
            self._relay.progressed.emit((run, event))

        worker = create_worker(run_job, run.job, report, stop, _ignore_errors=True)
        worker.returned.connect(partial(self._on_returned, run))
        worker.errored.connect(partial(self._on_errored, run))
        self._run = run
        self._run_button.text = "Cancel"
        self._progress.value = 0
        self._status.value = f"Transferring labels to {len(run.targets)} image(s)…"
        worker.start()

    def _current(self, run: _Run) -> bool:
        return run is self._run and not self._closing.is_set()

    def _on_progress(self, payload) -> None:
        run, event = payload
        if not self._current(run) or run.cancel.is_set():
            return
        run.last = event
        if event.total:
            self._progress.value = 100 * min(event.iteration, event.total) / event.total
        self._status.value = describe(event)
        if event.labels is None:
            return
        name, geometry = run.targets[0]
        data = np.asarray(event.labels).reshape(geometry.shape)
        if run.preview is not None and run.preview in self._viewer.layers:
            run.preview.data = data
            return
        run.preview = self._viewer.add_labels(
            data,
            name=f"{name} transfer (preview)",
            opacity=0.6,
            metadata={"created_by": CREATED_BY, "preview": True},
            **geometry.layer_kwargs(),
        )

    def _on_returned(self, run: _Run, outcome: Outcome) -> None:
        if not self._current(run):
            return
        if run.cancel.is_set():
            self._on_cancelled(run)
            return
        record = {**run.record, "device": outcome.device, "run_time_s": round(outcome.seconds, 3)}
        names = []
        for labels, (target, geometry) in zip(outcome.labels, run.targets, strict=True):
            names.append(f"{target} transfer")
            self._write(names[-1], geometry, labels, {**record, "target_layer": target})
        self._drop_preview(run)
        self._status.value = f"Done in {outcome.seconds:.1f} s on {outcome.device}: " + ", ".join(
            f"'{n}'" for n in names
        )
        self._progress.value = 100
        self._finish()

    def _write(self, name, geometry, labels, record) -> None:
        existing = next(
            (
                layer
                for layer in self._viewer.layers
                if layer.name == name
                and isinstance(layer, Labels)
                and layer.metadata.get("created_by") == CREATED_BY
                and layer.data.shape == geometry.shape
            ),
            None,
        )
        if existing is None:
            self._viewer.add_labels(labels, name=name, metadata=record, **geometry.layer_kwargs())
        else:
            existing.data = labels
            existing.metadata = record

    def _on_errored(self, run: _Run, error: BaseException) -> None:
        if not self._current(run):
            return
        if isinstance(error, SegmentationCancelled):
            self._on_cancelled(run)
            return
        if not isinstance(error, ValueError | TypeError | MemoryError):
            logger.error("label transfer failed", exc_info=error)
        self._drop_preview(run)
        self._status.value = "Failed: see the notification."
        self._finish()
        show_error(describe_error(error, run.record["source_layer"], METHOD))

    def _on_cancelled(self, run: _Run) -> None:
        if not self._current(run):
            return
        where = f" at iteration {run.last.iteration}" if run.last is not None else ""
        self._drop_preview(run)
        self._status.value = f"Cancelled{where}."
        self._finish()

    def _drop_preview(self, run: _Run) -> None:
        if run.preview is not None and run.preview in self._viewer.layers:
            self._viewer.layers.remove(run.preview)
        run.preview = None

    def _finish(self) -> None:
        self._run = None
        self._run_button.text = "Run"
        self._run_button.enabled = True
