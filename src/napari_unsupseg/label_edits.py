"""Corrections of a segmentation, each a pure function: labels in, new labels out.

What a person fixes after a run: two clusters that are one tissue (:func:`merge`), a
cluster lying in separate places (:func:`split_components`), touching nuclei under one
id (:func:`split_watershed`, the watershed of :mod:`napari_unsupseg.objects`), a
cluster that is background (:func:`to_background`), and ids to renumber
(:func:`relabel`). No function changes its input. Each edit is also a small record
(a dict of plain values, see :func:`apply_edit`), so that a list of records, kept in a
napari layer's metadata, replays the edits exactly (:func:`replay`).

New ids go after the largest id in the image; the biggest piece of a split label keeps
its id. The output is at least int32 (a uint8 image with 255 labels can still split).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .objects import as_spacing, number_objects, split_touching

#: the edits a record may name, with the function that makes each
EDITS = ("merge", "split_components", "split_watershed", "background", "relabel")


def _output(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must hold integer ids, got {labels.dtype}")
    return labels.astype(np.promote_types(labels.dtype, np.int32), copy=True)


def _chosen(labels: np.ndarray, ids: Iterable[int], at_least: int = 1) -> list[int]:
    """The ids asked for, checked: present, not background, enough of them."""
    ids = sorted({int(i) for i in ids})
    if 0 in ids:
        raise ValueError("label 0 is the background: it cannot be edited as a label")
    present = set(np.unique(labels).tolist())
    missing = [i for i in ids if i not in present]
    if missing:
        raise ValueError(f"label(s) {missing} are not in the labels image")
    if len(ids) < at_least:
        raise ValueError(f"choose at least {at_least} labels (got {len(ids)})")
    return ids


def merge(labels, ids: Iterable[int], into: int | None = None) -> np.ndarray:
    """All pixels of ``ids`` given one id: ``into`` (one of them), by default the smallest."""
    out = _output(labels)
    ids = _chosen(out, ids, at_least=2)
    into = ids[0] if into is None else int(into)
    if into not in ids:
        raise ValueError(f"into={into} must be one of the merged labels {ids}")
    out[np.isin(out, ids)] = into
    return out


def split_components(labels, ids: Iterable[int]) -> np.ndarray:
    """Every face-connected piece of each of ``ids`` its own label."""
    from skimage.measure import label as connected

    out = _output(labels)
    next_id = int(out.max(initial=0)) + 1
    for label in _chosen(out, ids):
        box, mask = _crop(out, label)
        pieces = connected(mask, connectivity=1)
        next_id = _give_ids(out[box], mask, pieces, label, next_id)
    return out


def split_watershed(labels, ids: Iterable[int], radius: float, spacing=None) -> np.ndarray:
    """Touching objects under each of ``ids`` split apart, as the objects output does.

    Each label's mask goes through :func:`napari_unsupseg.objects.split_touching` (a
    watershed of its distance transform seeded at h-maxima, h = 0.1 ``radius``):
    ``radius`` is the typical object radius in ``spacing`` units. Pixels that the
    watershed leaves out (fragments under a tenth of a typical object) keep the id.
    """
    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a positive number, got {radius}")
    out = _output(labels)
    spacing = as_spacing(spacing, out.ndim)
    next_id = int(out.max(initial=0)) + 1
    for label in _chosen(out, ids):
        box, mask = _crop(out, label)
        padded = np.pad(mask, 1)  # the distance transform sees background all round
        pieces = split_touching(padded, float(radius), spacing)[(slice(1, -1),) * mask.ndim]
        pieces = pieces * mask  # holes the watershed filled belong to other labels
        next_id = _give_ids(out[box], mask, pieces, label, next_id)
    return out


def to_background(labels, ids: Iterable[int]) -> np.ndarray:
    """The pixels of ``ids`` set to 0, the background."""
    out = _output(labels)
    out[np.isin(out, _chosen(out, ids))] = 0
    return out


def relabel(labels) -> np.ndarray:
    """Ids renumbered 1..K, largest label first, 0 kept as background (int32)."""
    _output(labels)  # checks the dtype
    return number_objects(np.asarray(labels))


def _crop(labels: np.ndarray, label: int) -> tuple[tuple[slice, ...], np.ndarray]:
    """The bounding box of ``label`` and its mask inside it (a split stays local)."""
    where = np.nonzero(labels == label)
    box = tuple(slice(int(w.min()), int(w.max()) + 1) for w in where)
    return box, labels[box] == label


def _give_ids(view: np.ndarray, mask, pieces: np.ndarray, label: int, next_id: int) -> int:
    """Write ``pieces`` (ids > 0 inside ``mask``) into ``view``: the largest keeps
    ``label`` (ties: the first in raster order), the others get ``next_id``, ...
    in decreasing size. Returns the next free id."""
    ids, first, counts = np.unique(pieces[mask], return_index=True, return_counts=True)
    keep = ids > 0
    ids, first, counts = ids[keep], first[keep], counts[keep]
    if ids.size < 2:
        return next_id
    order = np.lexsort((first, -counts))
    if np.iinfo(view.dtype).max < next_id + ids.size:
        raise ValueError("too many labels for the labels' integer type")
    new = np.zeros(int(ids.max()) + 1, dtype=view.dtype)
    new[ids[order]] = [label, *range(next_id, next_id + ids.size - 1)]
    inside = mask & (pieces > 0)
    view[inside] = new[pieces[inside]]
    return next_id + ids.size - 1


def edit_record(edit: str, ids: Sequence[int] = (), **settings) -> dict:
    """The record of one edit, with plain values only (it goes into layer metadata)."""
    if edit not in EDITS:
        raise ValueError(f"unknown edit {edit!r}; choose one of {', '.join(EDITS)}")
    record = {"edit": edit}
    if edit != "relabel":
        record["labels"] = sorted(int(i) for i in ids)
    for key, value in settings.items():
        if value is not None:
            record[key] = value if np.isscalar(value) else [float(v) for v in value]
    return record


def apply_edit(labels, record: dict) -> np.ndarray:
    """Apply one edit record (from :func:`edit_record`) to ``labels``."""
    edit, ids = record.get("edit"), record.get("labels", ())
    if edit == "merge":
        return merge(labels, ids, record.get("into"))
    if edit == "split_components":
        return split_components(labels, ids)
    if edit == "split_watershed":
        return split_watershed(labels, ids, record["radius"], record.get("spacing"))
    if edit == "background":
        return to_background(labels, ids)
    if edit == "relabel":
        return relabel(labels)
    raise ValueError(f"unknown edit {edit!r}; choose one of {', '.join(EDITS)}")


def replay(labels, records: Iterable[dict]) -> np.ndarray:
    """The labels after every edit of ``records``, in order (the layer's history)."""
    out = _output(labels)
    for record in records:
        out = apply_edit(out, record)
    return out
