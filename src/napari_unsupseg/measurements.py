"""One row of measurements per label: what a cluster or an object is, in numbers.

After a run a person inspects each cluster on its own: how big it is, how bright in
each channel, in how many separate pieces it lies, where it is. :func:`measure` gives
that table for any integer labels over their image, with the same columns for the
napari widget, the Python API and ``unsupseg measure``:

- ``label``: the id (0 is background and gets no row);
- ``pixels``: its pixel (voxel) count; ``area`` (2D) or ``volume`` (3D and more): the
  count times the product of the spacing, in the spacing's units;
- ``mean`` and ``std`` of the image's raw values under the label (population standard
  deviation); ``mean_ch0``, ``std_ch0``, ... for each channel of a multichannel image;
- ``pieces``: its number of face-connected pieces (4-connected in 2D, 6 in 3D), the
  labels that ``split_components`` would make of it;
- ``bbox_min_y``, ``bbox_max_y``, ...: the bounding box in pixel indices, the end
  excluded (as ``skimage.measure.regionprops``); axes named z, y, x from the last
  (t for a fourth, axisN beyond).

Everything is O(pixels) with bincounts and ``scipy.ndimage.find_objects``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ._csv import write_csv
from ._labels import compact_labels
from ._preprocess import guess_channel_axis, prepare_image
from .objects import as_spacing

#: names of the last spatial axes, from the end
AXIS_NAMES = ("x", "y", "z", "t")


def axis_names(ndim: int) -> list[str]:
    """z, y, x (and t) for the last axes; ``axisN`` for any before them."""
    return [
        AXIS_NAMES[ndim - 1 - axis] if ndim - 1 - axis < len(AXIS_NAMES) else f"axis{axis}"
        for axis in range(ndim)
    ]


def resolve_channel_axis(image_shape, labels_shape, channel_axis=None) -> int | None:
    """The image's channel axis, given or found from the two shapes.

    Equal shapes mean one channel; otherwise the image must be the labels' shape with
    one more axis: the channel axis given, or the only axis whose removal leaves the
    labels' shape (napari's colour axis, the last, when several do).
    """
    image_shape, labels_shape = tuple(image_shape), tuple(labels_shape)
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, int | np.integer):
            raise TypeError(f"channel_axis must be an integer or None, got {channel_axis!r}")
        if not -len(image_shape) <= channel_axis < len(image_shape):
            raise ValueError(
                f"channel_axis={channel_axis} is out of range for an image of shape {image_shape}"
            )
        channel_axis = int(channel_axis) % len(image_shape)
        spatial = image_shape[:channel_axis] + image_shape[channel_axis + 1 :]
        if spatial != labels_shape:
            raise ValueError(
                f"without its channel axis {channel_axis} the image is {spatial}, but the "
                f"labels are {labels_shape}: they must cover the same pixels"
            )
        return channel_axis
    if image_shape == labels_shape:
        return None
    fits = [
        axis
        for axis in range(len(image_shape))
        if image_shape[:axis] + image_shape[axis + 1 :] == labels_shape
    ]
    if not fits:
        raise ValueError(
            f"the image {image_shape} and the labels {labels_shape} do not cover the same "
            "pixels: the image must have the labels' shape, plus at most one channel axis"
        )
    colour = guess_channel_axis(image_shape)
    return colour if colour in fits else fits[0]


def channel_last(image, labels_shape, channel_axis=None) -> np.ndarray:
    """The image as (spatial..., channels) float64, checked against the labels' shape."""
    image = np.asarray(image.compute() if hasattr(image, "compute") else image)
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
        raise TypeError(f"the image holds {image.dtype} values, not intensities")
    if np.iscomplexobj(image):
        raise TypeError("complex images are not supported: pass np.abs(image) or its real part")
    axis = resolve_channel_axis(image.shape, labels_shape, channel_axis)
    data = image[..., None] if axis is None else np.moveaxis(image, axis, -1)
    return data.astype(np.float64, copy=False)


def check_labels(labels) -> np.ndarray:
    """Integer labels as an array (dask and napari data read), or a clear TypeError."""
    labels = np.asarray(labels.compute() if hasattr(labels, "compute") else labels)
    if labels.dtype == bool:
        return labels.astype(np.int32)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must hold integer ids, got {labels.dtype}")
    if labels.ndim < 2:
        raise ValueError(f"labels need at least two dimensions (y, x), got shape {labels.shape}")
    return labels


def measure(image, labels, spacing=None, channel_axis=None) -> list[dict]:
    """The measurement table of ``labels`` over ``image``: one dict per label, id order.

    ``image`` has the labels' shape, plus one channel axis (``channel_axis``, found from
    the shapes when None); with ``image=None`` the table has no intensity columns.
    ``spacing`` gives the pixel size per spatial axis (the napari layer's scale), for
    ``area``/``volume``. Neither array is modified.
    """
    labels = check_labels(labels)
    if image is None:
        values = np.empty((*labels.shape, 0))
    else:
        values = channel_last(image, labels.shape, channel_axis)
    spacing = as_spacing(spacing, labels.ndim)
    compact, ids = compact_labels(labels)
    flat = compact.ravel()
    counts = np.bincount(flat, minlength=ids.size)
    pieces = count_pieces(labels, compact, ids.size)
    boxes = _bounding_boxes(compact, ids.size)
    n_channels = values.shape[-1]
    channel_names = [""] if n_channels == 1 else [f"_ch{c}" for c in range(n_channels)]
    means, stds = [], []
    for c in range(n_channels):
        channel = values[..., c].ravel()
        mean = np.bincount(flat, channel, minlength=ids.size) / counts
        deviation = (channel - mean[flat]) ** 2  # two passes: no cancellation on offsets
        means.append(mean)
        stds.append(np.sqrt(np.bincount(flat, deviation, minlength=ids.size) / counts))
    size_name = "area" if labels.ndim == 2 else "volume"
    names = axis_names(labels.ndim)
    voxel = float(np.prod(spacing))
    rows = []
    for index, label in enumerate(ids.tolist()):
        if label == 0:
            continue
        row = {"label": int(label), "pixels": int(counts[index])}
        row[size_name] = float(counts[index] * voxel)
        for suffix, mean, std in zip(channel_names, means, stds, strict=True):
            row[f"mean{suffix}"] = float(mean[index])
            row[f"std{suffix}"] = float(std[index])
        row["pieces"] = int(pieces[index])
        box = boxes[index]
        for name, part in zip(names, box, strict=True):
            row[f"bbox_min_{name}"] = int(part.start)
        for name, part in zip(names, box, strict=True):
            row[f"bbox_max_{name}"] = int(part.stop)
        rows.append(row)
    return rows


def count_pieces(labels: np.ndarray, compact: np.ndarray, n_ids: int) -> np.ndarray:
    """Face-connected pieces per compact id (background's pieces counted too)."""
    from skimage.measure import label as connected

    pieces = connected(compact, background=-1, connectivity=1)
    _, first = np.unique(pieces.ravel(), return_index=True)
    return np.bincount(compact.ravel()[first], minlength=n_ids)


def _bounding_boxes(compact: np.ndarray, n_ids: int) -> list[tuple[slice, ...]]:
    from scipy import ndimage as ndi

    return ndi.find_objects(compact + 1, max_label=n_ids)


def pixel_feature_pcs(image, labels, channel_axis=None) -> dict[int, tuple[float, float]]:
    """Each label's mean position on the first two principal components of the pixel
    features a segmenter sees (the image normalised as :func:`napari_unsupseg.segment`
    does by default), computed over all pixels. One channel gives a second PC of 0."""
    labels = check_labels(labels)
    axis = resolve_channel_axis(np.shape(image), labels.shape, channel_axis)
    features = prepare_image(np.asarray(image), channel_axis=axis).features
    points = features.reshape(-1, features.shape[-1]).astype(np.float64)
    centred = points - points.mean(axis=0)
    covariance = centred.T @ centred / max(1, len(centred) - 1)
    eigenvalues, vectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:2]
    vectors = vectors[:, order]
    vectors *= np.where(vectors.sum(axis=0) < 0, -1.0, 1.0)  # a sign fixed by the data
    scores = centred @ vectors
    if scores.shape[1] == 1:
        scores = np.column_stack([scores, np.zeros(len(scores))])
    compact, ids = compact_labels(labels)
    flat = compact.ravel()
    counts = np.bincount(flat, minlength=ids.size)
    pc1 = np.bincount(flat, scores[:, 0], minlength=ids.size) / counts
    pc2 = np.bincount(flat, scores[:, 1], minlength=ids.size) / counts
    return {int(i): (float(a), float(b)) for i, a, b in zip(ids, pc1, pc2, strict=True) if i != 0}


def read_table(path) -> list[dict]:
    """A measurement CSV read back with its numbers: ints stay ints, floats floats."""
    with Path(path).open(newline="") as handle:
        return [
            {key: _number(value) for key, value in row.items()} for row in csv.DictReader(handle)
        ]


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def write_table(path, rows) -> Path:
    """Write a measurement table as CSV (a header alone when no label is left)."""
    return write_csv(path, rows, list(rows[0]) if rows else ["label", "pixels"])


def write_labels_with_table(path, labels, rows) -> tuple[Path, Path]:
    """The labels as a TIFF at ``path`` and their table as CSV beside it (same stem)."""
    from .io import write_labels

    tiff = write_labels(Path(path), labels)
    return tiff, write_table(tiff.with_suffix(".csv"), rows)
