"""The layer the inspect widget edits, and small helpers about labels layers.

Edits never touch the user's layers: :func:`edited_copy` makes (once) a Labels layer
named "<labels> edited" that holds a copy of the data and the record of the edits.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels

from ._layers import image_data
from ._outputs import CREATED_BY, placement


def is_inspect_output(layer) -> bool:
    """Whether ``layer`` is an edited copy made by the inspect widget."""
    metadata = layer.metadata if isinstance(layer.metadata, dict) else {}
    return bool(metadata.get("inspect_output"))


def layer_array(layer) -> np.ndarray:
    """The full-resolution array of a layer, read (dask and zarr included)."""
    return np.asarray(image_data(layer))


def edited_copy(viewer, source: Labels, image_layer) -> Labels:
    """The edited copy of ``source`` (made now, or found), or ``source`` itself
    when it is such a copy already."""
    if is_inspect_output(source):
        return source
    for layer in viewer.layers:
        if is_inspect_output(layer) and layer.metadata.get("source_labels") == source.name:
            return layer
    metadata = {
        "created_by": CREATED_BY,
        "inspect_output": True,
        "source_labels": source.name,
        "image_layer": None if image_layer is None else image_layer.name,
        "edits": [],
    }
    return viewer.add_labels(
        np.array(layer_array(source), copy=True),
        name=f"{source.name} edited",
        metadata=metadata,
        **placement(source),
    )


def label_colours(layer: Labels, ids) -> np.ndarray:
    """RGBA of each label as the layer draws it when nothing is singled out (with
    'show selected label' on, the layer's own colours of the others are transparent)."""
    colormap = layer.colormap
    copy = getattr(colormap, "model_copy", None) or colormap.copy
    return np.asarray(copy(update={"use_selection": False}).map(np.asarray(ids)))


def describe(record: dict) -> str:
    """An edit record in words, for the status line."""
    ids = ", ".join(map(str, record.get("labels", [])))
    words = {
        "merge": f"merged {ids} into {record.get('into') or ids.split(',')[0]}",
        "split_components": f"split {ids} into pieces",
        "split_watershed": f"split {ids} by watershed (radius {record.get('radius', 0):.3g})",
        "background": f"sent {ids} to the background",
        "relabel": "relabelled 1..K, largest first",
    }
    return words[record["edit"]]
