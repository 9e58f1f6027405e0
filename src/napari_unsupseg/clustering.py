"""The clustering every engine shares: seeded k-means and Gaussian mixtures fitted on
a sample of pixels (the classical methods, cnn+kmeans over the network's features,
the lazy path), then every pixel assigned chunk by chunk."""

from __future__ import annotations

import numpy as np

from .mixture import distinct_rows, fit_mixture

_PREDICT_CHUNK = 1 << 20
#: EM stops when the mean log-likelihood per pixel changes by less than EM_TOL
#: (scikit-learn's rule), or after EM_MAX_ITER iterations.
EM_MAX_ITER = 100
EM_TOL = 1e-3


def sample_points(points: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    if points.shape[0] <= max_samples:
        return points
    rng = np.random.default_rng(seed)
    return points[np.sort(rng.choice(points.shape[0], max_samples, replace=False))]


def _n_clusters(requested: int, points: np.ndarray) -> int:
    """No more clusters than distinct points (sklearn would fail)."""
    distinct = np.unique(points[: min(points.shape[0], 100_000)], axis=0).shape[0]
    return max(1, min(requested, distinct))


def predict_chunked(model, points: np.ndarray) -> np.ndarray:
    out = np.empty(points.shape[0], dtype=np.int32)
    for start in range(0, points.shape[0], _PREDICT_CHUNK):
        out[start : start + _PREDICT_CHUNK] = model.predict(points[start : start + _PREDICT_CHUNK])
    return out


def fit_kmeans(points: np.ndarray, n_clusters: int, seed: int, max_samples: int):
    """k-means fitted on a seeded sample of ``points`` (scikit-learn's Lloyd)."""
    from sklearn.cluster import KMeans

    sample = sample_points(points, max_samples, seed)
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
