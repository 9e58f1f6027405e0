"""Superpixels and the region merge, below every engine (the CNNs, DIC, Felzenszwalb).

Kanezaki (2018)'s superpixel refinement: every pixel takes its superpixel's most
frequent label. One ``bincount`` over (superpixel, label) pairs, no Python loop.

Superpixels are SLIC's (the paper's) or Felzenszwalb's graph segments, whose edges
follow the image's: the recommended ``cnn`` uses the latter, both to refine the
training targets and to clean the final labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._labels import compact_labels, face_neighbour_slices, nearest_upsample

REFINEMENTS = ("none", "slic", "graph")
#: Felzenszwalb's smallest segment (pixels at full resolution) and smoothing (0.5:
#: best on the BSDS500 validation split, for Felzenszwalb alone and for the cleanup)
GRAPH_MIN_SIZE = 20
GRAPH_SIGMA = 0.5
#: planes larger than this get graph superpixels from a strided copy (time and memory
#: of the graph grow with pixels; a 4096x4096 plane is cut at 2048x2048)
GRAPH_MAX_PIXELS = 1 << 22


@dataclass(frozen=True)
class Superpixels:
    """How to cut samples into superpixels: SLIC (``n_segments`` per full-size sample,
    ``compactness``) or Felzenszwalb's graph segmentation (``scale``)."""

    kind: str
    n_segments: float = 10000
    compactness: float = 100.0
    scale: float = 100.0

    def __post_init__(self):
        if self.kind not in REFINEMENTS[1:]:
            raise ValueError(f"superpixels must be one of {', '.join(REFINEMENTS)}")

    def compute(self, samples, area_factor: float = 1.0) -> tuple[np.ndarray, int]:
        """Ids of each sample (channel-last, 2D or 3D) unique across samples and
        compacted to 0..n-1; ``area_factor`` is the samples' pixel count over the full
        size (training on a reduced copy), so segments keep their size in the image."""
        if self.kind == "slic":
            n = max(1, round(self.n_segments * area_factor))
            return compute_superpixels(samples, n, self.compactness)
        return graph_superpixels(samples, self.scale, max(2, round(GRAPH_MIN_SIZE * area_factor)))


def superpixel_mode(target, superpixels, n_superpixels: int, n_classes: int):
    """Refined targets: the mode of ``target`` inside each superpixel.

    ``target`` and ``superpixels`` are integer tensors of the same shape, superpixel ids
    in 0..n_superpixels-1. Ties go to the smallest label, as ``np.argmax`` over the
    authors' sorted ``np.unique`` does.
    """
    import torch

    key = superpixels.reshape(-1) * n_classes + target.reshape(-1)
    counts = torch.bincount(key, minlength=n_superpixels * n_classes)
    mode = counts.view(n_superpixels, n_classes).argmax(dim=1)
    return mode[superpixels]


def compute_superpixels(samples, n_segments: int, compactness: float) -> tuple[np.ndarray, int]:
    """SLIC superpixels of each sample (channel-last, 2D or 3D), with ids made unique
    across samples and compacted to 0..n-1; returns (ids with the samples' spatial
    shapes stacked, n)."""
    from skimage.segmentation import slic

    out, offset = [], 0
    for sample in samples:
        image = sample[..., 0] if sample.shape[-1] == 1 else sample
        channel_axis = None if sample.shape[-1] == 1 else -1
        labels = slic(
            image.astype(np.float64),
            n_segments=n_segments,
            compactness=compactness,
            channel_axis=channel_axis,
            start_label=0,
        )
        _, labels = np.unique(labels, return_inverse=True)
        labels = labels.reshape(image.shape[: sample.ndim - 1])
        out.append(labels + offset)
        offset += int(labels.max()) + 1
    return np.stack(out).astype(np.int64), offset


def graph_superpixels(
    samples,
    scale: float,
    min_size: int,
    sigma: float = GRAPH_SIGMA,
    max_pixels: int | None = GRAPH_MAX_PIXELS,
    on_plane=None,
) -> tuple[np.ndarray, int]:
    """Felzenszwalb-Huttenlocher segments of every plane of every sample (channel-last),
    ids unique across planes and samples, 0..n-1. Planes above ``max_pixels`` are cut
    from a strided copy (None: always at full size); ``on_plane(index, n_planes)`` runs
    before each plane (progress, cancellation)."""
    from skimage.segmentation import felzenszwalb

    samples = np.asarray(samples)
    spatial = samples.shape[1:-1]
    planes = samples.reshape(-1, *spatial[-2:], samples.shape[-1])
    out = np.empty(planes.shape[:-1], dtype=np.int64)
    offset = 0
    stride = 1
    if max_pixels is not None:
        stride = max(1, int(np.ceil(np.sqrt(planes.shape[1] * planes.shape[2] / max_pixels))))
    if stride > 1:
        min_size = max(2, round(min_size / stride**2))
    for index, plane in enumerate(planes):
        if on_plane is not None:
            on_plane(index, len(planes))
        ids = felzenszwalb(
            plane[::stride, ::stride].astype(np.float64),
            scale=scale,
            sigma=sigma,
            min_size=min_size,
            channel_axis=-1,
        )
        out[index] = nearest_upsample(ids, plane.shape[:2]) + offset
        offset += int(ids.max()) + 1
    return out.reshape(samples.shape[:-1]), offset


def clean_by_superpixels(
    labels, samples, superpixels: Superpixels, merge: tuple[float, float] | None = None
) -> np.ndarray:
    """The final cleanup at full resolution, over the superpixels of ``samples``
    (n, *spatial, channels): every superpixel takes its most frequent label, or with
    ``merge`` = (threshold > 0, label weight) the superpixels are joined into regions
    (:func:`merge_superpixels`). Returns labels shaped like the superpixel ids."""
    ids, n_ids = superpixels.compute(samples)
    labels = labels.reshape(ids.shape)
    if merge is not None and merge[0] > 0:
        features = samples.reshape(*ids.shape, samples.shape[-1])
        return merge_superpixels(labels, ids, n_ids, features, *merge)
    return mode_per_superpixel(labels, ids, n_ids)


def mode_per_superpixel(labels: np.ndarray, superpixels: np.ndarray, n_superpixels: int):
    """numpy twin of :func:`superpixel_mode` for the final labels (any integer ids >= 0)."""
    n_labels = int(labels.max()) + 1
    key = superpixels.ravel() * n_labels + labels.ravel()
    counts = np.bincount(key, minlength=n_superpixels * n_labels)
    mode = counts.reshape(n_superpixels, n_labels).argmax(axis=1)
    return mode[superpixels].astype(labels.dtype, copy=False)


def merge_superpixels(
    labels: np.ndarray,
    superpixels: np.ndarray,
    n_superpixels: int,
    features: np.ndarray,
    threshold: float,
    label_weight: float,
) -> np.ndarray:
    """Regions made of superpixels: two touching superpixels join when

        100 x |mean colour difference| + label_weight x (1 - label overlap) < threshold

    with features normalised to [0, 1] (so 100 is the whole range), three channels
    compared in CIELAB (L scaled to 0..1; distances as people see colours: +0.005 mIoU
    All over RGB on the BSDS500 validation split), and the label overlap the shared
    fraction of the two superpixels' label histograms (1: same labels).
    Returns region ids 0..R-1 with the superpixels' shape; touching counts along every
    axis, so regions of a stack continue across planes.

    Why: giving every superpixel its most frequent label joins all touching superpixels
    of one label, even across a clear colour edge, and never joins two that look alike
    but were labelled apart. Weighing both kinds of evidence on each edge scores better
    on the BSDS500 validation split (docs/benchmarks.md).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = superpixels.reshape(features.shape[:-1])
    flat_ids = ids.ravel()
    sizes = np.bincount(flat_ids, minlength=n_superpixels).astype(np.float64)
    sizes[sizes == 0] = 1
    flat_features = features.reshape(-1, features.shape[-1])
    means = (
        np.stack(
            [
                np.bincount(flat_ids, flat_features[:, c], n_superpixels)
                for c in range(flat_features.shape[1])
            ],
            axis=1,
        )
        / sizes[:, None]
    )
    if means.shape[1] == 3:  # per superpixel, not per pixel: a big image stays cheap
        from skimage.color import rgb2lab

        means = rgb2lab(np.clip(means, 0.0, 1.0)) / 100.0
    compact, label_ids = compact_labels(labels)
    n_labels = label_ids.size
    histograms = np.bincount(
        flat_ids * n_labels + compact.ravel(), minlength=n_superpixels * n_labels
    )
    histograms = (histograms.reshape(n_superpixels, n_labels) / sizes[:, None]).astype(np.float32)

    first, second = _touching_pairs(ids, n_superpixels)
    colour = 100.0 * np.linalg.norm(means[first] - means[second], axis=1)
    overlap = np.minimum(histograms[first], histograms[second]).sum(axis=1)
    join = colour + label_weight * (1.0 - overlap) < threshold
    graph = coo_matrix(
        (np.ones(int(join.sum()), dtype=np.int8), (first[join], second[join])),
        shape=(n_superpixels, n_superpixels),
    )
    _, region = connected_components(graph, directed=False)
    return region[ids].astype(np.int64)


def _touching_pairs(ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique (smaller, larger) id pairs of neighbours along every axis of ``ids``."""
    keys = []
    for lower, upper in face_neighbour_slices(ids.shape):
        a, b = ids[lower].ravel(), ids[upper].ravel()
        differ = a != b
        a, b = a[differ], b[differ]
        keys.append(np.unique(np.minimum(a, b) * n + np.maximum(a, b)))
    if not keys:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    keys = np.unique(np.concatenate(keys))
    return keys // n, keys % n
