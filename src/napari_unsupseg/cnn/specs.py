"""Parameter specs of the CNN segmenters (no torch import here).

With the papers' values (the defaults of ``cnn-superpixel``, ``cnn-continuity``,
``cnn-fsf`` and ``cnn-scf``) each method is its paper's algorithm; ``cnn`` is the
project's recommended configuration of the same engine, faster and tuned.
"""

from __future__ import annotations

import inspect

from .._spec import MethodSpec, Param
from .engine import run_cnn
from .memory_estimate import estimate
from .series import label_series


def _n_channels(default):
    return Param(
        "n_channels",
        default,
        "int",
        "Feature channels of the network = most labels it can give.",
        min=2,
        max=1024,
    )


def _n_conv(default=2):
    return Param(
        "n_conv", default, "int", "3x3 convolution blocks (conv, ReLU, BatchNorm).", min=1, max=10
    )


def _max_iter(default):
    return Param("max_iter", default, "int", "Most training iterations.", min=1, max=100_000)


def _min_labels(default=3):
    return Param(
        "min_labels",
        default,
        "int",
        "Stop when the label count falls to this (0: never; auto: from colour spread).",
        min=0,
        max=1024,
        special=("auto",),
    )


def _patience(default):
    return Param(
        "patience",
        default,
        "int",
        "Stop after this many iterations without any label change (0: never).",
        min=0,
        max=100_000,
    )


def _train_size(default):
    return Param(
        "train_size",
        default,
        "int",
        "Train on a copy with at most this many pixels per plane (0: full size).",
        min=0,
        max=1 << 31,
    )


LR = Param("lr", 0.1, "float", "SGD learning rate.", min=1e-6, max=10.0)
MOMENTUM = Param("momentum", 0.9, "float", "SGD momentum.", min=0.0, max=0.999)


def _weight(name, default, help, max=100.0, relevant_when=None):
    """A loss or cost weight, 0 or more."""
    return Param(name, default, "float", help, min=0.0, max=max, relevant_when=relevant_when)


SIMILARITY = _weight("similarity_weight", 1.0, "Weight of the feature-similarity loss.")
CONTINUITY = _weight(
    "continuity_weight",
    1.0,
    "Weight of the spatial-continuity loss.",
    relevant_when=("weighting", ("fixed",)),
)
STACK_MODE = Param(
    "stack_mode",
    "3d",
    "str",
    "Stacks: one 3D network over the volume, or a 2D one trained on some planes.",
    choices=("3d", "reference"),
)
TRAIN_PLANES = Param(
    "train_planes",
    8,
    "int",
    "Reference mode: evenly spaced planes to train on (0: all).",
    min=0,
    max=100_000,
    relevant_when=("stack_mode", ("reference",)),
)
SCRIBBLES = Param("scribbles", None, "array", "Label image of user scribbles (0: none).")
SCRIBBLE_WEIGHT = _weight("scribble_weight", 0.5, "Weight of the scribble loss.")
WEIGHTING = Param(
    "weighting",
    "fsf",
    "str",
    "Continuity weight: fixed, fsf (q'/p), scf (p/q') or none.",
    choices=("fixed", "fsf", "scf", "none"),
)


def _p(default=15.0):
    return Param(
        "p",
        default,
        "float",
        "Constant p of Guermazi, Ksantini & Khan's dynamic weight.",
        min=0.01,
        relevant_when=("weighting", ("fsf", "scf")),
    )


def _common(n_channels=100, max_iter=1000, patience=0, train_size=0, min_labels=3):
    return (
        _n_channels(n_channels),
        _n_conv(),
        _max_iter(max_iter),
        _min_labels(min_labels),
        LR,
        MOMENTUM,
        _patience(patience),
        _train_size(train_size),
        STACK_MODE,
        TRAIN_PLANES,
    )


#: the recommended configuration's values (also used by cnn+kmeans), chosen on the
#: BSDS500 validation split by mIoU All (docs/benchmarks.md): on photographs the labels
#: are best after a very short training, since longer training merges regions (fewer
#: labels: Fine and All fall). Fluorescence-like cells want 10 to 30 iterations.
_RECOMMENDED = {"n_channels": 32, "max_iter": 2, "patience": 20, "train_size": 20_000}

REFINEMENT = Param(
    "refinement",
    "graph",
    "str",
    "Superpixels that refine the targets and clean the final labels: graph "
    "(Felzenszwalb, edge-following), slic, or none.",
    choices=("graph", "slic", "none"),
)


def graph_scale(relevant_when=("refinement", ("graph",))):
    return Param(
        "graph_scale",
        100.0,
        "float",
        "Graph superpixels: Felzenszwalb's scale; higher gives larger superpixels.",
        min=1.0,
        max=1e5,
        relevant_when=relevant_when,
    )


MERGE_THRESHOLD = Param(
    "merge_threshold",
    "auto",
    "float",
    "Final cleanup: join touching graph superpixels whose colour difference (in % of "
    "the range; CIELAB for 3 channels) + merge_label_weight x label mismatch is below "
    "this; 0: give each superpixel its most frequent label instead. auto: 16 for "
    "3-channel (colour) images, 0 for others. Not with scribbles.",
    min=0.0,
    max=1e4,
    special=("auto",),
    relevant_when=("refinement", ("graph",)),
)
MERGE_LABEL_WEIGHT = _weight(
    "merge_label_weight",
    25.0,
    "Final cleanup: cost of two superpixels labelled wholly apart by the network.",
    max=1e4,
    relevant_when=("refinement", ("graph",)),
)


def slic(n_superpixels=10000, compactness=100.0, relevant_when=("refinement", ("slic",))):
    """SLIC's two parameters (Kanezaki's superpixels)."""
    return (
        Param("n_superpixels", n_superpixels, "int", "SLIC superpixels (per full-size image).",
              min=1, relevant_when=relevant_when),
        Param("compactness", compactness, "float", "SLIC compactness: colour vs space.",
              min=1e-3, relevant_when=relevant_when),
    )  # fmt: skip


#: the recommended training (cnn, and cnn+kmeans before its k-means)
_RECOMMENDED_TRAINING = (
    *_common(**_RECOMMENDED),
    SIMILARITY,
    WEIGHTING,
    CONTINUITY,
    _p(),
    REFINEMENT,
    graph_scale(),
)
_CNN_PARAMS = (
    *_RECOMMENDED_TRAINING,
    MERGE_THRESHOLD,
    MERGE_LABEL_WEIGHT,
    *slic(),
    SCRIBBLES,
    SCRIBBLE_WEIGHT,
)


#: the engine's settings that no parameter of a method sets are unused (None), but for
#: these switches, which are off unless the method turns them on
_OFF = {"scribbles": None, "refinement": "none", "refine_output": False, "n_clusters": 0}
_ENGINE = [
    p.name for p in inspect.signature(run_cnn).parameters.values() if p.kind == p.KEYWORD_ONLY
]


def _spec(name, description, params, paper, **fixed):
    """A CNN method: ``fixed`` are the engine settings that make it (not parameters)."""
    names = {p.name for p in params} | {"seed", "device", "reporter"}
    unused = {key: _OFF.get(key) for key in _ENGINE if key not in names}
    return MethodSpec(
        name=name,
        description=description,
        run=run_cnn,
        estimate=estimate,
        params=params,
        fixed={**unused, **fixed},
        series=label_series,
        uses_torch=True,
        iterative=True,
        paper=paper,
        spatial_ndims=(2, 3),
    )


METHODS = (
    _spec(
        "cnn",
        "Self-training CNN, recommended settings: a short training on a reduced copy "
        "with the FSF continuity loss, final labels cleaned by graph superpixels "
        "(joined into regions on colour images).",
        _CNN_PARAMS,
        "Kim et al. 2020 with Guermazi, Ksantini & Khan's weighting; "
        "settings chosen by measurement",
        # the superpixels that refine the targets also clean the final labels
        refine_output=True,
    ),
    _spec(
        "cnn-superpixel",
        "Self-training CNN with SLIC superpixel refinement (Kanezaki 2018).",
        (
            *_common(),
            *slic(),
        ),
        "Kanezaki, ICASSP 2018",
        # cross-entropy against SLIC-refined labels, nothing else
        refinement="slic",
        weighting="none",
        similarity_weight=1.0,
    ),
    _spec(
        "cnn-continuity",
        "Self-training CNN with a spatial-continuity loss, optional scribbles (Kim 2020).",
        (*_common(), SIMILARITY, CONTINUITY, SCRIBBLES, SCRIBBLE_WEIGHT),
        "Kim, Kanezaki & Tanaka, IEEE TIP 2020",
        # similarity + fixed-weight spatial continuity (+ scribbles)
        weighting="fixed",
    ),
    _spec(
        "cnn-fsf",
        "Kim 2020 with continuity weight q'/p each iteration (feature similarity focus).",
        (*_common(), SIMILARITY, _p(), SCRIBBLES, SCRIBBLE_WEIGHT),
        "Guermazi, Ksantini & Khan, 'A Dynamically Weighted Loss Function for "
        "Unsupervised Image Segmentation', FSF",
        # feature similarity focus: continuity weight q'/p each iteration
        weighting="fsf",
    ),
    _spec(
        "cnn-scf",
        "Kim 2020 with continuity weight p/q' each iteration (spatial continuity focus).",
        (*_common(), SIMILARITY, _p(50.0), SCRIBBLES, SCRIBBLE_WEIGHT),
        "Guermazi, Ksantini & Khan, 'A Dynamically Weighted Loss Function for "
        "Unsupervised Image Segmentation', SCF",
        # spatial continuity focus: continuity weight p/q' each iteration
        weighting="scf",
    ),
    _spec(
        "cnn+kmeans",
        "Ensemble: train the CNN with cnn's settings, then k-means (n_clusters) over its "
        "hidden per-pixel features, the map its 1x1 classifier reads; each graph "
        "superpixel then takes its most frequent class.",
        (
            *_RECOMMENDED_TRAINING,
            *slic(),
            Param("n_clusters", 6, "int", "Classes k-means makes of the features.", min=1, max=256),
            Param(
                "max_samples",
                200_000,
                "int",
                "Pixels used to fit k-means; all pixels are then assigned.",
                min=100,
                max=50_000_000,
            ),
        ),
        "Boinpally, Mehta & Shukla, 'Image Segmentation using Unsupervised Learning' "
        "(ensemble named there, defined here)",
        # classes cleaned by superpixels, never the region merge: the user chose a
        # number of classes
        refine_output=True,
        merge_threshold=0.0,
    ),
)
