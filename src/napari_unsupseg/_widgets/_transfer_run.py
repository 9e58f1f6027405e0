"""The model of a label-transfer run of the dock: the job made of the chosen layers,
and the record each target's result carries. Qt-free."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._provenance import Provenance
from .._registry import get_method
from . import _layers
from ._outputs import CREATED_BY
from ._run import Run
from ._worker import Job

METHOD = "transfer"


@dataclass
class TransferRun(Run):
    """One press of Run: the job, and the targets' names and output geometries."""

    targets: list = field(default_factory=list)  # (target layer name, Geometry) per target


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


def plan_transfer(source, labels, targets: list, params: dict, seed: int, device: str):
    """The run teaching ``labels`` (of ``source``) to ``targets``; ValueError when a
    pick is missing."""
    if source is None or labels is None:
        raise ValueError("Pick a source image and its labels layer first.")
    if not targets:
        raise ValueError("Select at least one target image.")
    params = dict(params)
    resolved = get_method(METHOD).resolve(params)
    params["source_image"] = channel_last(source)
    params["source_labels"] = np.array(labels.data)  # a copy: painting may go on
    seed = int(seed)
    job = Job([channel_last(t) for t in targets], METHOD, -1, seed, device, params)
    outputs = [(t.name, _layers.output_geometry(t, _layers.default_channel(t))) for t in targets]
    record = {
        "created_by": CREATED_BY,
        **Provenance.layer_fields(),
        "method": METHOD,
        "params": {k: v for k, v in resolved.items() if not k.startswith("source_")},
        "seed": seed,
        "device_requested": device,
        "source_layer": source.name,
        "source_labels_layer": labels.name,
    }
    return TransferRun(job=job, record=record, targets=outputs)
