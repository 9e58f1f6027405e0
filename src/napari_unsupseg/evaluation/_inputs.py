"""Checking label inputs and turning the prediction into the segments that are scored."""

from __future__ import annotations

import numpy as np

from .._labels import compact_labels, face_neighbour_slices


def as_labels(data, name: str) -> np.ndarray:
    """Return ``data`` as an integer array (never a modified original), or say what is wrong.

    bool is accepted (as 0/1); floats are accepted only when every value is a whole
    number (label images saved as float by some tools).
    """
    array = np.asarray(data)
    if array.ndim == 0:
        raise ValueError(f"{name} must be a label image, got a scalar")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if array.dtype == bool:
        return array.view(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return array
    if np.issubdtype(array.dtype, np.floating):
        if np.isnan(array).any():
            raise ValueError(f"{name} contains NaN; labels must be whole numbers")
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains infinite values; labels must be whole numbers")
        fractional = array != np.round(array)
        if fractional.any():
            example = array[fractional].flat[0]
            raise ValueError(
                f"{name} must hold whole-number labels, found fractional values such as "
                f"{example!r}: is this an intensity image rather than labels?"
            )
        # The int64 maximum as a float rounds up to 2**63, which does not fit: use >=.
        if float(array.min()) < -(2.0**63) or float(array.max()) >= 2.0**63:
            raise ValueError(f"{name} has values outside the 64-bit integer range")
        return array.astype(np.int64)
    raise TypeError(f"{name} must be an integer label image, got dtype {array.dtype}")


def as_annotator_stack(ground_truth: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Return ground truth as (annotators, *shape): one label image or a stack of them.

    Rule: ``ground_truth.ndim == len(shape) + 1`` means a stack along the first axis.
    """
    if ground_truth.shape == shape:
        return ground_truth[np.newaxis]
    if ground_truth.ndim == len(shape) + 1 and ground_truth.shape[1:] == shape:
        return ground_truth
    raise ValueError(
        f"labels have shape {shape} but ground truth has shape {ground_truth.shape}: the "
        f"ground truth must have the same shape, or be a stack of annotators with shape "
        f"(n, {', '.join(map(str, shape))})"
    )


def predicted_segments(labels: np.ndarray, split_components: bool):
    """The predicted segments that are scored: (segment index per pixel, label of each segment).

    With ``split_components`` every 4-connected (6-connected in 3D) component of every
    label is its own segment, as in Kim et al.: ``skimage.measure.label(pred,
    background=-1, connectivity=1)``. Ids are made non-negative first, so that a
    predicted label -1 is not mistaken for skimage's background.
    """
    if not split_components:
        segments, ids = compact_labels(labels)
        return segments, ids
    if labels.ndim > 3:  # skimage labels 1D-3D only
        return _components_nd(labels)
    from skimage.measure import label

    safe = labels
    negative = labels.dtype.kind == "i" and labels.min() < 0
    wraps = labels.dtype.kind == "u" and labels.dtype.itemsize == 8 and labels.max() >= 2**63
    if negative or wraps:  # skimage would read -1 (or 2**64 - 1) as background
        safe, _ = compact_labels(labels)
    components = label(safe, background=-1, connectivity=1)
    segments = components - 1
    flat = segments.ravel()
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    ids = np.empty(int(flat.max()) + 1, dtype=labels.dtype)
    ids[flat[starts]] = labels.ravel()[starts]
    return segments, ids


def _components_nd(labels: np.ndarray):
    """Face-connected components of equal label for any ndim (a graph of neighbour
    pixels with equal labels); numbered in raster order of their first pixel."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = np.arange(labels.size).reshape(labels.shape)
    starts, ends = [], []
    for lower, upper in face_neighbour_slices(labels.shape):
        same = labels[lower] == labels[upper]
        starts.append(index[lower][same])
        ends.append(index[upper][same])
    starts, ends = np.concatenate(starts), np.concatenate(ends)
    graph = coo_matrix((np.ones(starts.size, np.int8), (starts, ends)), (labels.size,) * 2)
    _, components = connected_components(graph, directed=False)
    segments, _ = compact_labels(components.reshape(labels.shape))
    first = np.unique(segments.ravel(), return_index=True)[1]
    ids = labels.ravel()[first]
    return segments, ids
