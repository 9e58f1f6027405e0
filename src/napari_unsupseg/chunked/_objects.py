"""Objects of a lazy image, chunk by chunk, one id per object across chunk borders.

The in-memory steps of :mod:`napari_unsupseg.objects` split in two:

- decided once, on a sample of the image (the image itself when it has at most
  :data:`SAMPLE_PIXELS` pixels, else a block-mean copy brought down at most
  :data:`MAX_SAMPLE_FACTOR` times in-plane, its central part when still too big):
  the contrast stretch's levels, the object radius (or the user's ``object_diameter``),
  the classes' mean intensities and Otsu's level on the class-mean image (or the
  user's ``background_classes``);
- per chunk, on the chunk grown by about two object diameters (at most
  :data:`MAX_OBJECT_CONTEXT` pixels a side, so that a chunk stays bounded): the
  classes, the foreground, holes filled, touching objects split by the seeded
  watershed, fragments dropped, exactly as in memory but on the grown block.

One id per object: every grown block labels its objects and gives each the global
position (raster index + 1) of its first pixel in raster order, then writes its own
chunk only. Two blocks that see the whole of an object give it the same pixels, so the
same first pixel, so the same id, deterministically, and two touching objects split by
the watershed keep two ids (no merging by pixels touching across a face). The ids are
then numbered 1..N largest first, as in memory, from the per-chunk sizes (a small
reduction) and a lazy lookup. When the sample says the background is to be flattened
(as in memory), each chunk is flattened with the background Gaussian's reach of
context (at most :data:`MAX_FLATTEN_CONTEXT` pixels), divided by the sample's level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import objects as obj

#: the sample the global quantities are read from has at most this many pixels
SAMPLE_PIXELS = 1 << 21
#: the sample is a block-mean copy brought down at most this many times in-plane
MAX_SAMPLE_FACTOR = 4
#: context beyond a chunk, in object diameters
CONTEXT_DIAMETERS = 2.0
#: and at most this many pixels a side
MAX_OBJECT_CONTEXT = 256
#: the background Gaussian sees at most this many pixels beyond a chunk
MAX_FLATTEN_CONTEXT = 256
#: the object steps' peak per pixel of a grown chunk (measured: 92 bytes traced on a
#: 1120x1120 block of disks), on top of the classes'
OBJECT_BYTES_PER_PIXEL = 96


@dataclass(frozen=True)
class LazyObjectPlan:
    """What every chunk needs to make its objects (picklable, for Dask workers)."""

    radius: float  # in spacing units
    spacing: tuple[float, ...]
    low: np.ndarray  # the contrast stretch, per channel
    span: np.ndarray
    class_means: np.ndarray | None = None  # mean intensity of class id i at [i]
    threshold: float = -np.inf  # Otsu's level on the smoothed class-mean image
    background_classes: tuple[int, ...] | None = None

    flatten_top: np.ndarray | None = None  # the flattened sample's 99.5th percentiles

    def prepare(self, block: np.ndarray) -> np.ndarray:
        """Normalised features -> what the segmenter sees: flattened when the sample
        said so (as in memory, but on the grown block), then stretched."""
        if self.flatten_top is not None:
            flat = obj.subtract_background(block, self.radius, self.spacing)
            block = obj.scale_flat(flat, self.flatten_top)
        return obj.stretch_with(block, self.low, self.span)

    def context(self) -> tuple[int, ...]:
        """Pixels of context per spatial axis: two diameters, capped, plus the
        smoothing's reach."""
        diameters = CONTEXT_DIAMETERS * 2 * self.radius / np.asarray(self.spacing)
        return tuple(math.ceil(min(d, MAX_OBJECT_CONTEXT)) + 4 for d in diameters)

    def flatten_context(self) -> tuple[int, ...]:
        """The background Gaussian's reach per axis (capped), or none."""
        if self.flatten_top is None:
            return (0,) * len(self.spacing)
        sigmas = obj.FLATTEN_RADII * self.radius / np.asarray(self.spacing)
        return tuple(math.ceil(min(4 * s + 0.5, MAX_FLATTEN_CONTEXT)) for s in sigmas)

    def foreground(self, classes: np.ndarray, intensity: np.ndarray) -> np.ndarray:
        from scipy import ndimage as ndi

        if self.background_classes is not None:
            return obj.foreground_of(classes, intensity, self.background_classes, self.spacing)
        spacing = np.asarray(self.spacing)
        means = self.class_means[np.clip(classes, 0, self.class_means.size - 1)]
        return ndi.gaussian_filter(means, spacing.min() / spacing) > self.threshold

    def objects(self, classes: np.ndarray, intensity: np.ndarray) -> np.ndarray:
        """Objects of a grown block, ids in no particular order (0: background)."""
        return obj.split_touching(self.foreground(classes, intensity), self.radius, self.spacing)


def objects_chunk_bytes(features) -> int:
    """The object steps' peak on one chunk of the lazy ``features``, grown by the
    largest contexts (the radius is not known yet when memory is checked)."""
    grown = [
        min(int(c) + 2 * (MAX_OBJECT_CONTEXT + 4 + MAX_FLATTEN_CONTEXT), int(n))
        for c, n in zip(features.chunksize[:-1], features.shape[:-1], strict=True)
    ]
    return int(np.prod(grown)) * OBJECT_BYTES_PER_PIXEL


def object_sample(features) -> tuple[np.ndarray, np.ndarray]:
    """(sample, its factor per spatial axis): the lazy channel-last ``features`` as a
    numpy copy of at most SAMPLE_PIXELS pixels (see the module's docstring)."""
    import dask.array as da

    spatial = np.asarray(features.shape[:-1])
    factor = 1
    while factor < MAX_SAMPLE_FACTOR and np.prod(spatial) / factor**2 > SAMPLE_PIXELS:
        factor += 1
    source = features
    if factor > 1:
        axes = {features.ndim - 3: factor, features.ndim - 2: factor}
        size = max(factor, (max(features.chunks[-2]) // factor) * factor)
        source = features.rechunk({features.ndim - 3: size, features.ndim - 2: size})
        source = da.coarsen(np.mean, source, axes, trim_excess=True).astype(np.float32)
    shape = np.asarray(source.shape[:-1])
    keep = shape.copy()
    while np.prod(keep) > SAMPLE_PIXELS:  # the central part, cut in-plane
        keep[-2:] = np.maximum(1, (keep[-2:] * 0.9).astype(int))
    start = (shape - keep) // 2
    source = source[tuple(slice(int(a), int(a + n)) for a, n in zip(start, keep, strict=True))]
    factors = np.ones(spatial.size)
    factors[-2:] = factor
    return np.asarray(source.compute(), dtype=np.float32), factors


def plan_objects(features, spacing, object_diameter) -> tuple[LazyObjectPlan, np.ndarray]:
    """(the plan's radius, flattening and stretch, the sample as the segmenter will see
    it) from the lazy normalised ``features``, in the in-memory path's order; the
    classes' part comes once the segmenter is trained (:func:`with_classes`)."""
    spacing = obj.as_spacing(spacing, features.ndim - 1)
    sample, factors = object_sample(features)
    sample_spacing = spacing * factors
    intensity = obj.intensity_of(sample)
    if object_diameter is not None:
        radius = object_diameter / 2
    else:
        radius = obj.object_radius(intensity, sample_spacing)
    top = None
    if obj.flattening_helps(intensity, radius, sample_spacing):
        sample = obj.subtract_background(sample, radius, sample_spacing)
        top = np.percentile(_thinned(sample), 99.5, axis=0)
        sample = obj.scale_flat(sample, top)
    low, span = obj.stretch_levels(_thinned(sample))
    spacing = tuple(float(s) for s in spacing)
    plan = LazyObjectPlan(float(radius), spacing, low, span, flatten_top=top)
    return plan, obj.stretch_with(sample, low, span)


def _thinned(features: np.ndarray) -> np.ndarray:
    """At most about a million pixels of ``features``, as the in-memory levels take."""
    points = features.reshape(-1, features.shape[-1])
    return points[:: max(1, points.shape[0] // 1_000_000)]


def prepared_features(data, prepare, context):
    """Lazy features of the channel-last ``data`` through ``prepare``, each chunk with
    ``context`` pixels of its neighbours (the background Gaussian's) where needed."""
    from ._context import _at_least

    if not any(context):
        return data.map_blocks(prepare, dtype=np.float32)
    depth = (*context, 0)
    data = data.rechunk(tuple(_at_least(c, d) for c, d in zip(data.chunks, depth, strict=True)))
    depth = tuple(0 if len(c) == 1 else d for c, d in zip(data.chunks, depth, strict=True))
    return data.map_overlap(
        prepare, depth=dict(enumerate(depth)), boundary="none", dtype=np.float32
    )


def with_classes(plan: LazyObjectPlan, sample: np.ndarray, predictor, background_classes):
    """``plan`` completed from the segmenter's classes of the stretched ``sample``:
    the class means and Otsu's level, or the user's background classes checked."""
    from dataclasses import replace

    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    classes = np.asarray(predictor(sample))
    present = sorted(int(c) for c in np.unique(classes))
    if background_classes is not None:
        unknown = sorted(set(int(c) for c in background_classes) - set(present))
        if unknown:
            raise ValueError(
                f"background_classes {unknown} are not among the classes found "
                f"({', '.join(map(str, present))})"
            )
        return replace(plan, background_classes=tuple(background_classes))
    intensity = obj.intensity_of(sample).astype(float)
    n = int(max(int(classes.max()), int(np.max(predictor.class_ids)))) + 1
    counts = np.bincount(classes.ravel(), minlength=n)
    sums = np.bincount(classes.ravel(), intensity.ravel(), minlength=n)
    means = (sums / np.maximum(counts, 1)).astype(np.float32)
    spacing = np.asarray(plan.spacing)
    smooth = ndi.gaussian_filter(means[classes], spacing.min() / spacing)
    threshold = float(threshold_otsu(smooth)) if np.ptp(smooth) > 0 else -np.inf
    return replace(plan, class_means=means, threshold=threshold)


def grown_objects(block, origin, *, predictor, plan, image_shape):
    """Provisional int64 ids of the objects of a grown ``block`` (prepared features):
    each object's first pixel's raster index in the image, plus one."""
    classes = predictor(block, origin=origin)
    local = plan.objects(classes, obj.intensity_of(block))
    ids, first = np.unique(local.ravel(), return_index=True)
    first, ids = first[ids > 0], ids[ids > 0]
    table = np.zeros(int(local.max()) + 1, dtype=np.int64)
    if ids.size:
        where = np.unravel_index(first, local.shape)
        where = tuple(w + o for w, o in zip(where, origin, strict=True))
        table[ids] = np.ravel_multi_index(where, image_shape).astype(np.int64) + 1
    return table[local]


def _sizes(block: np.ndarray):
    ids, counts = np.unique(block, return_counts=True)
    return ids[ids > 0], counts[ids > 0]


def _numbering(parts):
    """(sorted provisional ids, their numbers 1..N largest first, ties: lower id)."""
    ids = np.concatenate([p[0] for p in parts] or [np.zeros(0, np.int64)])
    counts = np.concatenate([p[1] for p in parts] or [np.zeros(0, np.int64)])
    unique, inverse = np.unique(ids, return_inverse=True)
    sizes = np.bincount(inverse, weights=counts, minlength=unique.size)
    order = np.lexsort((np.arange(unique.size), -sizes))
    numbers = np.empty(unique.size, dtype=np.int32)
    numbers[order] = np.arange(1, unique.size + 1, dtype=np.int32)
    return unique, numbers


def _number(block: np.ndarray, table) -> np.ndarray:
    unique, numbers = table
    out = np.zeros(block.shape, dtype=np.int32)
    inside = block > 0
    out[inside] = numbers[np.searchsorted(unique, block[inside])]
    return out


def object_table(provisional):
    """Lazy (ids, numbers) of the lazy provisional object ids."""
    import dask

    parts = [dask.delayed(_sizes)(b) for b in provisional.to_delayed().ravel()]
    return dask.delayed(_numbering)(parts)


def numbered_objects(provisional, table=None):
    """Lazy int32 objects 1..N largest first (0: background) from provisional ids;
    ``table`` (from :func:`object_table`) may come from another read of them."""
    table = object_table(provisional) if table is None else table
    return provisional.map_blocks(_number, table, dtype=np.int32)


def _chained(block, first, then):
    return then(first(block))


def chained(first, then):
    """``then(first(block))``, picklable."""
    from functools import partial

    return partial(_chained, first=first, then=then)
