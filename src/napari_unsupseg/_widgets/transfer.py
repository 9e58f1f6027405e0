"""The label-transfer dock widget: pick an annotated source and the target images.

A thin front end over :func:`napari_unsupseg.segment` with ``method="transfer"``
(Tsai et al. 2018, "Learning to Adapt Structured Output Space for Semantic
Segmentation"): the source image and its labels teach the classes, every selected
target (an image, a stack labelled plane by plane, or several images at once) gets
them. The job is made by the Qt-free :mod:`._transfer_run` and runs in a napari thread
worker (:mod:`._runner`) with a live preview on the first target; the user's layers
are never modified.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import Select
from napari.layers import Image, Labels
from napari.utils.notifications import show_error

from .._registry import get_method
from . import _outputs
from ._form import device_choices, picker, seed_box, text_line
from ._params import param_widget
from ._runner import RunDock
from ._transfer_run import METHOD, TransferRun, plan_transfer
from ._worker import Outcome, run_job


class TransferWidget(RunDock):
    """Transfer the classes of an annotated source image to other images, live."""

    what = "label transfer"

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer)
        spec = get_method(METHOD)

        self._source = picker(
            "source_image", self._image_choices, "The annotated image whose classes are learnt."
        )
        self._labels = picker(
            "source_labels",
            self._labels_choices,
            "Labels layer of the source's classes (same shape as its pixels).",
        )
        self._targets = Select(
            name="targets",
            label="target image(s)",
            choices=self._image_choices,
            tooltip="Images to label (select several for a list; a stack is labelled "
            "plane by plane). All are adapted to in one training.",
        )
        self._about = text_line("about", value=f"{spec.description}\n({spec.paper})")
        self._param_widgets = {}
        for param in spec.params:
            widget = param_widget(param)
            if widget is not None:
                self._param_widgets[param.name] = widget
        self._device = picker(
            "device",
            device_choices(),
            "Where the networks train: auto = CUDA GPU, then Apple MPS, then CPU.",
        )
        self._seed = seed_box("images")
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
        layers = napari_viewer.layers
        for event in (layers.events.inserted, layers.events.removed, layers.events.renamed):
            event.connect(self._refresh_layers)

    # ---------------------------------------------------------------- public API
    @property
    def param_widgets(self) -> dict:
        return dict(self._param_widgets)

    # ------------------------------------------------------------- form upkeep
    def _image_choices(self, _=None):
        """The user's images: never one this plugin drew (an evaluation heat map)."""
        layers = self._viewer.layers
        return [(x.name, x) for x in layers if isinstance(x, Image) and not _outputs.made_here(x)]

    def _labels_choices(self, _=None):
        """Labels to learn from: a finished (maybe corrected) segmentation may teach,
        a live preview may not."""
        layers = self._viewer.layers
        return [(x.name, x) for x in layers if isinstance(x, Labels) and not _outputs.is_preview(x)]

    def _refresh_layers(self, *_):
        for choice in (self._source, self._labels, self._targets):
            choice.reset_choices()

    # --------------------------------------------------------------------- runs
    _work = staticmethod(run_job)

    @staticmethod
    def _starting(run: TransferRun) -> str:
        return f"Transferring labels to {len(run.targets)} image(s)…"

    def _notify(self, text: str) -> None:
        show_error(text)

    def _prepare_run(self) -> TransferRun:
        return plan_transfer(
            self._source.value,
            self._labels.value,
            list(self._targets.value or []),
            {name: widget.value for name, widget in self._param_widgets.items()},
            self._seed.value,
            self._device.value,
        )

    def _on_progress(self, run: TransferRun, event) -> None:
        if event.total:
            self._progress.value = 100 * min(event.iteration, event.total) / event.total
        if event.labels is None:
            return
        name, geometry = run.targets[0]
        data = np.asarray(event.labels).reshape(geometry.shape)
        preview = f"{name} transfer (preview)"
        _outputs.show_preview(self._viewer, run, data, preview, geometry, keep_selection=False)

    def _on_result(self, run: TransferRun, outcome: Outcome) -> str:
        record = run.timing(outcome)
        names = []
        for labels, (target, geometry) in zip(outcome.labels, run.targets, strict=True):
            names.append(f"{target} transfer")
            _outputs.write_labels(
                self._viewer, names[-1], geometry, labels, {**record, "target_layer": target}
            )
        return f"Done in {outcome.seconds:.1f} s on {outcome.device}: " + ", ".join(
            f"'{n}'" for n in names
        )
