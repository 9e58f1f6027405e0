"""Bring a point of a layer into view: sliders to its plane, camera to its centre.
Qt-free (works on any viewer with napari's ``dims`` and camera)."""

from __future__ import annotations

import numpy as np


def camera(viewer):
    """The viewer's camera: ``viewer.scene.camera`` since napari 0.9, ``viewer.camera`` before."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def look_at(viewer, layer, point) -> None:
    """Move the sliders of the axes not shown, and the camera, to ``point`` (data
    coordinates of ``layer``)."""
    world = np.asarray(layer.data_to_world(point), dtype=float)
    dims = viewer.dims
    offset = dims.ndim - world.size
    for axis, value in enumerate(world):
        if axis + offset not in dims.displayed:
            dims.set_point(axis + offset, value)
    displayed = [axis - offset for axis in dims.displayed if axis >= offset]
    camera(viewer).center = tuple(world[displayed])
