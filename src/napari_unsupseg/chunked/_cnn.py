"""The CNN methods on a lazy image: train once on a small copy, predict chunk by chunk.

The network trains on the copy the in-memory path trains on (the image brought down to
``train_size`` pixels per plane by the same antialiased resize, from a block-mean copy
when the image is much bigger), its BatchNorm statistics are frozen on that copy, and
every chunk is then labelled by the frozen network with ``n_conv`` pixels of context
from its neighbours: exactly what one forward pass over the whole image gives (the
tiling of :func:`napari_unsupseg.cnn.infer.map_tiles`, with chunks for tiles). Class
ids are the network's channels, renumbered once by their frequency on the training
copy, so a class has one id in every chunk.

The final cleanup by graph superpixels (Felzenszwalb & Huttenlocher 2004, "Efficient
Graph-Based Image Segmentation") runs per chunk, on the chunk grown by
:data:`CLEANUP_CONTEXT` pixels, from a strided copy on big images
(:mod:`._cleanup`); it is the one step whose result can differ from the whole
image's (docs/big-images.md says where and by how much).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cnn.allocation import release_free_memory
from ..cnn.engine import auto_min_labels, evenly_spaced, fit, superpixel_spec
from ..cnn.infer import downscaled_shape, map_tiles, resize_planes
from ..cnn.train import TrainConfig
from ._cleanup import clean_chunk, cleanup_stride

#: pixels of context the per-chunk superpixel cleanup sees beyond its chunk
CLEANUP_CONTEXT = 64
#: activation values of one prediction tile inside a chunk (16 MiB): several chunks
#: run at once, so each keeps its share of memory small
CHUNK_TILE_VALUES = 1 << 22
#: the block-mean copy a training copy is resized from has at most this many times the
#: training pixels (a small image is resized from itself, as in memory)
_COPY_FACTOR = 4


def training_copy(features, train_size: int, planes=None) -> np.ndarray:
    """The samples the network trains on, channel-last numpy (n, *spatial, C): the lazy
    ``features`` (or its ``planes``) with at most ``train_size`` pixels per plane."""
    import dask.array as da

    full = tuple(features.shape[:-1])
    target = downscaled_shape(full, train_size)
    factor = 1
    plane = full[-2] * full[-1]
    wanted = target[-2] * target[-1] * _COPY_FACTOR
    while plane // (factor + 1) ** 2 >= wanted:
        factor += 1
    source = features if planes is None else features[planes]
    if factor > 1:
        axes = {source.ndim - 3: factor, source.ndim - 2: factor}
        size = max(factor, (max(source.chunks[-2]) // factor) * factor)
        source = source.rechunk({source.ndim - 3: size, source.ndim - 2: size})
        source = da.coarsen(np.mean, source, axes, trim_excess=True).astype(np.float32)
    copy = np.asarray(source.compute(), dtype=np.float32)
    samples = copy[None] if planes is None else copy
    return samples, target


@dataclass
class ChunkPredictor:
    """Everything a chunk needs (picklable, for Dask workers): the frozen network on the
    CPU, the class ids of its channels, and the cleanup."""

    net: object
    class_ids: np.ndarray
    per_plane: bool  # a 2D network over the planes of a 3D chunk (stack_mode="reference")
    device: str
    threads: int
    centroids: object = None  # cnn+kmeans: k-means centres of the hidden features
    cleanup: object = None  # Superpixels of the final cleanup, or None
    cleanup_stride: int = 1  # of the cleanup's graph superpixels (._cleanup)

    @property
    def halo(self) -> int:
        from ..cnn.net import halo

        return halo(self.net)

    @property
    def _cleanup_across_planes(self) -> bool:
        return self.cleanup is not None and self.cleanup.kind != "graph"

    def depth(self, spatial_ndim: int) -> tuple[int, ...]:
        context = self.halo + (CLEANUP_CONTEXT if self.cleanup is not None else 0)
        # graph superpixels are cut plane by plane: across planes only the network's
        across = self.halo + (CLEANUP_CONTEXT if self._cleanup_across_planes else 0)
        first = 0 if self.per_plane else across
        return (first,) * (spatial_ndim - 2) + (context, context)

    def __call__(self, block: np.ndarray, origin=None) -> np.ndarray:
        """Classes of the grown ``block``, whose first pixel is at ``origin`` in the
        image (the cleanup's stride grid is the image's)."""
        from .._device import resolve_device
        from .._threads import pinned_threads

        with pinned_threads(self.threads, uses_torch=True):
            device = resolve_device(self.device)
            samples = block if self.per_plane else block[None]
            raw = np.stack([self._predict(sample, device) for sample in samples])
            if self.cleanup is not None:
                corner = tuple(origin[-2:]) if origin is not None else (0, 0)
                raw = clean_chunk(raw, samples, self.cleanup, self.cleanup_stride, corner)
        labels = self.class_ids[raw.reshape(block.shape[:-1])]
        del raw
        release_free_memory()
        return labels

    def _predict(self, sample: np.ndarray, device) -> np.ndarray:
        import torch

        from ..cnn.net import split_head

        net = self.net.to(device)
        if self.centroids is None:

            def fn(tile):
                return net(tile).argmax(dim=1)

        else:
            body, _ = split_head(net)
            centroids = self.centroids.to(device)

            def fn(tile):
                hidden = body(tile)
                flat = hidden.movedim(1, -1).reshape(-1, hidden.shape[1])
                nearest = torch.cdist(flat, centroids).argmin(dim=1)
                return nearest.reshape(hidden.shape[0], *hidden.shape[2:])

        channels = net[0].out_channels
        return map_tiles(fn, sample, self.halo, channels, device, tile_values=CHUNK_TILE_VALUES)


def train_predictor(features, params: dict, *, seed, device, threads, reporter) -> ChunkPredictor:
    """Train the method's network on a small copy of the lazy ``features`` and return
    the per-chunk predictor (BatchNorm frozen on the copy, classes numbered)."""
    import torch

    from .._device import resolve_device
    from .._threads import pinned_threads
    from ..cnn.engine import _fit_feature_kmeans, _freeze_batches, to_tensor
    from ..cnn.net import freeze_batchnorm

    if params["scribbles"] is not None:
        raise ValueError("scribbles are not supported on lazy (chunked) images yet")
    spatial = tuple(features.shape[:-1])
    per_plane = len(spatial) == 3 and params["stack_mode"] == "reference"
    planes = evenly_spaced(spatial[0], params["train_planes"]) if per_plane else None
    samples, train_spatial = training_copy(features, params["train_size"], planes)
    if per_plane:
        train_spatial = (len(planes), *train_spatial[1:])
    superpixels = superpixel_spec(
        params["refinement"],
        params["n_superpixels"],
        params["compactness"],
        params["graph_scale"],
    )
    min_labels = params["min_labels"]
    if min_labels == "auto":
        min_labels = auto_min_labels(samples)
    config = TrainConfig.of(params, min_labels)
    dev = resolve_device(device)
    with pinned_threads(threads, uses_torch=True):
        x = resize_planes(to_tensor(samples, dev), train_spatial[-2:])
        net, _ = fit(
            x,
            config,
            net_ndim=2 if per_plane or len(spatial) == 2 else 3,
            n_channels=params["n_channels"],
            n_conv=params["n_conv"],
            seed=seed,
            reporter=reporter,
            superpixels=superpixels,
            area_factor=float(np.prod(train_spatial[-2:])) / float(np.prod(spatial[-2:])),
        )
        if reporter is not None:
            reporter.update(0, 1, stage="freezing statistics")
        freeze_batchnorm(net, _freeze_batches(x))
        centroids = None
        if params["n_clusters"] > 0:
            body = net[:-2]
            centroids = _fit_feature_kmeans(
                body, x, params["n_clusters"], params["max_samples"], seed
            )
        net = net.cpu()
        predictor = ChunkPredictor(
            net, np.arange(1, 1, dtype=np.int32), per_plane, device, threads, centroids
        )
        copy_labels = np.stack([predictor._predict(s, torch.device("cpu")) for s in _numpy(x)])
    n_classes = params["n_clusters"] or net[0].out_channels
    predictor.class_ids = ids_by_frequency(copy_labels, n_classes)
    if params["refine_output"] and superpixels is not None:
        predictor.cleanup = superpixels
        grown = [max(features.chunks[a]) + 2 * predictor.depth(len(spatial))[a] for a in (-2, -1)]
        grown = [min(g, n) for g, n in zip(grown, spatial[-2:], strict=True)]
        predictor.cleanup_stride = cleanup_stride(spatial[-2:], grown)
    return predictor


def _numpy(x) -> np.ndarray:
    """(n, C, *spatial) tensor -> (n, *spatial, C) numpy."""
    return np.moveaxis(x.detach().cpu().numpy(), 1, -1)


def ids_by_frequency(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Class id of every channel: 1..K by frequency on ``labels`` (most frequent first,
    ties to the lower channel), channels never seen after them."""
    counts = np.bincount(labels.ravel(), minlength=n_classes)
    order = np.lexsort((np.arange(n_classes), -counts))
    ids = np.empty(n_classes, dtype=np.int32)
    ids[order] = np.arange(1, n_classes + 1, dtype=np.int32)
    return ids
