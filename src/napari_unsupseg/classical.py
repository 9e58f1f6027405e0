"""Classical segmenters on pixel features: k-means, GMM, Felzenszwalb, GMM+k-means.

They take the normalised channel-last features that :func:`napari_unsupseg.segment`
prepares. Clusterings are fitted on at most ``max_samples`` pixels drawn with the
seed, then every pixel is assigned, so a 4096×4096 image costs seconds, not minutes.
"""

from __future__ import annotations

import numpy as np

from ._progress import Reporter
from ._registry import MethodSpec, Param
from .mixture import CHUNK_PIXELS, distinct_rows, fit_mixture

_PREDICT_CHUNK = 1 << 20
#: EM stops when the mean log-likelihood per pixel changes by less than EM_TOL
#: (scikit-learn's rule), or after EM_MAX_ITER iterations.
EM_MAX_ITER = 100
EM_TOL = 1e-3

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


def pixel_features(features: np.ndarray, spatial_weight: float = 0.0) -> np.ndarray:
    """Flatten to (pixels, channels), with scaled coordinates appended if asked."""
    flat = features.reshape(-1, features.shape[-1])
    if spatial_weight <= 0:
        return flat
    spatial = features.shape[:-1]
    scale = spatial_weight / max(spatial)
    grids = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in spatial], indexing="ij")
    coords = np.stack([g.ravel() * np.float32(scale) for g in grids], axis=1)
    return np.concatenate([flat, coords], axis=1)


def _sample(points: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    if points.shape[0] <= max_samples:
        return points
    rng = np.random.default_rng(seed)
    return points[np.sort(rng.choice(points.shape[0], max_samples, replace=False))]


def _n_clusters(requested: int, points: np.ndarray) -> int:
    """No more clusters than distinct points (sklearn would fail)."""
    distinct = np.unique(points[: min(points.shape[0], 100_000)], axis=0).shape[0]
    return max(1, min(requested, distinct))


def _predict_chunked(model, points: np.ndarray) -> np.ndarray:
    out = np.empty(points.shape[0], dtype=np.int32)
    for start in range(0, points.shape[0], _PREDICT_CHUNK):
        out[start : start + _PREDICT_CHUNK] = model.predict(points[start : start + _PREDICT_CHUNK])
    return out


def fit_kmeans(points: np.ndarray, n_clusters: int, seed: int, max_samples: int):
    """k-means fitted on a seeded sample of ``points`` (scikit-learn's Lloyd)."""
    from sklearn.cluster import KMeans

    sample = _sample(points, max_samples, seed)
    model = KMeans(n_clusters=_n_clusters(n_clusters, sample), n_init=3, random_state=seed)
    return model.fit(sample)


def fit_gmm(
    sample: np.ndarray, n_components: int, covariance_type: str, reg_covar: float, seed: int
):
    """EM on ``sample`` (pixels, features), started as scikit-learn's GaussianMixture
    starts: from the partition of one seeded k-means run. Both fit the distinct rows
    weighted by their counts, which is the same fit, on fewer points.

    Returns the mixture, the distinct rows and their counts."""
    from sklearn.cluster import KMeans

    distinct, counts = distinct_rows(sample)
    n_components = max(1, min(n_components, distinct.shape[0]))
    kmeans = KMeans(n_clusters=n_components, n_init=1, random_state=seed)
    start = kmeans.fit(distinct, sample_weight=counts).labels_
    mixture = fit_mixture(
        distinct.T,
        start,
        n_components,
        covariance_type,
        weights=counts,
        reg_covar=reg_covar,
        max_iter=EM_MAX_ITER,
        tol=EM_TOL,
    )
    return mixture, distinct, counts


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
    labels = _predict_chunked(model, points)
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
    sample = _sample(points, max_samples, seed)
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
    sample = _sample(points, max_samples, seed)
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
    from .cnn.refine import graph_superpixels

    def on_plane(index, n_planes):
        reporter.update(index, n_planes, stage="graph segmentation")

    ids, n_ids = graph_superpixels(
        features[None], scale, min_size, sigma=sigma, max_pixels=None, on_plane=on_plane
    )
    n_planes = int(np.prod(features.shape[:-3], dtype=int))
    reporter.update(n_planes, n_planes, n_labels=n_ids, stage="done")
    return ids[0]


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
    "covariance_type",
    "full",
    "str",
    "Shape of each Gaussian: full, tied, diag or spherical.",
    choices=("full", "tied", "diag", "spherical"),
)

METHODS = (
    MethodSpec(
        name="kmeans",
        description="k-means clustering of pixel colours (optionally positions).",
        entry_point="napari_unsupseg.classical:kmeans",
        params=(
            Param("n_clusters", 5, "int", "Number of clusters (colours) to find.", min=1, max=256),
            SPATIAL_WEIGHT,
            MAX_SAMPLES,
        ),
        paper="MacQueen 1967; scikit-learn KMeans",
        spatial_ndims=(2, 3, 4),
    ),
    MethodSpec(
        name="gmm",
        description="Gaussian mixture model of pixel colours (optionally positions).",
        entry_point="napari_unsupseg.classical:gmm",
        params=(
            Param("n_components", 5, "int", "Number of Gaussian components.", min=1, max=256),
            _COVARIANCE,
            _reg_covar(3e-4),
            SPATIAL_WEIGHT,
            MAX_SAMPLES,
        ),
        paper="Dempster, Laird & Rubin, JRSS B 1977 (EM), as scikit-learn's GaussianMixture",
        spatial_ndims=(2, 3, 4),
    ),
    MethodSpec(
        name="felzenszwalb",
        description="Felzenszwalb–Huttenlocher graph segmentation (per plane for stacks).",
        entry_point="napari_unsupseg.classical:felzenszwalb",
        params=(
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
        paper="Felzenszwalb & Huttenlocher, IJCV 2004",
        spatial_ndims=(2, 3, 4),
    ),
    MethodSpec(
        name="gmm+kmeans",
        description="Ensemble: k-means over the posteriors of a many-component GMM.",
        entry_point="napari_unsupseg.classical:gmm_kmeans",
        params=(
            Param("n_components", 10, "int", "Components of the GMM.", min=1, max=256),
            Param(
                "n_clusters", 5, "int", "Clusters k-means makes of the posteriors.", min=1, max=256
            ),
            _COVARIANCE,
            _reg_covar(1e-3),
            SPATIAL_WEIGHT,
            MAX_SAMPLES,
        ),
        paper=(
            "Boinpally, Mehta & Shukla, 'Image Segmentation using Unsupervised Learning' "
            "(ensemble named there, defined here)"
        ),
        spatial_ndims=(2, 3, 4),
    ),
)
