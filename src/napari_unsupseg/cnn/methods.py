"""Entry points of the CNN methods named in :mod:`napari_unsupseg.cnn.specs`.

Each fixes what makes its method (refinement, weighting, the final cleanup), listed in
:data:`FIXED` so that :func:`napari_unsupseg.segment_series` runs the same method, and
passes its parameters to :func:`napari_unsupseg.cnn.engine.run_cnn`.
"""

from __future__ import annotations

from .engine import run_cnn

#: per entry point, the engine settings that make the method (not user parameters)
FIXED = {
    # the superpixels that refine the targets also clean the final labels
    "cnn": {"refine_output": True},
    # Kanezaki (2018): cross-entropy against SLIC-refined labels, nothing else
    "cnn_superpixel": {"refinement": "slic", "weighting": "none"},
    # Kim et al. (2020): similarity + fixed-weight spatial continuity (+ scribbles)
    "cnn_continuity": {"weighting": "fixed"},
    # Guermazi, Ksantini & Khan, feature similarity focus: continuity weight q'/p each iteration
    "cnn_fsf": {"weighting": "fsf"},
    # Guermazi, Ksantini & Khan, spatial continuity focus: continuity weight p/q' each iteration
    "cnn_scf": {"weighting": "scf"},
    # train as cnn, k-means over the hidden features, classes cleaned by superpixels
    # (never the region merge: the user chose a number of classes)
    "cnn_kmeans": {"refine_output": True},
}


def _run(entry: str, features, seed, device, reporter, params):
    return run_cnn(features, seed=seed, device=device, reporter=reporter, **FIXED[entry], **params)


def cnn(features, *, seed, device, reporter, **params):
    """The recommended configuration: every knob of the 2020 family is a parameter."""
    return _run("cnn", features, seed, device, reporter, params)


def cnn_superpixel(features, *, seed, device, reporter, **params):
    """Kanezaki (2018)."""
    return _run("cnn_superpixel", features, seed, device, reporter, params)


def cnn_continuity(features, *, seed, device, reporter, **params):
    """Kim et al. (2020)."""
    return _run("cnn_continuity", features, seed, device, reporter, params)


def cnn_fsf(features, *, seed, device, reporter, **params):
    """Guermazi, Ksantini & Khan's feature similarity focus (DynaSeg FSF)."""
    return _run("cnn_fsf", features, seed, device, reporter, params)


def cnn_scf(features, *, seed, device, reporter, **params):
    """Guermazi, Ksantini & Khan's spatial continuity focus (DynaSeg SCF)."""
    return _run("cnn_scf", features, seed, device, reporter, params)


def cnn_kmeans(features, *, seed, device, reporter, **params):
    """Train as ``cnn``, then k-means over the network's hidden per-pixel features."""
    return _run("cnn_kmeans", features, seed, device, reporter, params)
