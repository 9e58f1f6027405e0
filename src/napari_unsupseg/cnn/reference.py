"""Kim et al. (2020)'s reference mode for a list of images: train one network on some
of them, then label every image with it, so ids mean the same thing in every image.

The authors resize the training images to one size (224x224) and train on batches;
here they are resized to a common shape within ``train_size`` pixels, and a step uses
at most ``batch_size`` of them. Prediction freezes BatchNorm statistics from the
training images (the authors leave BatchNorm in training mode, so each image would be
normalised by its own statistics and ids could differ between images).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._checks import check_seed, squeeze_spatial
from .._device import resolve_device
from .._labels import relabel_by_size
from .._output import plan_output
from .._preprocess import prepare_image
from .._progress import CancelCheck, ProgressCallback, Reporter
from .._registry import get_method
from .._threads import DEFAULT_THREADS, check_threads, pinned_threads
from .engine import (
    auto_min_labels,
    clean_by_superpixels,
    fit,
    predict,
    resize_planes,
    superpixel_spec,
    to_tensor,
)
from .infer import downscaled_shape
from .methods import FIXED
from .train import TrainConfig

_SERIES_IGNORES = ("stack_mode", "train_planes")


def segment_series(
    images: Sequence,
    method: str = "cnn",
    *,
    train_on: Sequence[int] | None = None,
    channel_axis: int | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    should_stop: CancelCheck | None = None,
    normalize: str = "auto",
    batch_size: int = 8,
    output: str = "auto",
    spacing=None,
    object_diameter: float | None = None,
    background_classes=None,
    threads: int = DEFAULT_THREADS,
    **params,
) -> list[np.ndarray]:
    """Train one CNN on the images ``train_on`` (indices; all when None), label every
    image with it and return one int32 label array per image, with ids consistent
    across the list (numbered 1..K jointly, largest region overall first).

    Images may differ in size but must have the same number of channels. Parameters
    are those of ``method`` (a CNN method); ``stack_mode``/``train_planes`` do not
    apply and scribbles are not supported here (use :func:`segment`). ``cnn``'s final
    cleanup gives each superpixel its most frequent label here, never the region merge
    (``merge_threshold``): ids name classes shared by all the images, not regions.
    ``output`` and the objects' settings are :func:`segment`'s, applied to every image
    (objects are numbered per image; classes are shared; regions are numbered per
    image).
    ``threads``: torch's CPU threads, as in :func:`segment`.
    """
    spec = get_method(method)
    if spec.guided:
        raise ValueError(
            f"segment_series runs the self-training CNNs; for {method!r} on a list of "
            f"images call segment({method!r}) or transfer_labels with the list"
        )
    if not spec.uses_torch:
        raise ValueError(f"segment_series needs a CNN method; {method!r} is not one")
    seed = check_seed(seed)
    threads = check_threads(threads)
    if isinstance(images, np.ndarray) or not isinstance(images, Sequence) or not images:
        raise TypeError("images must be a non-empty list of arrays")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}")
    resolved = spec.resolve(params)
    if resolved.pop("scribbles", None) is not None:
        raise ValueError("segment_series does not take scribbles: use segment() per image")
    for name in _SERIES_IGNORES:
        resolved.pop(name, None)
    index = _train_index(train_on, len(images))

    features, plans = [], []
    for i, image in enumerate(images):
        prepared = prepare_image(image, channel_axis=channel_axis, normalize=normalize)
        f = squeeze_spatial(prepared.features)
        plan, f = plan_output(
            output,
            f,
            is_rgb=prepared.is_rgb,
            spacing=spacing,
            object_diameter=object_diameter,
            background_classes=background_classes,
            spatial_shape=prepared.spatial_shape,
        )
        plans.append(plan)
        if f.ndim != 3:
            raise ValueError(
                f"image {i} has spatial shape {prepared.spatial_shape}: segment_series takes "
                "2D images (segment a stack with segment(..., stack_mode='reference'))"
            )
        if features and f.shape[-1] != features[0][0].shape[-1]:
            raise ValueError(
                f"image {i} has {f.shape[-1]} channel(s) but image 0 has {features[0][0].shape[-1]}"
            )
        features.append((f, prepared.spatial_shape))

    reporter = Reporter(progress, should_stop)
    reporter.check()
    dev = resolve_device(device)
    with pinned_threads(threads, uses_torch=True):
        labels = _train_and_label(
            [f for f, _ in features], index, spec, resolved, dev, seed, reporter, batch_size
        )
    joint = relabel_by_size(np.concatenate([lab.ravel() for lab in labels]))
    out, start = [], 0
    for (_, shape), lab, plan in zip(features, labels, plans, strict=True):
        classes = joint[start : start + lab.size].reshape(lab.shape)
        out.append(plan.finish(classes).reshape(shape))
        start += lab.size
    return out


def _train_index(train_on, n: int) -> list[int]:
    if train_on is None:
        return list(range(n))
    index = sorted({int(i) for i in train_on})
    if not index:
        raise ValueError("train_on is empty: name at least one image to train on")
    bad = [i for i in index if not -n <= i < n]
    if bad:
        raise ValueError(f"train_on has indices {bad} out of range for {n} images")
    return sorted({i % n for i in index})


def _train_and_label(features, index, spec, params, dev, seed, reporter, batch_size):
    series = getattr(spec.load(), "label_series", None)
    if series is not None:  # a method outside this engine (the baselines) trains its own way
        return series(
            features, index, params, seed=seed, device=dev, reporter=reporter, batch_size=batch_size
        )
    settings = dict(FIXED[spec.entry_point.rpartition(":")[2]])
    params = {**params, **settings}
    train_feats = [features[i] for i in index]
    shapes = np.array([f.shape[:2] for f in train_feats])
    common = tuple(int(n) for n in np.median(shapes, axis=0).round())
    common = downscaled_shape(common, int(params.get("train_size", 0)))
    x = torch_cat([resize_planes(to_tensor(f[None], dev), common) for f in train_feats])

    min_labels = params.get("min_labels", 3)
    if min_labels == "auto":
        min_labels = auto_min_labels(
            np.concatenate([f.reshape(-1, f.shape[-1]) for f in train_feats])
        )

    config = TrainConfig(
        max_iter=params["max_iter"],
        min_labels=int(min_labels),
        patience=params.get("patience", 0),
        lr=params["lr"],
        momentum=params["momentum"],
        similarity_weight=params.get("similarity_weight", 1.0),
        weighting=params.get("weighting", "fixed"),
        continuity_weight=params.get("continuity_weight", 1.0),
        p=params.get("p", 15.0),
        batch_size=batch_size,
    )
    superpixels = superpixel_spec(
        params.get("refinement", "none"),
        params.get("n_superpixels", 10000),
        params.get("compactness", 100.0),
        params.get("graph_scale", 100.0),
    )
    mean_pixels = float(np.mean([np.prod(f.shape[:2]) for f in train_feats]))
    net, _ = fit(
        x,
        config,
        net_ndim=2,
        n_channels=params["n_channels"],
        n_conv=params["n_conv"],
        seed=seed,
        reporter=reporter,
        superpixels=superpixels,
        area_factor=float(np.prod(common)) / mean_pixels,
    )
    labels = predict(
        net,
        x,
        features,
        params.get("n_clusters", 0),
        params.get("max_samples", 200_000),
        seed,
        dev,
        reporter,
    )
    if params.get("refine_output") and superpixels is not None:  # as segment() does
        labels = [
            clean_by_superpixels(lab, f[None], superpixels).reshape(lab.shape)
            for lab, f in zip(labels, features, strict=True)
        ]
    return labels


def torch_cat(tensors):
    import torch

    return torch.cat(tensors)
