"""The model of a segmentation run of the dock: what the form asked, the job it makes,
the record the result carries. Qt-free: the form (:mod:`.segment`) reads its fields
into a :class:`SegmentRequest`; :func:`plan_run` turns it into a :class:`SegmentRun`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._provenance import Provenance
from .._registry import get_method
from . import _layers
from ._outputs import CREATED_BY
from ._run import Run
from ._worker import Job, Outcome

CURRENT_PLANE = "current plane"
WHOLE_STACK = "whole stack"


@dataclass(frozen=True)
class SegmentRequest:
    """The form's values when Run is pressed (layers as napari layers)."""

    layer: object  # the image layer
    method: str
    channel: object  # an axis, :data:`_layers.RGB` or None
    plane: dict[int, int]  # {} for the whole image or stack
    params: dict
    scribbles: object  # a Labels layer, or None
    output: str
    object_diameter: float  # 0: measured from the image
    seed: int
    threads: int
    device: str
    new_layer: bool = False
    keep_preview: bool = False


@dataclass
class SegmentRun(Run):
    """One press of Run: what was asked, and where the result must go."""

    source: str = ""
    target: str = ""
    geometry: _layers.Geometry | None = None
    plane: dict[int, int] = field(default_factory=dict)
    new_layer: bool = False
    keep_preview: bool = False
    layer: object = None  # the source layer: removing it cancels the run

    def preview_geometry(self) -> _layers.Geometry:
        return self.geometry.plane(self.plane) if self.plane else self.geometry


def plan_run(request: SegmentRequest) -> SegmentRun:
    """The job and record of ``request``; ValueError or TypeError when it cannot run."""
    layer, channel, plane = request.layer, request.channel, request.plane
    spec = get_method(request.method)
    axes = _layers.spatial_axes(layer, channel)
    geometry = _layers.output_geometry(layer, channel)
    data = _layers.image_data(layer)
    if plane:
        data = data[_layers.take_plane(data, axes, plane)]
    if channel is None:
        data, channel_axis = data[..., np.newaxis], -1  # never guess RGB for grey data
    elif channel == _layers.RGB:
        channel_axis = None
    else:
        channel_axis = channel - sum(axes[axis] < channel for axis in plane)

    params = dict(request.params)
    scribbles = request.scribbles if "scribbles" in spec.defaults else None
    if scribbles is not None:
        params["scribbles"] = scribble_array(scribbles, geometry, plane)
    resolved = spec.resolve(params)
    spacing = tuple(s for axis, s in enumerate(geometry.scale) if axis not in plane)
    output = {
        "output": request.output,
        "spacing": spacing,
        "object_diameter": request.object_diameter or None,
    }
    record = {
        "created_by": CREATED_BY,
        **Provenance.layer_fields(),
        "method": request.method,
        "params": {k: v for k, v in resolved.items() if spec.param(k).kind != "array"},
        "seed": int(request.seed),
        "threads": int(request.threads),
        "device_requested": request.device,
        "source_layer": layer.name,
        "channel_axis": channel,
        "plane": {int(axis): int(i) for axis, i in plane.items()} or None,
        "scribbles_layer": scribbles.name if scribbles is not None else None,
        **output,
    }
    seed, threads = record["seed"], record["threads"]
    job = Job(data, request.method, channel_axis, seed, request.device, params, output, threads)
    return SegmentRun(
        job=job,
        record=record,
        source=layer.name,
        target=f"{layer.name} {request.method}",
        geometry=geometry,
        plane=plane,
        new_layer=request.new_layer,
        keep_preview=request.keep_preview,
        layer=layer,
    )


def scribble_array(layer, geometry, plane) -> np.ndarray:
    """The scribbles of the plane run, copied (painting goes on during the run)."""
    data = np.asarray(layer.data)
    if data.shape != geometry.shape:
        raise ValueError(
            f"The scribbles layer '{layer.name}' has shape {data.shape}, but the image's "
            f"spatial shape is {geometry.shape}: use the Scribble button to make one."
        )
    return np.array(data[_layers.plane_key(data.ndim, plane)])


def result_record(run: SegmentRun, outcome: Outcome) -> dict:
    """The record a finished run's layer carries: the request, and what came out."""
    plan = outcome.result.plan
    record = {
        **run.timing(outcome),
        "n_labels": outcome.n_labels,
        "output_kind": plan.kind,
    }
    if plan.kind == "objects" and plan.radius is not None:  # (not kept by lazy runs)
        record["object_radius"] = round(float(plan.radius), 3)
        record["background_flattened"] = plan.flatten
    return record


def done_text(record: dict, outcome: Outcome, layer_name: str) -> str:
    return (
        f"Done: {record['n_labels']} {record['output_kind']} in {outcome.seconds:.1f} s on "
        f"{outcome.device}, in layer '{layer_name}'."
    )
