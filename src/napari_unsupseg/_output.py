"""What the labels of a run are: classes, connected regions or objects.

``plan_output`` decides once, before the segmenter runs, what ``output="auto"`` means
for this image and, for objects, the typical object radius and whether the background
is flattened first (both read off the image unless given). ``OutputPlan.finish`` turns
the segmenter's classes into the labels asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import objects as obj

OUTPUTS = ("auto", "classes", "regions", "objects")


#: objects are 2D or 3D: beyond that (a time series of volumes) nothing says which axis
#: is time, so objects are not guessed
MAX_OBJECT_NDIM = 3


def auto_output(is_rgb: bool, ndim: int = 2) -> str:
    """Colour photographs want regions; microscopy (grey or channels) wants objects."""
    return "regions" if is_rgb or ndim > MAX_OBJECT_NDIM else "objects"


@dataclass(frozen=True)
class OutputPlan:
    """The output kind, and for objects how they are made."""

    kind: str
    radius: float | None = None  # typical object radius, in spacing units
    spacing: tuple[float, ...] | None = None
    flatten: bool = False
    intensity: np.ndarray | None = None  # what the foreground is judged on
    background_classes: tuple[int, ...] | None = None

    def finish(self, classes: np.ndarray, background_classes=None) -> np.ndarray:
        """Labels of this plan's kind from ``classes`` (1..K, the intensity's shape);
        ``background_classes`` overrides the plan's (the widget's re-pick)."""
        if self.kind == "classes":
            return classes
        if self.kind == "regions":
            return obj.number_objects(obj.connected_regions(classes))
        background = self.background_classes if background_classes is None else background_classes
        return obj.objects_from_classes(
            classes.reshape(self.intensity.shape),
            self.intensity,
            self.radius,
            self.spacing,
            background,
        )


def plan_output(
    output: str,
    features: np.ndarray,
    *,
    is_rgb: bool,
    spacing,
    object_diameter: float | None,
    background_classes: Sequence[int] | None,
    spatial_shape: tuple[int, ...] | None,
) -> tuple[OutputPlan, np.ndarray]:
    """Resolve ``output`` for channel-last ``features`` (squeezed spatial axes); return
    the plan and the features the segmenter is to run on (flattened for objects when
    that helps). ``spacing`` is given for the user's ``spatial_shape`` (leading
    singleton axes included, as napari's scale is)."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {output!r}")
    ndim = features.ndim - 1
    kind = auto_output(is_rgb, ndim) if output == "auto" else output
    if kind == "objects" and ndim > MAX_OBJECT_NDIM:
        raise ValueError(
            f"objects are made in 2D and 3D; this image has {ndim} spatial axes. Segment "
            "each time point (segment_series), or ask for output='classes' or 'regions'"
        )
    user_ndim = len(spatial_shape) if spatial_shape is not None else ndim
    if spacing is not None:
        spacing = tuple(obj.as_spacing(spacing, user_ndim)[user_ndim - ndim :])
    if object_diameter is not None:
        object_diameter = _check_diameter(object_diameter)
    if background_classes is not None:
        background_classes = _check_classes(background_classes)
    if kind != "objects":
        return OutputPlan(kind, spacing=spacing), features
    intensity = obj.intensity_of(features)
    radius = (
        object_diameter / 2
        if object_diameter is not None
        else obj.object_radius(intensity, spacing)
    )
    flatten = obj.flattening_helps(intensity, radius, spacing)
    if flatten:
        features = obj.flatten_background(features, radius, spacing)
    features = obj.stretch(features)
    intensity = obj.intensity_of(features)
    return OutputPlan(kind, radius, spacing, flatten, intensity, background_classes), features


def _check_diameter(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"object_diameter must be a number, got {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"object_diameter must be a positive number, got {value!r}")
    return float(value)


def _check_classes(values) -> tuple[int, ...]:
    if isinstance(values, int | np.integer):
        values = (values,)
    try:
        classes = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(
            f"background_classes must be class ids (whole numbers), got {values!r}"
        ) from None
    if any(c < 1 for c in classes):
        raise ValueError(f"background_classes are class ids from 1 up, got {classes}")
    return classes
