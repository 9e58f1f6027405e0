"""The public functions every front end calls (widget, command line, benchmarks):
:func:`segment` and :func:`segment_series`, above every engine.

:func:`segment`'s signature is the one place where the run's keywords have their
defaults: :func:`run_segmentation` and :func:`segment_series` take the same keywords
and bind them to it. Both share the opening (:func:`_open`: seed, threads, the
method's parameters), the preparation of each image (:func:`_prepare`), the memory
check before the run (:func:`_check_memory`) and the out-of-memory translation during
it (:func:`napari_unsupseg._guard.run_guarded`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_scribbles, check_seed, squeeze_spatial
from ._device import resolve_device
from ._guard import GPU_ADVICE, MEMORY_ADVICE, run_guarded
from ._labels import relabel_by_size
from ._memory import check_fits, cuda_free_memory
from ._output import OutputPlan, plan_output
from ._preprocess import prepare_image
from ._progress import CancelCheck, ProgressCallback, Reporter
from ._registry import get_method
from ._threads import DEFAULT_THREADS, check_threads, pinned_threads


def segment(
    image,
    method: str = "cnn",
    *,
    channel_axis: int | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    should_stop: CancelCheck | None = None,
    normalize: str = "auto",
    output: str = "auto",
    spacing=None,
    object_diameter: float | None = None,
    background_classes=None,
    threads: int = DEFAULT_THREADS,
    **params,
) -> np.ndarray:
    """Segment ``image`` without supervision and return int32 labels.

    Parameters
    ----------
    image : array-like
        2D grey, RGB/RGBA (last axis 3 or 4), or any array with ``channel_axis``;
        a 3D stack or time series is segmented as a whole, with consistent ids.
    method : str
        A name from :func:`available_methods`.
    channel_axis : int, optional
        Axis holding channels (fluorescence). ``None`` guesses RGB as napari does.
    seed : int
        Same seed, same labels (on the CPU).
    device : str
        "auto" (CUDA, then MPS, then CPU), "cpu", "cuda" or "mps"; CNN methods only.
    progress : callable, optional
        Called with a :class:`Progress` per iteration; returning ``True`` stops the
        run, which then raises :class:`SegmentationCancelled`.
    should_stop : callable, optional
        Polled between iterations; returning ``True`` cancels likewise.
    normalize : str
        "auto", "percentile", "minmax" or "none" (see :func:`prepare_image`).
    output : str
        What the labels are: "classes" (cluster ids shared across the image),
        "regions" (every connected piece its own id), "objects" (one id per nucleus
        or cell, 0 = background; see :mod:`napari_unsupseg.objects`) or "auto":
        regions for colour (RGB) images, objects for every other image.
    spacing : sequence of float, optional
        Size of a pixel/voxel along each spatial axis (e.g. a napari layer's scale):
        objects are found in these units, so anisotropic stacks split correctly.
    object_diameter : float, optional
        Typical object diameter in the units of ``spacing`` (pixels without it);
        measured from the image when not given. Objects only.
    background_classes : sequence of int, optional
        Class ids (as numbered by ``output="classes"``) that are background; chosen
        automatically when not given. Objects only.
    threads : int
        CPU threads of the CNN methods (torch); the labels depend on it, not on the
        environment's thread settings. Classical methods always use one.
    **params
        The method's parameters (see ``available_methods()[method].params``).

    Returns
    -------
    numpy.ndarray
        int32 labels with the image's spatial shape, numbered 1..K largest first
        (objects: 0 = background; ``method="transfer"``: the ids of its
        ``source_labels``, and a list of label arrays for a list of images; see
        :func:`napari_unsupseg.transfer_labels`).
        A dask ``image`` gives a lazy dask array, computed chunk by chunk
        (:func:`napari_unsupseg.chunked.segment_lazy`).
    """
    call = _Call(**locals())  # the arguments, as given or defaulted, before anything else
    from .chunked import is_lazy, segment_lazy

    if is_lazy(image):
        shared = {name: getattr(call, name) for name in _SHARED}
        objects = {"spacing": spacing, "object_diameter": object_diameter}
        return segment_lazy(
            image, method, **shared, output=output, threads=threads, **objects,
            background_classes=background_classes, **params,
        )  # fmt: skip
    return _segmentation(call).labels


def _guided(call: _Call) -> Segmentation:
    """A method guided by a labelled source (label transfer) prepares its source and
    target alike and keeps the source's ids: its labels are its classes; a list of
    images gives a list."""
    spec = get_method(call.method)
    shared = {name: getattr(call, name) for name in _SHARED}
    with pinned_threads(check_threads(call.threads), uses_torch=True):
        labels = spec.run(call.image, **shared, **call.params)
    return Segmentation(labels, labels, OutputPlan("classes"))


#: segment()'s keywords that the lazy path and the guided methods take too
_SHARED = ("channel_axis", "seed", "device", "progress", "should_stop", "normalize")


def run_segmentation(image, method: str = "cnn", **keywords) -> Segmentation:
    """:func:`segment` (the same keywords, the same defaults), returning the labels with
    the classes they came from and the output plan (what ``auto`` chose, the object
    radius): the widget keeps the classes so that objects can be re-made from other
    background classes without a new run."""
    return _segmentation(_bind(image, method, keywords))


def segment_series(
    images: Sequence,
    method: str = "cnn",
    *,
    train_on: Sequence[int] | None = None,
    batch_size: int = 8,
    **keywords,
) -> list[np.ndarray]:
    """Train one CNN on the images ``train_on`` (indices; all when None), label every
    image with it and return one int32 label array per image, with ids consistent
    across the list (numbered 1..K jointly, largest region overall first).

    Images may differ in size but must have the same number of channels. Parameters
    are those of ``method`` (a CNN method or a baseline); ``stack_mode``/``train_planes``
    do not apply and scribbles are not supported here (use :func:`segment`). ``cnn``'s
    final cleanup gives each superpixel its most frequent label here, never the region
    merge (``merge_threshold``): ids name classes shared by all the images, not regions.
    ``batch_size``: images per training step at most. The other keywords are
    :func:`segment`'s (``channel_axis``, ``seed``, ``device``, ``progress``,
    ``should_stop``, ``normalize``, ``output`` and the objects' settings, ``threads``),
    with its defaults, applied to every image (objects are numbered per image; classes
    are shared; regions are numbered per image).
    """
    call = _bind(images, method, keywords)
    spec, seed, threads, resolved = _open(call)
    if spec.guided:
        raise ValueError(
            f"segment_series runs the self-training CNNs; for {method!r} on a list of "
            f"images call segment({method!r}) or transfer_labels with the list"
        )
    if spec.series is None:
        raise ValueError(f"segment_series needs a CNN method; {method!r} is not one")
    if isinstance(images, np.ndarray) or not isinstance(images, Sequence) or not images:
        raise TypeError("images must be a non-empty list of arrays")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}")
    if resolved.get("scribbles") is not None:
        raise ValueError("segment_series does not take scribbles: use segment() per image")
    index = _train_index(train_on, len(images))
    prepared = []
    for i, image in enumerate(images):
        refusal = f"image {i} has spatial shape {{shape}}: segment_series takes 2D images "
        prepared.append(_prepare(call, image, (2,), refusal + _STACKS))
        channels = [p.features.shape[-1] for p in prepared]
        if channels[-1] != channels[0]:
            raise ValueError(
                f"image {i} has {channels[-1]} channel(s) but image 0 has {channels[0]}"
            )
    largest = max(prepared, key=lambda p: p.features[..., 0].size)
    _check_memory(spec, largest.features.shape, resolved, call.device)
    settings = {k: v for k, v in spec.settings(resolved).items() if k not in _SERIES_IGNORES}

    reporter = Reporter(call.progress, call.should_stop)
    reporter.check()

    def train_and_label():
        with pinned_threads(threads, uses_torch=True):
            return spec.series(
                [p.features for p in prepared], index, settings, seed=seed,
                device=resolve_device(call.device), reporter=reporter, batch_size=batch_size,
            )  # fmt: skip

    labels = run_guarded(train_and_label, method, call.device, spec.uses_torch)
    joint = relabel_by_size(np.concatenate([lab.ravel() for lab in labels]))
    out, start = [], 0
    for p, lab in zip(prepared, labels, strict=True):
        classes = joint[start : start + lab.size].reshape(lab.shape)
        out.append(p.plan.finish(classes).reshape(p.spatial_shape))
        start += lab.size
    return out


#: settings a list of images does not have: a stack's, and scribbles (refused above)
_SERIES_IGNORES = ("stack_mode", "train_planes", "scribbles")
_STACKS = "(segment a stack with segment(..., stack_mode='reference'))"


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


@dataclass(frozen=True)
class _Call:
    """The arguments of one call of :func:`segment` (``image``: one or a list)."""

    image: Any
    method: str
    channel_axis: int | None
    seed: int
    device: str
    progress: ProgressCallback | None
    should_stop: CancelCheck | None
    normalize: str
    output: str
    spacing: Any
    object_diameter: float | None
    background_classes: Any
    threads: int
    params: dict


def _bind(image, method, keywords) -> _Call:
    """``keywords`` bound to :func:`segment`'s signature, its defaults filled in."""
    bound = inspect.signature(segment).bind(image, method, **keywords)
    bound.apply_defaults()
    return _Call(**bound.arguments)


def _open(call: _Call):
    """What every run starts with: the method's spec, the checked seed and threads,
    and the method's parameters resolved (defaults overlaid, each validated)."""
    spec = get_method(call.method)
    return spec, check_seed(call.seed), check_threads(call.threads), spec.resolve(call.params)


@dataclass(frozen=True)
class _Prepared:
    features: np.ndarray  # channel-last, spatial axes of length 1 squeezed
    spatial_shape: tuple[int, ...]  # the image's, as the labels are returned
    plan: OutputPlan


def _prepare(call: _Call, image, spatial_ndims, refusal: str) -> _Prepared:
    """``image`` as the engines take it, and the plan of the output it asks for;
    ``refusal`` (formatted with ``ndim`` and ``shape``) refuses other dimensionalities
    than ``spatial_ndims``."""
    prepared = prepare_image(image, channel_axis=call.channel_axis, normalize=call.normalize)
    features = squeeze_spatial(prepared.features)
    if features.ndim - 1 not in spatial_ndims:
        raise ValueError(refusal.format(ndim=features.ndim - 1, shape=prepared.spatial_shape))
    objects = {k: getattr(call, k) for k in ("spacing", "object_diameter", "background_classes")}
    plan, features = plan_output(
        call.output, features, is_rgb=prepared.is_rgb, spatial_shape=prepared.spatial_shape,
        **objects,
    )  # fmt: skip
    return _Prepared(features, prepared.spatial_shape, plan)


def _check_memory(spec, features_shape, resolved, device) -> None:
    """Refuse up front a run of ``spec`` on ``features_shape`` (channel-last) that would
    not fit in the memory available (and, for the CNNs on a GPU, in its memory)."""
    spatial, channels = tuple(features_shape[:-1]), features_shape[-1]
    needed = spec.estimate_memory(spatial, channels, resolved, device)
    what = f"{spec.name!r} on an image of {spatial} with {channels} channel(s)"
    check_fits(needed, what, MEMORY_ADVICE["torch" if spec.uses_torch else "classical"])
    gpu_free = cuda_free_memory(device) if spec.uses_torch else None
    if gpu_free is not None:  # the network trains and predicts there
        check_fits(needed, what, GPU_ADVICE, available=gpu_free, where="GPU memory")


def _segmentation(call: _Call) -> Segmentation:
    if get_method(call.method).guided:
        return _guided(call)
    spec, seed, threads, resolved = _open(call)
    method, image = call.method, call.image
    dims = " or ".join(f"{n}D" for n in spec.spatial_ndims)
    refusal = f"method {method!r} segments {dims} images; this image has "
    prepared = _prepare(
        call, image, spec.spatial_ndims, refusal + "{ndim} spatial dimensions {shape}"
    )
    features, spatial_shape, plan = prepared.features, prepared.spatial_shape, prepared.plan
    if "scribbles" in resolved:
        resolved["scribbles"] = check_scribbles(resolved["scribbles"], spatial_shape)
        if resolved["scribbles"] is not None:
            resolved["scribbles"] = resolved["scribbles"].reshape(features.shape[:-1])
    if resolved.get("merge_threshold") == "auto" and plan.kind != "regions":
        resolved["merge_threshold"] = 0.0  # the merge makes regions, not classes
    _check_memory(spec, features.shape, resolved, call.device)

    def finalize(labels: np.ndarray) -> np.ndarray:
        return relabel_by_size(labels).reshape(spatial_shape)

    reporter = Reporter(call.progress, call.should_stop, finalize_labels=finalize)
    reporter.check()

    def run_method():
        with pinned_threads(threads, uses_torch=spec.uses_torch):  # same labels anywhere
            return spec.run(
                features, seed=seed, device=call.device, reporter=reporter,
                **spec.settings(resolved),
            )  # fmt: skip

    labels = run_guarded(run_method, method, call.device, spec.uses_torch)
    labels = np.asarray(labels)
    if labels.shape != features.shape[:-1]:
        raise RuntimeError(
            f"internal error: method {method!r} returned labels of shape {labels.shape} "
            f"for an image of spatial shape {features.shape[:-1]}"
        )
    classes = relabel_by_size(labels)
    with pinned_threads(1, uses_torch=False):
        if plan.kind != "classes":  # a last step the user can see and cancel
            reporter.update(0, 1, stage=f"making {plan.kind}")
        labels = plan.finish(classes).reshape(spatial_shape)
    return Segmentation(labels, classes.reshape(spatial_shape), plan)


@dataclass(frozen=True)
class Segmentation:
    """What a run made: the labels, the classes they came from (1..K, largest first)
    and the output plan (its kind, and for objects the radius and intensity used)."""

    labels: np.ndarray
    classes: np.ndarray
    plan: OutputPlan
