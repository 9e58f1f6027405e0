"""Entry points of the CNN methods named in :mod:`napari_unsupseg.cnn.specs`.

Each fixes what makes its method (refinement, weighting) and passes its parameters
to :func:`napari_unsupseg.cnn.engine.run_cnn`.
"""

from __future__ import annotations

from .engine import run_cnn


def cnn(features, *, seed, device, reporter, **params):
    """The recommended configuration: every knob of the 2020 family is a parameter, and
    the superpixels that refine the targets also clean the final labels."""
    return run_cnn(
        features, seed=seed, device=device, reporter=reporter, refine_output=True, **params
    )


def cnn_superpixel(features, *, seed, device, reporter, **params):
    """Kanezaki (2018): cross-entropy against superpixel-refined labels, nothing else."""
    return run_cnn(
        features,
        seed=seed,
        device=device,
        reporter=reporter,
        refinement="slic",
        weighting="none",
        **params,
    )


def cnn_continuity(features, *, seed, device, reporter, **params):
    """Kim et al. (2020): similarity + fixed-weight spatial continuity (+ scribbles)."""
    return run_cnn(
        features, seed=seed, device=device, reporter=reporter, weighting="fixed", **params
    )


def cnn_fsf(features, *, seed, device, reporter, **params):
    """Seed 003, feature similarity focus: continuity weight q'/p each iteration."""
    return run_cnn(features, seed=seed, device=device, reporter=reporter, weighting="fsf", **params)


def cnn_scf(features, *, seed, device, reporter, **params):
    """Seed 003, spatial continuity focus: continuity weight p/q' each iteration."""
    return run_cnn(features, seed=seed, device=device, reporter=reporter, weighting="scf", **params)


def cnn_kmeans(features, *, seed, device, reporter, **params):
    """Train as ``cnn``, then k-means over the network's hidden per-pixel features; the
    final superpixels take their most frequent class (never the region merge: the
    user chose a number of classes)."""
    return run_cnn(
        features, seed=seed, device=device, reporter=reporter, refine_output=True, **params
    )
