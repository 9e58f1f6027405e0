"""The one entry point every front end calls: widget, command line and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_scribbles, check_seed, squeeze_spatial
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
    from .chunked import is_lazy, segment_lazy

    if is_lazy(image):
        return segment_lazy(
            image, method, channel_axis=channel_axis, seed=seed, device=device,
            progress=progress, should_stop=should_stop, normalize=normalize, output=output,
            threads=threads, **params,
        )  # fmt: skip
    if get_method(method).guided:  # prepares its source and target alike; keeps the ids
        with pinned_threads(check_threads(threads), uses_torch=True):
            return get_method(method).load()(
                image,
                channel_axis=channel_axis,
                seed=seed,
                device=device,
                progress=progress,
                should_stop=should_stop,
                normalize=normalize,
                **params,
            )
    return run_segmentation(
        image,
        method,
        channel_axis=channel_axis,
        seed=seed,
        device=device,
        progress=progress,
        should_stop=should_stop,
        normalize=normalize,
        output=output,
        spacing=spacing,
        object_diameter=object_diameter,
        background_classes=background_classes,
        threads=threads,
        **params,
    ).labels


def run_segmentation(
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
) -> Segmentation:
    """:func:`segment`, returning the labels with the classes they came from and the
    output plan (what ``auto`` chose, the object radius): the widget keeps the classes
    so that objects can be re-made from other background classes without a new run."""
    spec = get_method(method)
    seed = check_seed(seed)
    threads = check_threads(threads)
    resolved = spec.resolve(params)
    prepared = prepare_image(image, channel_axis=channel_axis, normalize=normalize)
    spatial_shape = prepared.spatial_shape
    if "scribbles" in resolved:
        resolved["scribbles"] = check_scribbles(resolved["scribbles"], spatial_shape)
        if resolved["scribbles"] is not None:
            resolved["scribbles"] = resolved["scribbles"].reshape(
                squeeze_spatial(prepared.features).shape[:-1]
            )
    features = squeeze_spatial(prepared.features)
    if features.ndim - 1 not in spec.spatial_ndims:
        dims = " or ".join(f"{n}D" for n in spec.spatial_ndims)
        raise ValueError(
            f"method {method!r} segments {dims} images; this image has "
            f"{features.ndim - 1} spatial dimensions {spatial_shape}"
        )

    plan, features = plan_output(
        output,
        features,
        is_rgb=prepared.is_rgb,
        spacing=spacing,
        object_diameter=object_diameter,
        background_classes=background_classes,
        spatial_shape=spatial_shape,
    )
    if resolved.get("merge_threshold") == "auto" and plan.kind != "regions":
        resolved["merge_threshold"] = 0.0  # the merge makes regions, not classes

    needed = spec.estimate_memory(features.shape[:-1], features.shape[-1], resolved, device)
    what = f"{method!r} on an image of {features.shape[:-1]} with {features.shape[-1]} channel(s)"
    check_fits(needed, what, MEMORY_ADVICE["torch" if spec.uses_torch else "classical"])
    gpu_free = cuda_free_memory(device) if spec.uses_torch else None
    if gpu_free is not None:  # the network trains and predicts there
        check_fits(needed, what, GPU_ADVICE, available=gpu_free, where="GPU memory")

    def finalize(labels: np.ndarray) -> np.ndarray:
        return relabel_by_size(labels).reshape(spatial_shape)

    reporter = Reporter(progress, should_stop, finalize_labels=finalize)
    reporter.check()

    def run_method():
        with pinned_threads(threads, uses_torch=spec.uses_torch):  # same labels anywhere
            return spec.load()(features, seed=seed, device=device, reporter=reporter, **resolved)

    labels = run_guarded(run_method, method, device, spec.uses_torch)
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
