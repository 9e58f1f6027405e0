"""Parameter specs of the baselines IIC, W-Net and DIC (no torch import here).

Defaults are small and fast, chosen by measurement on the BSDS500 validation split
(docs/benchmarks.md); the papers' settings are documented alternatives on each
method's page (docs/methods/).
"""

from __future__ import annotations

from .._spec import MethodSpec, Param
from ..cnn.specs import graph_scale, slic
from . import dic, iic, wnet
from .memory_estimate import dic_estimate, iic_estimate, wnet_estimate
from .runner import make_entry


def _max_iter(default):
    return Param("max_iter", default, "int", "Training iterations.", min=1, max=100_000)


def _train_size(default):
    return Param(
        "train_size",
        default,
        "int",
        "Train on a copy with at most this many pixels per plane (0: full size); "
        "labels are made at full size.",
        min=0,
        max=1 << 31,
    )


def _lr(default, optimizer):
    return Param("lr", default, "float", f"{optimizer} learning rate.", min=1e-7, max=10.0)


def _width(default, paper):
    return Param(
        "width",
        default,
        "int",
        f"Channels of the network's first layer; deeper layers have multiples (paper: {paper}).",
        min=1,
        max=512,
    )


TRAIN_PLANES = Param(
    "train_planes",
    8,
    "int",
    "Stacks: evenly spaced planes to train on (0: all); every plane is labelled.",
    min=0,
    max=100_000,
)


_OVERCLUSTER = Param(
    "overcluster", 3, "int",
    "Overclustering head: this many times n_clusters classes (0 or 1: none).", min=0, max=20,
)  # fmt: skip
_RADIUS = Param(
    "radius", 5, "int", "Normalised cut: pixels closer than this are linked (paper: 5).",
    min=1, max=20,
)  # fmt: skip


def _spec(module, estimate, description, params, paper, training, **fixed):
    """A baseline; ``training``: (max_iter, learning rate, optimizer, train_size)."""
    run, series = make_entry(module)
    max_iter, lr, optimizer, train_size = training
    params = (*params, _max_iter(max_iter), _lr(lr, optimizer), _train_size(train_size))
    return MethodSpec(
        name=run.__name__,
        description=description,
        run=run,
        estimate=estimate,
        params=(*params, TRAIN_PLANES),
        fixed=fixed,
        series=series,
        uses_torch=True,
        iterative=True,
        paper=paper,
        spatial_ndims=(2, 3),
    )


IIC = _spec(
    iic,
    iic_estimate,
    "Invariant Information Clustering: a network trained on the image to maximise the "
    "mutual information between the classes of neighbouring pixels in the image and "
    "in a jittered, flipped copy.",
    (
        Param("n_clusters", 10, "int", "Classes of the main head = most labels.", min=2, max=256),
        _OVERCLUSTER,
        Param(
            "n_subheads",
            5,
            "int",
            "Heads trained side by side; the main one with the lowest loss labels.",
            min=1,
            max=20,
        ),
        Param(
            "displacement",
            1,
            "int",
            "Pixels paired: every pixel with those up to this far in the copy.",
            min=0,
            max=50,
        ),
        Param(
            "entropy_weight",
            2.0,
            "float",
            "Weight of the classes' balance against their agreement (1: the mutual "
            "information; more keeps every class in use).",
            min=0.0,
            max=10.0,
        ),
        Param(
            "n_layers",
            2,
            "int",
            "3x3 convolution layers of the paper's trunk used (6: all; 3 and up include "
            "its 2x2 pooling, 5 and up its dilated layers).",
            min=1,
            max=6,
        ),
        _width(32, 64),
    ),
    "Ji, Henriques & Vedaldi, ICCV 2019",
    (40, 0.005, "Adam", 10_000),
    min_labels=0,  # no label-count stop: IIC trains its iterations
)

WNET = _spec(
    wnet,
    wnet_estimate,
    "W-Net: two U-Nets trained on the image as an autoencoder, alternately on a soft "
    "normalised cut of the encoder's classes and on the reconstruction error; then a "
    "CRF and hierarchical merging of the regions.",
    (
        Param("n_classes", 8, "int", "Classes of the encoder = most labels.", min=2, max=256),
        _width(8, 64),
        Param("depth", 2, "int", "Poolings of each U-Net (paper: 4).", min=1, max=6),
        _RADIUS,
        Param(
            "sigma_i",
            10.0,
            "float",
            "Normalised cut: colour difference scale, on a 0..255 scale (paper: 10).",
            min=0.1,
            max=1000.0,
        ),
        Param(
            "sigma_x",
            4.0,
            "float",
            "Normalised cut: distance scale in pixels (paper: 4).",
            min=0.1,
            max=100.0,
        ),
        Param(
            "crf_iter",
            5,
            "int",
            "Mean-field iterations of the CRF that smooths the classes (0: no CRF).",
            min=0,
            max=50,
        ),
        Param(
            "merge_threshold",
            1.5,
            "float",
            "Hierarchical merging: join touching regions while their weakest boundary's "
            "mean gradient (% of the range) is below this (0: no merging). Single "
            "images only: stacks and lists keep the classes.",
            min=0.0,
            max=1000.0,
        ),
    ),
    "Xia & Kulis, arXiv 2017",
    (50, 0.01, "Adam", 20_000),
    min_labels=0,  # no label-count stop: W-Net trains its iterations
)

DIC = _spec(
    dic,
    dic_estimate,
    "Deep Image Clustering: a feature transformation U-Net and a clustering subnetwork "
    "(EM over learnt cluster centres) trained on the image against its own labels "
    "refined by superpixels.",
    (
        Param(
            "n_channels",
            32,
            "int",
            "Features the clustering subnetwork outputs = most labels (paper code: 100).",
            min=2,
            max=1024,
        ),
        _width(16, 64),
        Param(
            "n_centres",
            32,
            "int",
            "Cluster centres of the EM steps (paper code: 32).",
            min=1,
            max=1024,
        ),
        Param("em_steps", 3, "int", "EM steps per forward pass (paper code: 3).", min=1, max=20),
        Param(
            "superpixels",
            "graph",
            "str",
            "Superpixels that refine the targets and the final labels: graph "
            "(Felzenszwalb) or slic.",
            choices=("graph", "slic"),
        ),
        graph_scale(relevant_when=("superpixels", ("graph",))),
        *slic(1000, 10.0, relevant_when=("superpixels", ("slic",))),
        Param(
            "min_labels",
            3,
            "int",
            "Stop when the label count falls to this (0: never; paper code: 3).",
            min=0,
            max=1024,
        ),
    ),
    "Zhou & Wei, IEEE Access 2020",
    (10, 0.05, "SGD (momentum 0.9)", 20_000),
)

METHODS = (IIC, WNET, DIC)
