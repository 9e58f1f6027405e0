"""Classical segmenters on pixel features: k-means, GMM, Felzenszwalb, GMM+k-means.

They take the normalised channel-last features that :func:`napari_unsupseg.segment`
prepares. Clusterings are fitted on at most ``max_samples`` pixels drawn with the
seed, then every pixel is assigned, so a 4096×4096 image costs seconds, not minutes.
"""

from __future__ import annotations

import numpy as np

from ._progress import Reporter
from ._spec import MethodSpec, Param
from .clustering import fit_gmm, fit_kmeans, predict_chunked, sample_points
from .mixture import CHUNK_PIXELS, distinct_rows

SPATIAL_WEIGHT = Param(
    "spatial_weight",
    0.0,
    "float",
    "Weight of pixel position against colour (0 = colour only); higher gives compact regions.",
    min=0.0,
    max=100.0,
)
MAX_SAMPLES = Param(
    "max_samples",
    200_000,
    "int",
    "Pixels used to fit the clustering; all pixels are then assigned.",
    min=100,
    max=50_000_000,
)


def pixel_features(features: np.ndarray, spatial_weight: float) -> np.ndarray:
    """Flatten to (pixels, channels), with scaled coordinates appended if asked."""
    flat = features.reshape(-1, features.shape[-1])
    if spatial_weight <= 0:
        return flat
    spatial = features.shape[:-1]
    scale = spatial_weight / max(spatial)
    grids = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in spatial], indexing="ij")
    coords = np.stack([g.ravel() * np.float32(scale) for g in grids], axis=1)
    return np.concatenate([flat, coords], axis=1)


def _feature_major_chunks(points: np.ndarray):
    """(start, stop, chunk as contiguous (features, pixels)) over all of ``points``."""
    for start in range(0, points.shape[0], CHUNK_PIXELS):
        stop = min(start + CHUNK_PIXELS, points.shape[0])
        yield start, stop, np.ascontiguousarray(points[start:stop].T)


def kmeans(features, *, seed, device, reporter: Reporter, n_clusters, spatial_weight, max_samples):
    points = pixel_features(features, spatial_weight)
    reporter.update(0, 2, stage="fitting k-means")
    model = fit_kmeans(points, n_clusters, seed, max_samples)
    reporter.update(1, 2, stage="assigning pixels")
    labels = predict_chunked(model, points)
    reporter.update(2, 2, n_labels=int(model.n_clusters), stage="done")
    return labels.reshape(features.shape[:-1])


def gmm(
    features,
    *,
    seed,
    device,
    reporter: Reporter,
    n_components,
    covariance_type,
    reg_covar,
    spatial_weight,
    max_samples,
):
    points = pixel_features(features, spatial_weight)
    reporter.update(0, 2, stage="fitting GMM")
    sample = sample_points(points, max_samples, seed)
    mixture, _, _ = fit_gmm(sample, n_components, covariance_type, reg_covar, seed)
    reporter.update(1, 2, stage="assigning pixels")
    labels = np.empty(points.shape[0], dtype=np.int32)
    for start, stop, chunk in _feature_major_chunks(points):
        labels[start:stop] = mixture.predict(chunk)
    reporter.update(2, 2, n_labels=mixture.n_components, stage="done")
    return labels.reshape(features.shape[:-1])


def gmm_kmeans(
    features,
    *,
    seed,
    device,
    reporter: Reporter,
    n_components,
    n_clusters,
    covariance_type,
    reg_covar,
    spatial_weight,
    max_samples,
):
    """k-means over GMM posteriors: merges mixture components that explain the same
    pixels, so a GMM with many components yields fewer, softer-bounded regions. Both
    are fitted on the same seeded sample; every pixel's posteriors are then computed
    chunk by chunk and given the nearest k-means centre, never held all at once."""
    from sklearn.cluster import KMeans

    points = pixel_features(features, spatial_weight)
    reporter.update(0, 3, stage="fitting GMM")
    sample = sample_points(points, max_samples, seed)
    mixture, distinct, counts = fit_gmm(sample, n_components, covariance_type, reg_covar, seed)
    reporter.update(1, 3, stage="fitting k-means on posteriors")
    posteriors = mixture.predict_proba(np.ascontiguousarray(distinct.T)).T
    # posteriors of far-away colours are exactly one-hot in float32: many rows are equal
    posteriors, merged = distinct_rows(posteriors, counts)
    model = KMeans(n_clusters=min(n_clusters, posteriors.shape[0]), n_init=3, random_state=seed)
    model.fit(posteriors, sample_weight=merged)
    reporter.update(2, 3, stage="assigning pixels")
    labels = np.empty(points.shape[0], dtype=np.int32)
    for start, stop, chunk in _feature_major_chunks(points):
        labels[start:stop] = model.predict(mixture.predict_proba(chunk).T)
    reporter.update(3, 3, n_labels=int(model.n_clusters), stage="done")
    return labels.reshape(features.shape[:-1])


def felzenszwalb(features, *, seed, device, reporter: Reporter, scale, sigma, min_size):
    """Felzenszwalb–Huttenlocher graph segmentation (scikit-image), plane by plane for
    stacks; ids are offset per plane, since the method has no notion of a volume."""
    from .superpixels import graph_superpixels

    def on_plane(index, n_planes):
        reporter.update(index, n_planes, stage="graph segmentation")

    ids, n_ids = graph_superpixels(
        features[None], scale, min_size, sigma=sigma, max_pixels=None, on_plane=on_plane
    )
    n_planes = int(np.prod(features.shape[:-3], dtype=int))
    reporter.update(n_planes, n_planes, n_labels=n_ids, stage="done")
    return ids[0]


def kmeans_estimate(spatial_shape, n_channels: int, params, device="auto") -> int:
    """Peak bytes of k-means, generously rounded: per-pixel float64 copies of the
    features (plus coordinates when ``spatial_weight`` > 0), distances, int labels."""
    columns = _columns(spatial_shape, n_channels, params)
    return int(np.prod(spatial_shape)) * (3 * 8 * columns + 8)


def felzenszwalb_estimate(spatial_shape, n_channels: int, params, device="auto") -> int:
    """Felzenszwalb works plane by plane on float64 and its graph."""
    plane = int(np.prod(spatial_shape[-2:]))
    return int(np.prod(spatial_shape)) * 16 + plane * (8 * n_channels * 3 + 8 * 4 * 4)


def gmm_estimate(spatial_shape, n_channels: int, params, device="auto") -> int:
    return _mixture_estimate(spatial_shape, n_channels, params, clusters=0)


def gmm_kmeans_estimate(spatial_shape, n_channels: int, params, device="auto") -> int:
    return _mixture_estimate(spatial_shape, n_channels, params, int(params["n_clusters"]))


def _mixture_estimate(spatial_shape, n_channels: int, params, clusters: int) -> int:
    """gmm and gmm+kmeans (here and in mixture.py): whole-image arrays are only the
    float32 features (and a transient copy), the coordinates when ``spatial_weight`` >
    0, the int32 labels and the final renumbering's int64 temporaries (about 33 bytes a
    pixel measured, 40 counted). The fits see at most ``max_samples`` pixels and the
    posteriors exist for one chunk of pixels at a time."""
    pixels = int(np.prod(spatial_shape))
    columns = _columns(spatial_shape, n_channels, params)
    components = int(params["n_components"])
    per_pixel = 2 * 4 * n_channels + 4 + 40
    if columns > n_channels:  # pixel_features: coordinate grids, then the joined copy
        per_pixel += 3 * 4 * columns
    fitted = min(pixels, int(params["max_samples"]))
    per_fitted = 16 * columns + 16 * components + 8 * clusters + 64  # sample, EM, k-means
    per_chunk = 8 * components + 12 * columns + 8 * clusters + 16  # posteriors, distances
    return pixels * per_pixel + fitted * per_fitted + min(pixels, CHUNK_PIXELS) * per_chunk


def _columns(spatial_shape, n_channels: int, params) -> int:
    return n_channels + (len(spatial_shape) if params["spatial_weight"] else 0)


def _reg_covar(default: float) -> Param:
    return Param(
        "reg_covar",
        default,
        "float",
        "Added to every variance (features are scaled to 0..1): how tight a component may "
        "be; larger gives fewer speckled regions.",
        min=1e-8,
        max=1.0,
    )


_COVARIANCE = Param(
    "covariance_type", "full", "str", "Shape of each Gaussian: full, tied, diag or spherical.",
    choices=("full", "tied", "diag", "spherical"),
)  # fmt: skip


def _spec(name, run, estimate, description, params, paper):
    return MethodSpec(
        name, description, run, estimate, params, paper=paper, spatial_ndims=(2, 3, 4)
    )


METHODS = (
    _spec(
        "kmeans",
        kmeans,
        kmeans_estimate,
        "k-means clustering of pixel colours (optionally positions).",
        (
            Param("n_clusters", 5, "int", "Number of clusters (colours) to find.", min=1, max=256),
            SPATIAL_WEIGHT,
            MAX_SAMPLES,
        ),
        "MacQueen 1967; scikit-learn KMeans",
    ),
    _spec(
        "gmm",
        gmm,
        gmm_estimate,
        "Gaussian mixture model of pixel colours (optionally positions).",
        (
            Param("n_components", 5, "int", "Number of Gaussian components.", min=1, max=256),
            _COVARIANCE,
            _reg_covar(3e-4),
            SPATIAL_WEIGHT,
            MAX_SAMPLES,
        ),
        "Dempster, Laird & Rubin, JRSS B 1977 (EM), as scikit-learn's GaussianMixture",
    ),
    _spec(
        "felzenszwalb",
        felzenszwalb,
        felzenszwalb_estimate,
        "Felzenszwalb–Huttenlocher graph segmentation (per plane for stacks).",
        (
            Param("scale", 100.0, "float", "Higher means larger segments.", min=0.001, max=1e6),
            Param(
                "sigma",
                0.8,
                "float",
                "Gaussian smoothing before segmenting (pixels).",
                min=0.0,
                max=50.0,
            ),
            Param("min_size", 50, "int", "Smallest segment kept (pixels).", min=1, max=10**9),
        ),
        "Felzenszwalb & Huttenlocher, IJCV 2004",
    ),
    _spec(
        "gmm+kmeans",
        gmm_kmeans,
        gmm_kmeans_estimate,
        "Ensemble: k-means over the posteriors of a many-component GMM.",
        (
            Param("n_components", 10, "int", "Components of the GMM.", min=1, max=256),
            Param(
                "n_clusters", 5, "int", "Clusters k-means makes of the posteriors.", min=1, max=256
            ),
            _COVARIANCE,
            _reg_covar(1e-3),
            SPATIAL_WEIGHT,
            MAX_SAMPLES,
        ),
        "Boinpally, Mehta & Shukla, 'Image Segmentation using Unsupervised Learning' "
        "(ensemble named there, defined here)",
    ),
)
