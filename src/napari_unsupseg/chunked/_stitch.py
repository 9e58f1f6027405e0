"""Connected regions of a lazy class map, one id per region across chunk borders.

As dask-image's ``label`` does for binary images: every chunk is labelled on its own,
the chunks' ids are made unique by offsets, and ids that touch across a chunk face
with the same class are joined (connected components of that equivalence graph).
Regions are then numbered 1..N largest first, as the in-memory path numbers them, from
per-chunk sizes. Nothing but the faces, the sizes and one id table is gathered.
"""

from __future__ import annotations

import numpy as np

from ..objects import connected_regions


def _summary(block: np.ndarray):
    """A chunk's local region count, the sizes of its regions, and its faces (the first
    and last slice along each axis, classes and local region ids)."""
    local = connected_regions(block)
    n = int(local.max()) if local.size else 0
    sizes = np.bincount(local.ravel(), minlength=n + 1)[1:].astype(np.int64)
    faces = []
    for axis in range(block.ndim):
        first = np.take(block, 0, axis=axis), np.take(local, 0, axis=axis)
        last = np.take(block, -1, axis=axis), np.take(local, -1, axis=axis)
        faces.append((first, last))
    return n, sizes, faces


def _mapping(summaries: list, grid: tuple[int, ...]):
    """(offsets per chunk, final id of every provisional id) from the chunks' summaries
    (C order over the chunk ``grid``)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    counts = np.array([s[0] for s in summaries], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).reshape(grid)
    total = int(counts.sum())
    sizes = np.concatenate([s[1] for s in summaries]) if total else np.zeros(0, np.int64)
    rows, cols = [], []
    summary_at = np.arange(len(summaries)).reshape(grid)
    for where in np.ndindex(*grid):
        for axis in range(len(grid)):
            if where[axis] + 1 >= grid[axis]:
                continue
            after = list(where)
            after[axis] += 1
            classes_a, ids_a = summaries[summary_at[where]][2][axis][1]
            classes_b, ids_b = summaries[summary_at[tuple(after)]][2][axis][0]
            same = classes_a == classes_b
            rows.append(ids_a[same].astype(np.int64) - 1 + offsets[where])
            cols.append(ids_b[same].astype(np.int64) - 1 + offsets[tuple(after)])
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(total, total))
    _, component = connected_components(graph, directed=False)
    component_sizes = np.bincount(component, weights=sizes).astype(np.int64)
    order = np.lexsort((np.arange(component_sizes.size), -component_sizes))
    rank = np.empty_like(order)
    rank[order] = np.arange(1, order.size + 1)
    final = np.concatenate([[0], rank[component]]).astype(np.int32)
    return offsets, final


def _relabel(block: np.ndarray, table, block_info=None):
    offsets, final = table
    where = tuple(block_info[0]["chunk-location"])
    local = connected_regions(block).astype(np.int64)
    return final[np.where(local > 0, local + offsets[where], 0)]


def region_table(classes):
    """Lazy (offsets, final ids) of the regions of the lazy ``classes``."""
    import dask

    summaries = [dask.delayed(_summary)(b) for b in classes.to_delayed().ravel()]
    grid = tuple(len(c) for c in classes.chunks)
    return dask.delayed(_mapping)(summaries, grid)


def stitched_regions(classes, table=None):
    """Lazy int32 regions of the lazy ``classes``: every face-connected piece of a class
    its own id, the same id on both sides of a chunk border, 1..N largest first.
    ``table`` (from :func:`region_table`, computed or not) may come from another read
    of the same classes (a Zarr store read twice instead of held in memory)."""
    table = region_table(classes) if table is None else table
    return classes.map_blocks(_relabel, table, dtype=np.int32)
