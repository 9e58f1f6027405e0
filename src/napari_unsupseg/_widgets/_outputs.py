"""The layers the docks write: live previews, results, and where they lie. Qt-free.

Every layer made here is marked ``created_by`` in its metadata, so the pickers can
leave it out and a later run can find and update it; the user's own layers are only
read. Works on any viewer with napari's ``layers`` and ``add_labels``.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Image, Labels

from . import _layers

CREATED_BY = "napari-unsupseg"
#: napari's default opacity of a Labels layer; the preview is fainter
RESULT_OPACITY, PREVIEW_OPACITY = 0.7, 0.6


def made_here(layer) -> bool:
    """A layer this plugin wrote (a result, a preview, an evaluation heat map)."""
    metadata = layer.metadata if isinstance(layer.metadata, dict) else {}
    return metadata.get("created_by") == CREATED_BY


def is_preview(layer) -> bool:
    """A live preview of a run: its pixels are still changing."""
    return made_here(layer) and bool(layer.metadata.get("preview"))


def is_output(layer) -> bool:
    return isinstance(layer, Labels) and made_here(layer)


def placement(layer) -> dict:
    """Where ``layer`` lies in the world, for layers that must overlay it."""
    place = {"scale": tuple(layer.scale), "translate": tuple(layer.translate)}
    for name in ("units", "axis_labels"):
        if getattr(layer, name, None) is not None:
            place[name] = tuple(getattr(layer, name))
    return place


def find_output(viewer, name: str, shape: tuple) -> Labels | None:
    """The result layer of that name and shape a run wrote before, if any."""
    return next(
        (
            layer
            for layer in viewer.layers
            if layer.name == name and is_output(layer) and layer.data.shape == shape
        ),
        None,
    )


def show_preview(viewer, run, data, name: str, geometry, keep_selection: bool = True) -> None:
    """Show ``data`` in the run's preview layer (added at the first call)."""
    if run.preview is not None and run.preview in viewer.layers:
        run.preview.data = data
        return
    active = viewer.layers.selection.active
    run.preview = viewer.add_labels(
        data,
        name=name,
        opacity=PREVIEW_OPACITY,
        metadata={"created_by": CREATED_BY, "preview": True},
        **geometry.layer_kwargs(),
    )
    if keep_selection and active is not None and active in viewer.layers:
        viewer.layers.selection.active = active  # keep the user's selection


def drop_preview(viewer, run) -> None:
    if run.preview is not None and run.preview in viewer.layers:
        viewer.layers.remove(run.preview)
    run.preview = None


def keep_cancelled_preview(viewer, run) -> bool:
    """Rename the preview of a cancelled run and keep it, when the run asked so."""
    preview = run.preview
    if not run.keep_preview or preview is None or preview not in viewer.layers:
        return False
    preview.name = f"{run.target} (cancelled preview)"
    preview.metadata = {
        **run.record,
        "preview": True,
        "cancelled_at_iteration": run.last.iteration if run.last else None,
    }
    return True


def write_result(viewer, run, labels: np.ndarray, record: dict) -> Labels:
    """Put a segmentation run's labels into its result layer: the one of earlier runs
    (that plane of it, for a current-plane run) unless a new layer each run is asked."""
    shape = run.geometry.shape
    existing = None if run.new_layer else find_output(viewer, run.target, shape)
    if run.plane:
        data = np.array(existing.data) if existing is not None else np.zeros(shape, np.int32)
        data[_layers.plane_key(len(shape), run.plane)] = labels
    else:
        data = labels
    runs = [*existing.metadata.get("runs", []), record] if existing is not None else [record]
    metadata = {**record, "runs": runs}
    preview = run.preview
    if existing is None and not run.plane and preview in viewer.layers:
        # the preview becomes the result: adding a layer and removing another costs
        # napari a vispy visual and a full garbage collection on the GUI thread
        run.preview = None
        preview.data, preview.metadata = data, metadata
        preview.name, preview.opacity = run.target, RESULT_OPACITY
        return preview
    if existing is None:
        return viewer.add_labels(
            data, name=run.target, metadata=metadata, **run.geometry.layer_kwargs()
        )
    existing.data = data
    existing.metadata = metadata
    existing.scale, existing.translate = run.geometry.scale, run.geometry.translate
    return existing


def write_labels(viewer, name: str, geometry, labels, record: dict) -> None:
    """Add a result layer, or update the one of that name and shape a run wrote."""
    existing = find_output(viewer, name, geometry.shape)
    if existing is None:
        viewer.add_labels(labels, name=name, metadata=record, **geometry.layer_kwargs())
    else:
        existing.data = labels
        existing.metadata = record


def put_objects(run, layer, labels: np.ndarray, background) -> int:
    """Write objects re-made with other background classes into the run's result."""
    if run.plane:
        data = np.array(layer.data)
        data[_layers.plane_key(data.ndim, run.plane)] = labels
    else:
        data = labels.reshape(run.geometry.shape)
    layer.data = data
    count = int(labels.max(initial=0))
    layer.metadata = {**layer.metadata, "background_classes": list(background), "n_labels": count}
    return count


#: metadata marking the layers the evaluation dock made (kept out of its own pickers)
EVALUATION_TAG = {"created_by": CREATED_BY, "evaluation_output": True}


def is_evaluation_output(layer) -> bool:
    metadata = layer.metadata if isinstance(layer.metadata, dict) else {}
    return bool(metadata.get("evaluation_output"))


def put_evaluation_layer(viewer, name: str, data, kind: str, **kwargs):
    """Update the evaluation dock's layer of that name, or add it: one per prediction."""
    kinds = {"image": Image, "labels": Labels}
    existing = next(
        (
            layer
            for layer in viewer.layers
            if layer.name == name and is_evaluation_output(layer) and isinstance(layer, kinds[kind])
        ),
        None,
    )
    if existing is None:
        add = viewer.add_image if kind == "image" else viewer.add_labels
        return add(data, name=name, metadata=dict(EVALUATION_TAG), **kwargs)
    existing.data = data
    existing.scale, existing.translate = kwargs["scale"], kwargs["translate"]
    return existing
