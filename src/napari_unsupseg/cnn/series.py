"""Kim et al. (2020)'s reference mode for a list of images: train one network on some
of them, then label every image with it, so ids mean the same thing in every image.

The authors resize the training images to one size (224x224) and train on batches;
here they are resized to a common shape within ``train_size`` pixels, and a step uses
at most ``batch_size`` of them. Prediction freezes BatchNorm statistics from the
training images (the authors leave BatchNorm in training mode, so each image would be
normalised by its own statistics and ids could differ between images).
"""

from __future__ import annotations

import numpy as np

from .._device import resolve_device
from ..superpixels import clean_by_superpixels
from .engine import auto_min_labels, fit, predict, resize_planes, superpixel_spec, to_tensor
from .infer import downscaled_shape
from .train import TrainConfig


def label_series(features, index, settings, *, seed, device, reporter, batch_size):
    """Train one network on ``features[i] for i in index`` (channel-last 2D arrays of
    any sizes, the same channels) and label every array; one int array each.

    ``settings`` are the method's (:meth:`napari_unsupseg.MethodSpec.settings`); the
    final cleanup gives each superpixel its most frequent label, never the region
    merge: ids name classes shared by all the images, not regions."""
    dev = resolve_device(device)
    train_feats = [features[i] for i in index]
    shapes = np.array([f.shape[:2] for f in train_feats])
    common = tuple(int(n) for n in np.median(shapes, axis=0).round())
    common = downscaled_shape(common, int(settings["train_size"]))
    x = _cat([resize_planes(to_tensor(f[None], dev), common) for f in train_feats])

    min_labels = settings["min_labels"]
    if min_labels == "auto":
        min_labels = auto_min_labels(
            np.concatenate([f.reshape(-1, f.shape[-1]) for f in train_feats])
        )
    config = TrainConfig.of(settings, min_labels, batch_size)
    superpixels = superpixel_spec(
        settings["refinement"],
        settings["n_superpixels"],
        settings["compactness"],
        settings["graph_scale"],
    )
    mean_pixels = float(np.mean([np.prod(f.shape[:2]) for f in train_feats]))
    net, _ = fit(
        x,
        config,
        net_ndim=2,
        n_channels=settings["n_channels"],
        n_conv=settings["n_conv"],
        seed=seed,
        reporter=reporter,
        superpixels=superpixels,
        area_factor=float(np.prod(common)) / mean_pixels,
    )
    n_clusters, max_samples = settings["n_clusters"], settings["max_samples"]
    labels = predict(net, x, features, n_clusters, max_samples, seed, dev, reporter)
    if settings["refine_output"] and superpixels is not None:  # as segment() does
        labels = [
            clean_by_superpixels(lab, f[None], superpixels).reshape(lab.shape)
            for lab, f in zip(labels, features, strict=True)
        ]
    return labels


def _cat(tensors):
    import torch

    return torch.cat(tensors)
