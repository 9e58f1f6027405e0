"""The ``transfer`` method's front end: check and prepare the source and the targets
alike, refuse what cannot work with a clear message, run the engine, shape the labels.

:func:`napari_unsupseg.segment` hands ``method="transfer"`` here; the widget calls it
through :func:`segment` too, so every front end runs this one function.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_seed, squeeze_spatial
from .._guard import run_guarded
from .._memory import check_fits, cuda_free_memory
from .._preprocess import prepare_image
from .._progress import CancelCheck, ProgressCallback, Reporter
from .._spec import MethodSpec
from .engine import class_table
from .memory_estimate import estimate, estimate_planes
from .net import MIN_SIZE
from .specs import PARAMS

_ADVICE = (
    "use device='cpu' (more memory than most GPUs) or 'cuda', a smaller width or "
    "batch_size, or fewer / cropped target images."
)
_INT32 = np.iinfo(np.int32)


def _as_planes(features: np.ndarray) -> np.ndarray:
    """Channel-last features with any number of spatial axes as (planes, Y, X, C)."""
    return features.reshape(-1, *features.shape[-3:])


def _prepare(image, channel_axis, normalize, what: str):
    try:
        prepared = prepare_image(image, channel_axis=channel_axis, normalize=normalize)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{what}: {error}") from None
    planes = _as_planes(squeeze_spatial(prepared.features))
    if min(planes.shape[1:3]) < MIN_SIZE:
        raise ValueError(
            f"{what} has planes of {planes.shape[1]}x{planes.shape[2]} pixels; label "
            f"transfer needs at least {MIN_SIZE}x{MIN_SIZE} (the discriminator reads "
            "crops of that size)"
        )
    return prepared, planes


def _check_labels(labels, spatial_shape) -> np.ndarray:
    if labels is None:
        raise ValueError(
            "transfer needs source_image and source_labels: an annotated image and its "
            "label image (classes), to learn the classes the target gets"
        )
    if hasattr(labels, "compute") and not isinstance(labels, np.ndarray):
        labels = labels.compute()
    labels = np.asarray(labels)
    if labels.dtype == bool:
        labels = labels.astype(np.int32)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"source_labels must be an integer label image, got dtype {labels.dtype}")
    if labels.shape != tuple(spatial_shape):
        raise ValueError(
            f"source_labels have shape {labels.shape} but the source image's spatial shape "
            f"is {tuple(spatial_shape)}"
        )
    if labels.size and (labels.min() < _INT32.min or labels.max() > _INT32.max):
        raise ValueError("source_labels ids must fit in 32-bit integers")
    return labels


def transfer_labels(
    target,
    source_image=None,
    source_labels=None,
    *,
    channel_axis: int | None = None,
    source_channel_axis: int | str | None = "same",
    seed: int = 0,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    should_stop: CancelCheck | None = None,
    normalize: str = "auto",
    **params,
):
    """Label ``target`` with the classes of ``source_labels`` on ``source_image``.

    A small segmentation network learns the source's classes (cross-entropy) while a
    discriminator pushes its output maps on the target to look like those on the
    source (Tsai et al. 2018, "Learning to Adapt Structured Output Space for Semantic
    Segmentation"). ``target`` is an image, a stack (every plane is labelled, as in
    a reference mode) or a list of images; all are adapted to at once. The source may
    be a stack too, with labels of its spatial shape. ``source_channel_axis`` defaults
    to the target's ``channel_axis``. Other arguments are :func:`segment`'s, and
    ``params`` the method's (``get_method("transfer").params``).

    Returns int32 labels holding the source's label ids: one array of the target's
    spatial shape, or a list of them for a list of targets.
    """
    seed = check_seed(seed)
    resolved = METHOD.resolve(params)
    many = isinstance(target, list | tuple)
    if many and not target:
        raise ValueError("the list of target images is empty")
    if source_image is None:
        _check_labels(None, ())
    source_axis = channel_axis if source_channel_axis == "same" else source_channel_axis
    source, source_planes = _prepare(source_image, source_axis, normalize, "source_image")
    labels = _check_labels(source_labels, source.spatial_shape)
    prepared = []
    for index, image in enumerate(target if many else [target]):
        what = f"target image {index}" if many else "target image"
        prepared.append(_prepare(image, channel_axis, normalize, what))
        channels = prepared[-1][1].shape[-1]
        if channels != source_planes.shape[-1]:
            raise ValueError(
                f"{what} has {channels} channel(s) but the source image has "
                f"{source_planes.shape[-1]}: both must have the same channels"
            )
    ids, _ = class_table(labels, resolved["label_zero"])
    if ids.size < 2:
        raise ValueError(
            f"source_labels hold {ids.size} class(es)"
            + (" besides the unlabelled 0" if resolved["label_zero"] == "unlabelled" else "")
            + ": at least two classes are needed to tell anything apart"
        )
    targets = [planes for _, planes in prepared]
    _check_memory(targets, source_planes, resolved, device)

    first_shape = prepared[0][0].spatial_shape
    reporter = Reporter(
        progress, should_stop, finalize_labels=lambda found: found.reshape(first_shape)
    )
    reporter.check()
    engine_params = {
        k: v for k, v in resolved.items() if k not in ("source_image", "source_labels")
    }

    def run():
        from .engine import run_transfer

        return run_transfer(
            targets,
            source_planes,
            labels.reshape(source_planes.shape[:-1]),
            seed=seed,
            device=device,
            reporter=reporter,
            **engine_params,
        )

    found = run_guarded(run, "transfer", device, True)
    out = [f.reshape(p.spatial_shape) for f, (p, _) in zip(found, prepared, strict=True)]
    return out if many else out[0]


def _check_memory(targets, source, params, device) -> None:
    needed = estimate_planes([t.shape for t in targets], source.shape, params)
    what = f"'transfer' on {sum(t.shape[0] for t in targets)} target plane(s)"
    check_fits(needed, what, _ADVICE)
    gpu_free = cuda_free_memory(device)
    if gpu_free is not None:
        check_fits(needed, what, _ADVICE, available=gpu_free, where="GPU memory")


METHOD = MethodSpec(
    name="transfer",
    description="Label transfer across domains: learn the source's classes from one "
    "annotated image and adapt to the target by adversarial learning in the output "
    "space (Tsai et al. 2018).",
    run=transfer_labels,
    estimate=estimate,
    params=PARAMS,
    uses_torch=True,
    iterative=True,
    paper='Tsai et al., "Learning to Adapt Structured Output Space for Semantic '
    'Segmentation", CVPR 2018',
    spatial_ndims=(2, 3),
    guided=True,
)
