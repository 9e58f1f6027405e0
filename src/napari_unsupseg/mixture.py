"""Gaussian mixtures fitted by EM on pixel features, in float32 numpy.

Expectation–maximisation as in A. Dempster, N. Laird & D. Rubin, "Maximum likelihood
from incomplete data via the EM algorithm" (JRSS B, 1977), with the parametrisation of
scikit-learn's ``GaussianMixture`` (the same covariance types, regularisation and
stopping rule), which the tests compare it with.

Why not scikit-learn's: pixels have few channels (3 for RGB), where its float64 copies
and general matrix code cost more than the arithmetic. Here pixels are kept
feature-major, one contiguous float32 row per channel, so every step is a few
elementwise passes and pairwise sums over rows: fast on millions of pixels, and free of
BLAS calls, so the result does not depend on the number of BLAS threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: Pixels labelled at a time: bounds the (components, pixels) posteriors of a big image.
CHUNK_PIXELS = 1 << 18
_LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class Mixture:
    """A fitted mixture; ``precision_cholesky[k]`` is upper triangular with
    ``inv(covariances[k]) == P @ P.T`` (scikit-learn's convention)."""

    weights: np.ndarray  # (K,) float64
    means: np.ndarray  # (K, d) float64
    covariances: np.ndarray  # (K, d, d) float64, full matrices for every type
    precision_cholesky: np.ndarray  # (K, d, d) float64
    n_iter: int
    converged: bool
    log_likelihood: float = -np.inf  # mean per point, at the last E-step

    @property
    def n_components(self) -> int:
        return self.weights.shape[0]

    def weighted_log_prob(self, columns: np.ndarray) -> np.ndarray:
        """(K, n) float32: log(weight_k) + log N(x | component k) for pixels ``columns``
        given feature-major, shape (d, n)."""
        out = np.empty((self.n_components, columns.shape[1]), dtype=np.float32)
        for k in range(self.n_components):
            _log_gaussian(columns, self.means[k], self.precision_cholesky[k], out[k])
            out[k] += np.float32(np.log(self.weights[k]))
        return out

    def predict(self, columns: np.ndarray) -> np.ndarray:
        """Most likely component of each pixel, int32."""
        return self.weighted_log_prob(columns).argmax(axis=0).astype(np.int32)

    def predict_proba(self, columns: np.ndarray) -> np.ndarray:
        """(K, n) float32 posteriors; each column sums to 1."""
        log_resp = self.weighted_log_prob(columns)
        _normalise_in_place(log_resp)
        return np.exp(log_resp, out=log_resp)


def _log_gaussian(columns, mean, precision_cholesky, out) -> None:
    """out[:] = log N(x | mean, P): -(d log 2π)/2 + log|P| - |(x - mean)ᵀ P|² / 2."""
    d = columns.shape[0]
    centred = [columns[i] - np.float32(mean[i]) for i in range(d)]
    halved = precision_cholesky * np.sqrt(0.5)  # |(x - mean)ᵀ P|² / 2 = |(x - mean)ᵀ P'|²
    log_det = float(np.sum(np.log(np.diag(precision_cholesky))))
    out[:] = np.float32(log_det - 0.5 * d * _LOG_2PI)
    projected = np.empty_like(out)
    for j in range(d):  # projected = j-th coordinate of (x - mean)ᵀ P'; P' is upper triangular
        np.multiply(centred[j], np.float32(halved[j, j]), out=projected)
        for i in range(j):
            if halved[i, j] != 0:  # diag and spherical: skip the zeros
                projected += centred[i] * np.float32(halved[i, j])
        out -= np.square(projected, out=projected)


def _normalise_in_place(log_prob: np.ndarray) -> np.ndarray:
    """Turn (K, n) weighted log-probabilities into log-posteriors in place; return the
    per-pixel log-likelihood (logsumexp over components), float32."""
    peak = log_prob.max(axis=0)
    total = np.zeros_like(peak)
    for row in log_prob:
        total += np.exp(row - peak)
    log_norm = np.log(total, out=total)
    log_norm += peak
    log_prob -= log_norm
    return log_norm


def _m_step(columns, resp, covariance_type: str, reg_covar: float):
    """Weights, means and full covariance matrices from (K, n) responsibilities
    (already multiplied by each point's weight)."""
    d = columns.shape[0]
    n_components = resp.shape[0]
    # float32 sums over contiguous rows are pairwise: error about log2(n) float32 steps
    counts = resp.sum(axis=1).astype(np.float64) + 10 * np.finfo(np.float32).eps
    means = np.empty((n_components, d))
    covariances = np.empty((n_components, d, d))
    for k in range(n_components):
        means[k] = [float((resp[k] * columns[i]).sum()) / counts[k] for i in range(d)]
        centred = [columns[i] - np.float32(means[k, i]) for i in range(d)]
        weighted = [resp[k] * c for c in centred]
        for i in range(d):
            for j in range(i + 1):
                value = float((weighted[i] * centred[j]).sum()) / counts[k]
                covariances[k, i, j] = covariances[k, j, i] = value
    if covariance_type == "tied":
        tied = np.einsum("k,kij->ij", counts, covariances) / counts.sum()
        covariances[:] = tied
    elif covariance_type == "diag":
        covariances *= np.eye(d)
    elif covariance_type == "spherical":
        variances = np.trace(covariances, axis1=1, axis2=2) / d
        covariances = variances[:, None, None] * np.eye(d)
    covariances += reg_covar * np.eye(d)
    return counts / counts.sum(), means, covariances


def _precision_cholesky(covariances: np.ndarray) -> np.ndarray:
    try:
        lower = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError as error:
        raise ValueError(
            "the Gaussian mixture failed: a component's covariance is not positive "
            "definite; try fewer components or covariance_type='diag' or 'spherical'"
        ) from error
    eye = np.broadcast_to(np.eye(covariances.shape[-1]), covariances.shape)
    return np.linalg.solve(lower, eye).transpose(0, 2, 1)


def distinct_rows(points: np.ndarray, weights: np.ndarray | None = None):
    """The distinct rows of ``points`` (n, features), in a fixed order, and their
    total ``weights`` (default: how often each occurs). Fitting them with these totals
    as weights is fitting every row: a 481x321 photo has a tenth to a half as many
    distinct colours as pixels."""
    key = np.zeros(points.shape[0], dtype=np.int64)
    span = 1  # key < span
    for column in points.T:
        values, codes = np.unique(column, return_inverse=True)
        if span * values.size >= 2**62:  # re-number the keys so far: span <= n
            _, key = np.unique(key, return_inverse=True)
            span = int(key.max()) + 1
        key = key * values.size + codes
        span *= values.size
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return points[first], np.bincount(inverse, weights=weights, minlength=first.size)


def fit_mixture(
    columns: np.ndarray,
    initial_labels: np.ndarray,
    n_components: int,
    covariance_type: str = "full",
    *,
    weights: np.ndarray | None = None,
    reg_covar: float = 1e-5,
    max_iter: int = 100,
    tol: float = 1e-3,
) -> Mixture:
    """EM from a hard partition (``initial_labels`` in 0..n_components-1, e.g. k-means's
    labels, as scikit-learn starts). Stops when the mean log-likelihood per point
    changes by less than ``tol``, or after ``max_iter`` iterations.

    ``columns`` is (d, n) float32: one row per feature, one column per point;
    ``weights`` (n,) counts each point that many times (e.g. :func:`distinct_rows`).
    """
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}")
    columns = np.ascontiguousarray(columns, dtype=np.float32)
    n = columns.shape[1]
    weights = np.ones(n, np.float32) if weights is None else np.asarray(weights, np.float32)
    resp = np.zeros((n_components, n), dtype=np.float32)
    resp[initial_labels, np.arange(n)] = weights
    parameters = _m_step(columns, resp, covariance_type, reg_covar)
    total_weight = weights.sum(dtype=np.float64)
    previous, converged, n_iter = -np.inf, False, 0
    while n_iter < max_iter and not converged:
        n_iter += 1
        current = Mixture(*parameters, _precision_cholesky(parameters[2]), 0, False)
        resp = current.weighted_log_prob(columns)
        log_norm = _normalise_in_place(resp)
        log_likelihood = float(np.sum(log_norm * weights, dtype=np.float64) / total_weight)
        np.exp(resp, out=resp)
        resp *= weights
        parameters = _m_step(columns, resp, covariance_type, reg_covar)
        converged = abs(log_likelihood - previous) < tol
        previous = log_likelihood
    return Mixture(*parameters, _precision_cholesky(parameters[2]), n_iter, converged, previous)
