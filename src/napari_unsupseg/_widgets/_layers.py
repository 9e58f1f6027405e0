"""Where an image layer's pixels are, and where a segmentation of them must go.

Outputs are Labels layers over the image's *spatial* axes (a channel axis is
dropped), with the image's scale, translate, units and axis labels, so that they
overlay the image exactly. "Current plane" runs cut the 2D plane shown by the
viewer out of a stack and put the result back into that plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._preprocess import MAX_CHANNELS

#: channel-axis value meaning "colour, the last axis of an RGB(A) layer"
RGB = "rgb"
#: a first axis this short, before two long ones, is taken for channels (a stack of 2
#: or 3 planes is rare; 2-3 fluorescence channels are everyday); 4 or more: planes
MAX_GUESSED_CHANNELS = 3


@dataclass(frozen=True)
class Geometry:
    """Shape and world placement of a Labels layer over an image's spatial axes."""

    shape: tuple[int, ...]
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    units: tuple | None
    axis_labels: tuple | None

    def layer_kwargs(self) -> dict:
        kwargs = {"scale": self.scale, "translate": self.translate}
        if self.units is not None:
            kwargs["units"] = self.units
        if self.axis_labels is not None:
            kwargs["axis_labels"] = self.axis_labels
        return kwargs

    def plane(self, index: dict[int, int]) -> Geometry:
        """The geometry of one plane of this stack, kept in place in the world."""
        shape = tuple(1 if axis in index else n for axis, n in enumerate(self.shape))
        translate = tuple(
            t + index.get(axis, 0) * s
            for axis, (t, s) in enumerate(zip(self.translate, self.scale, strict=True))
        )
        return Geometry(shape, self.scale, translate, self.units, self.axis_labels)


def image_data(layer):
    """The full-resolution array of a layer (level 0 of a multiscale), unread."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def data_shape(layer) -> tuple[int, ...]:
    return tuple(int(n) for n in image_data(layer).shape)


def channel_choices(layer) -> list[tuple[str, object]]:
    """Choices for the channel-axis picker: (label, value) pairs."""
    if layer is None:
        return [("none", None)]
    if layer.rgb:
        return [("RGB colour (last axis)", RGB)]
    shape = data_shape(layer)
    axes = [
        (f"axis {axis} ({n} channels)", axis)
        for axis, n in enumerate(shape)
        if 1 < n <= MAX_CHANNELS
    ]
    return [("none", None), *axes] if len(shape) > 2 else [("none", None)]


def default_channel(layer):
    """The channel axis napari users would expect: RGB, else the layer's metadata, else
    a short first axis (2 or 3 entries) of a 3D layer."""
    if layer is None:
        return None
    if layer.rgb:
        return RGB
    axis = layer.metadata.get("channel_axis") if isinstance(layer.metadata, dict) else None
    shape = data_shape(layer)
    ndim = len(shape)
    if isinstance(axis, int | np.integer) and -ndim <= axis < ndim and ndim > 2:
        axis = int(axis) % ndim
        if 1 < shape[axis] <= MAX_CHANNELS:  # only what the picker offers
            return axis
    if ndim == 3 and 2 <= shape[0] <= MAX_GUESSED_CHANNELS and min(shape[1:]) >= 16:
        return 0  # (2, 200, 200) is two channels of one image, not a 2-plane stack
    return None


def spatial_axes(layer, channel) -> list[int]:
    """The layer's axes that are space (or time), not channels."""
    return [axis for axis in range(layer.ndim) if channel in (None, RGB) or axis != channel]


def output_geometry(layer, channel) -> Geometry:
    """Geometry of a Labels layer covering ``layer``'s spatial axes."""
    axes = spatial_axes(layer, channel)
    shape = data_shape(layer)

    def pick(values):
        values = tuple(values)
        return tuple(values[a] for a in axes) if len(values) == layer.ndim else None

    return Geometry(
        shape=tuple(shape[a] for a in axes),
        scale=tuple(float(s) for s in pick(layer.scale)),
        translate=tuple(float(t) for t in pick(layer.translate)),
        units=pick(layer.units) if hasattr(layer, "units") else None,
        axis_labels=pick(layer.axis_labels) if hasattr(layer, "axis_labels") else None,
    )


def current_plane(viewer, layer, channel) -> dict[int, int]:
    """Indices, by output axis, of the plane the viewer shows now; {} for 2D images.

    The plane is spanned by the two displayed axes when both are spatial, else by the
    last two spatial axes; every other spatial axis is fixed at the slider position.
    """
    axes = spatial_axes(layer, channel)
    if len(axes) <= 2:
        return {}
    offset = viewer.dims.ndim - layer.ndim
    displayed = [axis - offset for axis in viewer.dims.displayed[-2:]]
    plane_axes = displayed if all(a in axes for a in displayed) else axes[-2:]
    position = np.asarray(layer.world_to_data(viewer.dims.point), dtype=float)
    shape = data_shape(layer)
    return {
        out_axis: int(np.clip(np.round(position[axis]), 0, shape[axis] - 1))
        for out_axis, axis in enumerate(axes)
        if axis not in plane_axes
    }


def take_plane(array, layer_axes: list[int], index: dict[int, int]) -> tuple:
    """Index tuple cutting ``index`` (by output axis) out of an array whose axes
    ``layer_axes`` are the spatial ones."""
    key = [slice(None)] * np.ndim(array)
    for out_axis, position in index.items():
        key[layer_axes[out_axis]] = position
    return tuple(key)


def plane_key(ndim: int, index: dict[int, int]) -> tuple:
    """Index tuple selecting the plane ``index`` in an output array of ``ndim`` axes."""
    return tuple(index.get(axis, slice(None)) for axis in range(ndim))
