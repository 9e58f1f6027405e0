"""One engine behind every CNN method: lay the data out, train, predict.

Layouts: a 2D image is one sample for a 2D network; a 3D stack or time series is
either one sample for a 3D network (``stack_mode="3d"``) or a batch of planes for a 2D
network trained on some planes and applied to all (``stack_mode="reference"``, the
2020 reference mode). Both give ids that are consistent across planes.

Final labels: with the papers' settings (training at full resolution on the whole
input) they are the argmax of the last training forward pass, BatchNorm in training
mode, as in the authors' code. Otherwise (training on a downscaled copy, or on some
planes only) BatchNorm statistics are frozen from the training input and every
sample is labelled at full resolution, tile by tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._device import resolve_device
from ..clustering import fit_kmeans
from ..superpixels import REFINEMENTS, Superpixels, clean_by_superpixels
from .infer import (
    downsample_scribbles,
    downscaled_shape,
    map_tiles,
    nearest_upsample,
    resize_planes,
)
from .train import TrainConfig, scribble_targets, train

#: pixels per training step at most when freezing statistics over many samples
_FREEZE_BATCH_PIXELS = 1 << 21


def auto_min_labels(features: np.ndarray) -> int:
    """floor(mean per-channel standard deviation on 0..255 / 10) + 4: the rule of
    dontempty's post "Unsupervised Image Segmentation" (2023).

    ``features`` are the normalised [0, 1] channel-last values (for uint8 input, the
    author's 0..255 data divided by 255).
    """
    flat = features.reshape(-1, features.shape[-1])
    stds = [float(np.std(flat[:, c], dtype=np.float64)) * 255.0 for c in range(flat.shape[1])]
    return int(np.floor(np.mean(stds) / 10.0)) + 4


def auto_merge_threshold(n_channels: int) -> float:
    """The final merge for colour photographs, where it was tuned (BSDS500 validation:
    mIoU All 0.345 -> 0.362); other images keep the most-frequent-label cleanup, which
    scores better on fluorescence-like cells (0.90 against 0.74 after 10 iterations):
    there, neighbouring cells differ in brightness by more than the threshold."""
    return 16.0 if n_channels == 3 else 0.0


def evenly_spaced(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over 0..n-1, ends included (all if k <= 0 or k >= n)."""
    if k <= 0 or k >= n:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)} if k > 1 else {n // 2})


@dataclass
class Layout:
    """The samples the network sees, and which of them it trains on."""

    samples: np.ndarray  # (n_samples, *spatial, channels), full resolution
    net_ndim: int
    train_index: list[int]
    scribbles: np.ndarray | None  # (n_samples, *spatial) user ids, 0 = none


def make_layout(features, stack_mode, train_planes, scribbles) -> Layout:
    ndim = features.ndim - 1
    if ndim == 2 or stack_mode == "3d":
        return Layout(features[None], ndim, [0], None if scribbles is None else scribbles[None])
    if stack_mode != "reference":
        raise ValueError(f"stack_mode must be '3d' or 'reference'; got {stack_mode!r}")
    index = evenly_spaced(features.shape[0], train_planes)
    if scribbles is not None:  # planes the user drew on are always trained on
        drawn = np.flatnonzero(scribbles.reshape(scribbles.shape[0], -1).any(axis=1))
        index = sorted(set(index) | set(drawn.tolist()))
    return Layout(features, 2, index, scribbles)


def to_tensor(samples: np.ndarray, device):
    """(n, *spatial, C) numpy -> (n, C, *spatial) float32 tensor on ``device``."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(samples, -1, 1))).to(device)


def run_cnn(
    features: np.ndarray,
    *,
    seed: int,
    device,
    reporter,
    n_channels: int,
    n_conv: int,
    max_iter: int,
    min_labels,
    lr: float,
    momentum: float,
    similarity_weight: float,
    weighting: str,
    continuity_weight: float | None,
    p: float | None,
    patience: int,
    train_size: int,
    stack_mode: str,
    train_planes: int,
    scribbles: np.ndarray | None,
    scribble_weight: float | None,
    refinement: str,
    n_superpixels: int | None,
    compactness: float | None,
    graph_scale: float | None,
    refine_output: bool,
    merge_threshold: float | str,
    merge_label_weight: float | None,
    n_clusters: int,
    max_samples: int | None,
) -> np.ndarray:
    """Train the papers' network on ``features`` and return integer labels.

    ``refinement="slic"`` with ``weighting="none"`` gives Kanezaki (2018); ``weighting``
    picks Kim et al. (2020, ``"fixed"``) or Guermazi, Ksantini & Khan's ``"fsf"``/``"scf"``;
    ``refinement="graph"`` refines targets by Felzenszwalb segments instead, and
    ``refine_output`` also gives every final superpixel (at full resolution) its most
    frequent label, or with ``merge_threshold > 0`` joins the final superpixels into
    regions by colour and label evidence (:func:`merge_superpixels`; the labels are then
    region ids); ``n_clusters > 0`` labels pixels by k-means over the trained network's
    hidden features (cnn+kmeans).

    Every setting is a keyword without a default: each method's values are its spec's
    (:mod:`napari_unsupseg.cnn.specs`: parameters and fixed settings); ``None`` marks a
    setting that the method's other settings make unused.
    """
    superpixels = superpixel_spec(refinement, n_superpixels, compactness, graph_scale)
    dev = resolve_device(device)
    if min_labels == "auto":
        min_labels = auto_min_labels(features)
    layout = make_layout(features, stack_mode, train_planes, scribbles)
    full_spatial = layout.samples.shape[1:-1]
    train_spatial = downscaled_shape(full_spatial, train_size)
    x = resize_planes(to_tensor(layout.samples[layout.train_index], dev), train_spatial)

    scribble_tensor = None
    if layout.scribbles is not None:
        import torch

        drawn = np.stack(
            [downsample_scribbles(layout.scribbles[i], train_spatial) for i in layout.train_index]
        )
        targets, n_classes = scribble_targets(drawn, n_channels)
        min_labels = n_classes  # as in Kim et al.: one label per scribble class
        scribble_tensor = torch.from_numpy(targets).to(dev)

    n_samples = layout.samples.shape[0]

    def preview(target, batch):
        return _preview(target, layout.train_index, n_samples, full_spatial)

    config = TrainConfig.of(locals(), min_labels)  # the training settings among the above
    net, result = fit(
        x,
        config,
        net_ndim=layout.net_ndim,
        n_channels=n_channels,
        n_conv=n_conv,
        seed=seed,
        reporter=reporter,
        preview=preview,
        scribbles=scribble_tensor,
        superpixels=superpixels,
        area_factor=float(np.prod(train_spatial)) / float(np.prod(full_spatial)),
    )
    exact = train_spatial == full_spatial and len(layout.train_index) == n_samples
    if n_clusters <= 0 and exact:
        labels = result.target.cpu().numpy().astype(np.int32)
    else:
        labels = np.stack(
            predict(net, x, layout.samples, n_clusters, max_samples, seed, dev, reporter)
        )
    if refine_output and superpixels is not None:
        if reporter is not None:
            reporter.update(0, 1, stage="refining by superpixels")
        if merge_threshold == "auto":
            merge_threshold = auto_merge_threshold(features.shape[-1])
        if scribbles is not None:  # scribbles name classes: keep them
            merge_threshold = 0.0
        merge = (merge_threshold, merge_label_weight)
        labels = clean_by_superpixels(labels, layout.samples, superpixels, merge)
    return labels.reshape(features.shape[:-1])


def superpixel_spec(refinement, n_superpixels, compactness, graph_scale):
    if refinement not in REFINEMENTS:
        raise ValueError(f"refinement must be one of {', '.join(REFINEMENTS)}; got {refinement!r}")
    if refinement == "none":
        return None
    return Superpixels(refinement, n_superpixels, compactness, graph_scale)


def fit(
    x,
    config: TrainConfig,
    *,
    net_ndim: int,
    n_channels: int,
    n_conv: int,
    seed: int,
    reporter=None,
    preview=None,
    scribbles=None,
    superpixels: Superpixels | None = None,
    area_factor: float = 1.0,
):
    """Build the seeded network for ``x`` (batch, channels, *spatial) and train it.

    ``superpixels`` turns on Kanezaki's refinement, with superpixels computed once on
    the training input (``area_factor``: its pixels over the full size). Returns
    (net, result).
    """
    from .net import build_net, channels_last

    sp, n_sp = None, 0
    if superpixels is not None:
        import torch

        ids, n_sp = superpixels.compute(np.moveaxis(x.cpu().numpy(), 1, -1), area_factor)
        sp = torch.from_numpy(ids).to(x.device)
    net = build_net(x.shape[1], n_channels, n_conv, net_ndim, seed).to(x.device)
    x = channels_last(x)
    hooks = {"reporter": reporter, "preview": preview, "scribbles": scribbles}
    return net, train(net, x, config, superpixels=sp, n_superpixels=n_sp, seed=seed, **hooks)


def _preview(target, train_index, n_samples, full_spatial) -> np.ndarray:
    """Current labels at full size; untrained planes borrow the nearest trained one's."""
    labels = nearest_upsample(target.cpu().numpy(), full_spatial)
    if len(train_index) == n_samples:
        return labels
    nearest = np.abs(np.arange(n_samples)[:, None] - np.asarray(train_index)[None, :]).argmin(1)
    return labels[nearest]


def _freeze_batches(x):
    per_sample = int(np.prod(x.shape[2:]))
    step = max(1, _FREEZE_BATCH_PIXELS // max(1, per_sample))
    return [x[i : i + step] for i in range(0, x.shape[0], step)]


def predict(net, x, samples, n_clusters, max_samples, seed, device, reporter) -> list:
    """Freeze BatchNorm on the training input ``x``, then label every sample (channel-last
    numpy, any size) at full resolution, tile by tile; returns one int32 array each.

    With ``n_clusters > 0`` a pixel's label is its nearest k-means centroid of the
    hidden features (fitted on the training input) instead of the argmax."""
    import torch

    from .net import freeze_batchnorm, halo, split_head

    if reporter is not None:
        reporter.update(0, 1, stage="predicting")
    freeze_batchnorm(net, _freeze_batches(x))
    body, _ = split_head(net)
    n_channels = net[0].out_channels
    if n_clusters > 0:
        centroids = _fit_feature_kmeans(body, x, n_clusters, max_samples, seed).to(device)

        def fn(tile):
            hidden = body(tile)
            flat = hidden.movedim(1, -1).reshape(-1, hidden.shape[1])
            nearest = torch.cdist(flat, centroids).argmin(dim=1)
            return nearest.reshape(hidden.shape[0], *hidden.shape[2:])

    else:

        def fn(tile):
            return net(tile).argmax(dim=1)

    check = reporter.check if reporter is not None else None
    out = [
        map_tiles(fn, sample, halo(net), n_channels, device, on_tile=check) for sample in samples
    ]
    if reporter is not None:
        reporter.update(1, 1, stage="predicting")
    return out


def _fit_feature_kmeans(body, x, n_clusters, max_samples, seed):
    """k-means (scikit-learn, seeded) over the hidden features of the training input."""
    import torch

    points = []
    with torch.no_grad():
        for batch in _freeze_batches(x):
            hidden = body(batch)
            points.append(hidden.movedim(1, -1).reshape(-1, hidden.shape[1]).float().cpu().numpy())
    points = np.concatenate(points)
    model = fit_kmeans(points, n_clusters, seed, max_samples)
    return torch.from_numpy(np.asarray(model.cluster_centers_, dtype=np.float32))
