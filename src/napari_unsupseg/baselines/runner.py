"""The loop the three baselines share: lay the images out, train, label at full size.

A method module (:mod:`.iic`, :mod:`.wnet`, :mod:`.dic`) provides ``Model(x, params,
device, area_factor)``, built from the training input ``x`` (batch, channels, y, x;
``area_factor``: its pixels per plane over the full size), with

- ``step(xb, iteration, batch)``: one training update on the samples ``batch``
  (indices into ``x``) of ``xb``, returning the current labels of the batch (a
  tensor (b, y, x)) and the loss (a 0-d tensor);
- ``net``: the module whose BatchNorm statistics are frozen before labelling;
- ``label_tile(tile)``: labels (1, y, x) of one full-resolution tile (eval mode);
- ``halo``, ``tile_values``: the context a tile needs and activations per pixel;
- ``finish(labels, samples)``: post-processing of the full-resolution labels.

Training happens on a copy of at most ``train_size`` pixels per plane (all planes of
a list are resized to one shape), as in ``cnn``; labelling is at full resolution, tile
by tile, with BatchNorm statistics frozen from the training input.
"""

from __future__ import annotations

import numpy as np

from .._device import resolve_device
from ..cnn.engine import evenly_spaced, to_tensor
from ..cnn.infer import downscaled_shape, map_tiles, nearest_upsample, resize_planes

#: samples per training step when a stack or a list has more training planes
BATCH_SIZE = 8
#: pixels per pass when freezing BatchNorm statistics over many samples
_FREEZE_PIXELS = 1 << 21


def segment_image(module, features, *, seed, device, reporter, params) -> np.ndarray:
    """Entry point of :func:`napari_unsupseg.segment`: a 2D image is one sample; a stack
    is a list of planes, trained on ``train_planes`` evenly spaced ones and labelled
    with one network, so class ids agree between planes."""
    planes = features[None] if features.ndim == 3 else features
    if features.ndim == 3:
        index = [0]
    else:
        index = evenly_spaced(planes.shape[0], int(params["train_planes"]))
    full = planes.shape[1:-1]
    n = planes.shape[0]

    def preview(target, batch):
        labels = nearest_upsample(target.cpu().numpy(), full)
        nearest = np.abs(np.arange(n)[:, None] - np.asarray(batch)[None, :]).argmin(1)
        return labels[nearest]

    labels = train_and_label(
        module, list(planes), index, params, seed=seed, device=device, reporter=reporter,
        preview=preview,
    )  # fmt: skip
    return np.stack(labels).reshape(features.shape[:-1])


def train_and_label(
    module,
    samples,
    index,
    params,
    *,
    seed,
    device,
    reporter,
    batch_size=BATCH_SIZE,
    preview=None,
) -> list[np.ndarray]:
    """Train the method of ``module`` (:mod:`.iic`, :mod:`.wnet`, :mod:`.dic`) on
    ``samples[i] for i in index`` (channel-last 2D arrays of any sizes, the same
    channels) and label every sample; one int array each."""
    import torch

    dev = resolve_device(device)
    train = [samples[i] for i in index]
    shapes = np.array([s.shape[:2] for s in train])
    common = tuple(int(n) for n in np.median(shapes, axis=0).round())
    common = downscaled_shape(common, int(params["train_size"]))
    x = torch.cat([resize_planes(to_tensor(s[None], dev), common) for s in train])
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)  # weights, augmentations, dropout: same seed, same labels
        full = float(np.mean([np.prod(s.shape[:2]) for s in train]))
        model = module.Model(x, params, dev, area_factor=float(np.prod(common)) / full)
        fit(model, x, index, params, reporter, batch_size, preview)
        labels = predict(model, x, samples, dev, reporter)
    return model.finish(labels, samples)


def fit(model, x, index, params, reporter, batch_size, preview) -> None:
    """Train until ``max_iter`` iterations or, where the method has it, until the label
    count falls to ``min_labels``; one host round trip and one report per iteration."""
    import torch

    max_iter = int(params["max_iter"])
    min_labels = int(params["min_labels"])
    n = x.shape[0]
    for iteration in range(1, max_iter + 1):
        batch = torch.arange(n)
        if n > batch_size:
            batch = torch.randperm(n)[:batch_size].sort().values
        batch = batch.to(x.device)
        xb = x if n <= batch_size else x[batch]
        target, loss = model.step(xb, iteration, batch)
        count = torch.count_nonzero(torch.bincount(target.reshape(-1)))
        count, loss_value = torch.stack([count.double(), loss.detach().double()]).tolist()
        count = int(count)  # the one host round trip
        if reporter is not None:

            def labels(target=target, batch=batch):
                return preview(target, [index[i] for i in batch.cpu().tolist()])

            reporter.update(
                iteration,
                max_iter,
                n_labels=count,
                loss=loss_value,
                labels=labels if preview is not None else None,
                stage="training",
            )
        if min_labels > 0 and count <= min_labels:
            break


def predict(model, x, samples, device, reporter) -> list[np.ndarray]:
    """Freeze BatchNorm on the training input, then label each sample tile by tile."""
    from ..cnn.net import freeze_batchnorm

    if reporter is not None:
        reporter.update(0, 1, stage="predicting")
    step = max(1, _FREEZE_PIXELS // max(1, int(np.prod(x.shape[2:]))))
    freeze_batchnorm(model.net, [x[i : i + step] for i in range(0, x.shape[0], step)])
    check = reporter.check if reporter is not None else None
    out = [
        map_tiles(model.label_tile, s, model.halo, model.tile_values, device, on_tile=check)
        for s in samples
    ]
    if reporter is not None:
        reporter.update(1, 1, stage="predicting")
    return out


def pad_to_multiple(x, multiple: int):
    """``x`` (batch, channels, y, x) padded at the end (edge values) to a multiple of
    ``multiple`` and at least twice it per axis, so that poolings divide it and the
    deepest BatchNorm sees more than one value; returns (padded, crop)."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph = max(2 * multiple, -(-h // multiple) * multiple) - h
    pw = max(2 * multiple, -(-w // multiple) * multiple) - w
    if ph == 0 and pw == 0:
        return x, (slice(None), slice(None))
    return F.pad(x, (0, pw, 0, ph), mode="replicate"), (slice(0, h), slice(0, w))


def make_entry(module):
    """The functions of a baseline's spec: ``run`` (:func:`napari_unsupseg.segment`)
    and ``series`` (:func:`napari_unsupseg.segment_series`)."""
    name = module.__name__.rpartition(".")[2]

    def run(features, *, seed, device, reporter, **params):
        return segment_image(
            module, features, seed=seed, device=device, reporter=reporter, params=params
        )

    def series(features, index, params, *, seed, device, reporter, batch_size):
        return train_and_label(
            module, features, index, params, seed=seed, device=device, reporter=reporter,
            batch_size=batch_size,
        )  # fmt: skip

    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"Segment with {name} (see :mod:`{module.__name__}`)."
    return run, series
