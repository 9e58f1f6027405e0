"""The ``transfer`` method's parameters (no torch import here); its spec, ``METHOD``,
stands beside its entry point in :mod:`napari_unsupseg.transfer.api`.

Label transfer is guided, not unsupervised: it needs a labelled source image, so it is
not listed among the segmenters of :func:`napari_unsupseg.available_methods`, but
:func:`napari_unsupseg.segment` and :func:`napari_unsupseg.get_method` know it.
The defaults were chosen on synthetic domain shifts of the ``cells`` sample (source
and target made from different seeds; see docs/methods/transfer.md).
"""

from __future__ import annotations

from .._spec import Param
from .engine import LABEL_ZERO

PARAMS = (
    Param("source_image", None, "array", "The annotated image (same channels as the target)."),
    Param(
        "source_labels", None, "array", "The source's classes: an integer label image of its shape."
    ),
    Param(
        "label_zero",
        "class",
        "str",
        "What label 0 of the source is: a class (background) like the others, or "
        "unlabelled pixels that teach nothing (partial annotations).",
        choices=LABEL_ZERO,
    ),
    Param("max_iter", 600, "int", "Training iterations (random crops of both).", min=1),
    Param(
        "warmup",
        50,
        "int",
        "First iterations on the source alone, before the adversarial term starts.",
        min=0,
    ),
    Param(
        "lambda_adv",
        0.01,
        "float",
        "Weight of the adversarial loss on the target (0: train on the source only).",
        min=0.0,
        max=10.0,
    ),
    Param("lr", 1e-3, "float", "Segmentation network's learning rate (Adam).", min=1e-7, max=1.0),
    Param(
        "lr_discriminator",
        3e-4,
        "float",
        "Discriminator's learning rate (Adam).",
        min=1e-7,
        max=1.0,
    ),
    Param("crop_size", 48, "int", "Side of the random training crops (pixels).", min=32, max=4096),
    Param("batch_size", 4, "int", "Crops of each image per iteration.", min=1, max=256),
    Param("width", 16, "int", "Channels of the segmentation network's layers.", min=4, max=256),
    Param(
        "discriminator_width",
        32,
        "int",
        "Channels of the discriminator's first layer (doubled at each of the next three).",
        min=4,
        max=256,
    ),
)
