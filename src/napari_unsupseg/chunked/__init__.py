"""Images bigger than memory: segmentation of lazy (dask) arrays, chunk by chunk.

:func:`segment_lazy` is what :func:`napari_unsupseg.segment` does with a dask array:
it trains on a small copy drawn from the image (the CNN methods, as they already train
on a reduced copy; k-means and GMM on a sample of pixels), then returns a lazy dask
array of labels whose chunks are computed one by one, each with the context it needs
from its neighbours. :mod:`.store` writes such labels to Zarr with progress, Cancel and
an optional Dask cluster.
"""

from __future__ import annotations

import numpy as np

from .._checks import squeeze_spatial
from ._context import DEFAULT_CHUNK
from ._prepare import is_lazy, prepare_lazy

__all__ = ["DEFAULT_CHUNK", "is_lazy", "lazy_classes", "segment_lazy"]


def segment_lazy(image, method: str = "cnn", **kwargs):
    """Lazy int32 labels of the dask ``image`` (the arguments of
    :func:`napari_unsupseg.segment`, plus ``chunk`` and ``workers`` of
    :func:`lazy_classes`); training happens now, prediction when the result is
    computed."""
    from ._objects import numbered_objects
    from ._stitch import stitched_regions

    classes, kind, spatial_shape = lazy_classes(image, method, **kwargs)
    labels = classes
    if kind == "regions":
        labels = stitched_regions(classes)
    elif kind == "objects":
        labels = numbered_objects(classes)
    return labels.reshape(spatial_shape) if labels.shape != spatial_shape else labels


def lazy_classes(
    image,
    method: str = "cnn",
    *,
    channel_axis=None,
    seed: int = 0,
    device: str = "auto",
    progress=None,
    should_stop=None,
    normalize: str = "auto",
    output: str = "auto",
    threads: int = 1,
    spacing=None,
    object_diameter: float | None = None,
    background_classes=None,
    chunk: int | None = None,
    workers: int | None = None,
    **params,
):
    """(lazy classes, output kind, the image's spatial shape): train now on a copy
    drawn from the dask ``image``. For objects, the lazy provisional int64 object ids
    of :mod:`._objects` stand for the classes (numbered by its ``numbered_objects``).
    ``chunk``: the chunks' side in pixels (None: the image's own chunks); ``workers``:
    chunks computed at once, for the memory check (None: the threads of Dask's default
    scheduler, which computes the lazy result)."""
    from .._checks import check_seed
    from .._guard import MEMORY_ADVICE
    from .._memory import check_fits
    from .._output import MAX_OBJECT_NDIM, OUTPUTS, auto_output
    from .._progress import Reporter
    from .._registry import get_method
    from .._threads import check_threads
    from ._context import map_with_context, regular_chunks
    from ._memory import chunked_estimate

    objects = {
        "spacing": spacing, "object_diameter": object_diameter,
        "background_classes": background_classes,
    }  # fmt: skip
    spec = get_method(method)
    _check_chunkable(spec)
    seed, threads = check_seed(seed), check_threads(threads)
    resolved = spec.resolve(params)
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {output!r}")
    prepared = prepare_lazy(image, channel_axis=channel_axis, normalize=normalize)
    data = regular_chunks(prepared.data, chunk)
    data = squeeze_spatial(data)
    ndim = data.ndim - 1
    kind = auto_output(prepared.is_rgb, ndim) if output == "auto" else output
    if kind == "objects" and ndim > MAX_OBJECT_NDIM:
        raise ValueError(
            f"objects are made in 2D and 3D; this image has {ndim} spatial axes: ask "
            "for output='classes' or 'regions'"
        )
    if kind == "objects":
        objects = _object_settings(prepared, ndim, objects)
    features = data.map_blocks(prepared.scale, dtype=np.float32)
    if features.ndim - 1 not in spec.spatial_ndims:
        raise ValueError(f"method {method!r} does not segment {features.ndim - 1}D images")
    needed = chunked_estimate(spec, features, spec.settings(resolved), device, workers)
    if kind == "objects":
        from ._memory import parallel_chunks
        from ._objects import objects_chunk_bytes

        needed += parallel_chunks(workers) * objects_chunk_bytes(features)
    what = (
        f"{method!r} on a lazy image of {features.shape[:-1]}, chunks of {features.chunksize[:-1]}"
    )
    check_fits(needed, what, "use smaller chunks (--chunk) or fewer workers; " + MEMORY_ADVICE[
        "torch" if spec.uses_torch else "classical"])  # fmt: skip
    reporter = Reporter(progress, should_stop)
    reporter.check()
    prepare, plan = prepared.scale, None
    if kind == "objects":
        from ._objects import chained, plan_objects, prepared_features

        reporter.update(0, 1, stage="measuring the objects")
        plan, sample = plan_objects(features, objects["spacing"], objects["object_diameter"])
        prepare = chained(prepared.scale, plan.prepare)
        features = prepared_features(data, prepare, plan.flatten_context())
    if spec.uses_torch:
        from ._cnn import train_predictor

        settings = spec.settings(resolved)
        if settings.get("merge_threshold") == "auto":
            settings["merge_threshold"] = 0.0  # the region merge is not chunked (docs)
        predictor = train_predictor(
            features, settings, seed=seed, device=device, threads=threads, reporter=reporter
        )
    else:
        from ._classical import train_clusters

        predictor = train_clusters(method, features, resolved, seed=seed, reporter=reporter)
    _release_training_memory()
    depth = predictor.depth(features.ndim - 1)
    if plan is None:
        classes = map_with_context(predictor, data, depth, prepare=prepare)
        return classes, kind, prepared.spatial_shape
    from ._objects import grown_objects, with_classes

    plan = with_classes(plan, sample, predictor, objects["background_classes"])
    contexts = zip(depth, plan.context(), plan.flatten_context(), strict=True)
    depth = tuple(sum(context) for context in contexts)
    provisional = map_with_context(
        grown_objects, data, depth, dtype=np.int64, prepare=prepare, predictor=predictor,
        plan=plan, image_shape=tuple(data.shape[:-1]),
    )  # fmt: skip
    return provisional, kind, prepared.spatial_shape


def _check_chunkable(spec) -> None:
    """The lazy path runs the CNN engine's methods and k-means / GMM; the other torch
    methods (the deep-clustering baselines) have no chunked prediction."""
    if not spec.uses_torch:
        return  # k-means and GMM, or a clear refusal from train_clusters
    from ..cnn import specs as cnn_specs
    from ._classical import CHUNKABLE

    cnns = [s.name for s in cnn_specs.METHODS]
    if spec.name not in cnns:
        raise ValueError(
            f"method {spec.name!r} cannot run on lazy (chunked) images; they take "
            f"{', '.join([*cnns, *CHUNKABLE])}. Or load the image into memory (np.asarray)"
        )


def _object_settings(prepared, ndim: int, settings: dict) -> dict:
    """The objects' ``settings`` checked, the spacing cut to the ``ndim`` axes segmented."""
    from .. import objects as obj
    from .._output import _check_classes, _check_diameter

    spacing, diameter = settings["spacing"], settings["object_diameter"]
    background = settings["background_classes"]
    user_ndim = len(prepared.spatial_shape)
    if spacing is not None:
        spacing = obj.as_spacing(spacing, user_ndim)[user_ndim - ndim :]
    return {
        "spacing": spacing,
        "object_diameter": None if diameter is None else _check_diameter(diameter),
        "background_classes": None if background is None else _check_classes(background),
    }


def _release_training_memory() -> None:
    """Free what training left (reference cycles, heap holes) before the chunks run:
    measured on a 12288x12288 image, the first chunks' peak fell from 1.15 to 0.88 GiB."""
    import gc

    from ..cnn.allocation import release_free_memory

    gc.collect()
    release_free_memory()
