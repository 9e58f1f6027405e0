"""The numpy EM of napari_unsupseg.mixture against scikit-learn's GaussianMixture."""

import numpy as np
import pytest

from napari_unsupseg.mixture import COVARIANCE_TYPES, distinct_rows, fit_mixture

N_COMPONENTS = 4


def _blobs(seed=0, per_blob=3000):
    """Four well-separated elongated 3D blobs of different spreads, float32."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.2, 0.2, 0.2], [0.8, 0.2, 0.5], [0.3, 0.8, 0.7], [0.8, 0.8, 0.2]])
    shape = np.array([[1.0, 0.3, 0.0], [0.0, 0.5, 0.2], [0.0, 0.0, 1.5]])
    blobs = [
        c + rng.normal(0, 0.02 + 0.01 * i, (per_blob, 3)) @ shape for i, c in enumerate(centres)
    ]
    truth = np.repeat(np.arange(N_COMPONENTS), per_blob)
    return np.concatenate(blobs).astype(np.float32), truth


def _as_full(covariances, covariance_type, d=3):
    """scikit-learn's covariances_ for any type as (K, d, d) matrices."""
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (N_COMPONENTS, d, d))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covariances])
    return covariances[:, None, None] * np.eye(d)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_matches_scikit_learn_from_the_same_start(covariance_type):
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    points, _ = _blobs()
    start = KMeans(N_COMPONENTS, n_init=1, random_state=0).fit(points).labels_
    ours = fit_mixture(points.T, start, N_COMPONENTS, covariance_type)
    # scikit-learn's "kmeans" start is this same k-means run (n_init=1, same seed).
    theirs = GaussianMixture(
        N_COMPONENTS, covariance_type=covariance_type, reg_covar=1e-5, random_state=0
    ).fit(points.astype(np.float64))

    assert ours.converged and theirs.converged_
    assert ours.log_likelihood == pytest.approx(theirs.lower_bound_, abs=1e-4)
    np.testing.assert_allclose(ours.weights, theirs.weights_, atol=1e-5)
    np.testing.assert_allclose(ours.means, theirs.means_, atol=1e-5)
    expected = _as_full(theirs.covariances_, covariance_type)
    np.testing.assert_allclose(ours.covariances, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(ours.predict(points.T), theirs.predict(points))
    posteriors = ours.predict_proba(points.T).T
    np.testing.assert_allclose(posteriors, theirs.predict_proba(points), atol=1e-4)


def test_recovers_the_blobs_from_a_poor_start():
    points, truth = _blobs(seed=1)
    start = np.random.default_rng(0).integers(0, N_COMPONENTS, truth.size)  # random partition
    mixture = fit_mixture(points.T, start, N_COMPONENTS, "full", max_iter=300)
    labels = mixture.predict(points.T)
    # every blob is one component and every component one blob
    pairs = {(int(t), int(p)) for t, p in zip(truth, labels, strict=True)}
    assert len(pairs) == N_COMPONENTS
    assert len({p for _, p in pairs}) == N_COMPONENTS


def test_posteriors_are_probabilities():
    points, _ = _blobs()
    start = np.arange(points.shape[0]) % N_COMPONENTS
    posteriors = fit_mixture(points.T, start, N_COMPONENTS, "diag", max_iter=5).predict_proba(
        points.T
    )
    assert posteriors.dtype == np.float32 and posteriors.shape == (N_COMPONENTS, points.shape[0])
    np.testing.assert_allclose(posteriors.sum(axis=0), 1.0, atol=1e-5)
    assert posteriors.min() >= 0


def test_stops_at_max_iter_and_says_so():
    points, truth = _blobs()
    start = np.random.default_rng(0).integers(0, N_COMPONENTS, truth.size)
    mixture = fit_mixture(points.T, start, N_COMPONENTS, "full", max_iter=2)
    assert mixture.n_iter == 2 and not mixture.converged


def test_result_does_not_depend_on_blas_threads():
    from threadpoolctl import threadpool_limits

    points, _ = _blobs(per_blob=20_000)
    start = np.arange(points.shape[0]) % N_COMPONENTS
    with threadpool_limits(limits=1):
        one = fit_mixture(points.T, start, N_COMPONENTS, "full", max_iter=10)
    with threadpool_limits(limits=2):
        two = fit_mixture(points.T, start, N_COMPONENTS, "full", max_iter=10)
    np.testing.assert_array_equal(one.means, two.means)
    np.testing.assert_array_equal(one.covariances, two.covariances)


def test_unknown_covariance_type_is_refused():
    points, truth = _blobs()
    with pytest.raises(ValueError, match="covariance_type"):
        fit_mixture(points.T, truth, N_COMPONENTS, "banana")


def _nearest_corner(points):
    """A fixed partition for a start: the nearest of four corners of the colour cube."""
    corners = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    return ((points[:, None, :] - corners) ** 2).sum(axis=2).argmin(axis=1)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_distinct_rows_weighted_by_counts_fit_as_every_row(covariance_type):
    points, _ = _blobs()
    repeated = np.concatenate([points, points[:5000], points[:100]])  # some rows 2 or 3 times
    rows, counts = distinct_rows(repeated)
    assert rows.shape == points.shape and counts.sum() == repeated.shape[0]
    assert sorted(np.bincount(counts)[1:]) == [100, 4900, 7000]

    every = fit_mixture(repeated.T, _nearest_corner(repeated), N_COMPONENTS, covariance_type)
    weighted = fit_mixture(
        rows.T, _nearest_corner(rows), N_COMPONENTS, covariance_type, weights=counts
    )
    assert weighted.n_iter == every.n_iter
    np.testing.assert_allclose(weighted.weights, every.weights, atol=1e-6)
    np.testing.assert_allclose(weighted.means, every.means, atol=1e-6)
    np.testing.assert_allclose(weighted.covariances, every.covariances, rtol=1e-4, atol=1e-8)


def test_distinct_rows_of_many_columns():
    """Twelve columns of 1000 values each overflow a combined int64 key: the keys are
    renumbered on the way, and the rows and counts stay exact."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 1000, (500, 12)).astype(np.float32)
    points = base[rng.integers(0, 500, 5000)]
    rows, counts = distinct_rows(points)
    expected, expected_counts = np.unique(points, axis=0, return_counts=True)
    order = np.lexsort(rows.T[::-1])  # np.unique's order: lexicographic by row
    np.testing.assert_array_equal(rows[order], expected)
    np.testing.assert_array_equal(counts[order], expected_counts)
