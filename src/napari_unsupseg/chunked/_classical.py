"""k-means and GMM on a lazy image: fitted on a strided sample, assigned chunk by chunk.

The in-memory path fits on ``max_samples`` pixels drawn at random from the whole image;
here they are drawn (with the seed) from a strided sample of at most four times as many
pixels, so that the image is read once, in chunks. Assigning a pixel needs no context.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._cnn import ids_by_frequency
from ._prepare import strided_sample

CHUNKABLE = ("kmeans", "gmm")


@dataclass
class ClusterPredictor:
    model: object
    class_ids: np.ndarray
    #: the mixture takes (features, pixels) columns, k-means (pixels, features) rows
    feature_major: bool = False

    def depth(self, spatial_ndim: int) -> tuple[int, ...]:
        return (0,) * spatial_ndim

    def __call__(self, block: np.ndarray, origin=None) -> np.ndarray:
        from .._threads import pinned_threads

        points = block.reshape(-1, block.shape[-1])
        if self.feature_major:
            points = np.ascontiguousarray(points.T, dtype=np.float32)
        with pinned_threads(1):
            labels = self.model.predict(points)
        return self.class_ids[labels].reshape(block.shape[:-1])


def train_clusters(method: str, features, params: dict, *, seed, reporter) -> ClusterPredictor:
    from .._threads import pinned_threads
    from ..clustering import fit_gmm, fit_kmeans, sample_points

    if method not in CHUNKABLE:
        raise ValueError(
            f"method {method!r} cannot run chunk by chunk (its segments are not local); "
            f"lazy images take {', '.join(CHUNKABLE)} or a CNN method"
        )
    if params.get("spatial_weight", 0):
        raise ValueError("spatial_weight must be 0 on lazy (chunked) images")
    sample = strided_sample(features, 4 * params["max_samples"])
    reporter.update(0, 1, stage=f"fitting {method}")
    with pinned_threads(1):
        if method == "kmeans":
            model = fit_kmeans(sample, params["n_clusters"], seed, params["max_samples"])
            n = int(model.n_clusters)
            ids = ids_by_frequency(model.predict(sample), n)
        else:  # as the in-memory gmm: EM on max_samples of the pixels, float32
            sample = sample_points(sample, params["max_samples"], seed)
            model, _, _ = fit_gmm(
                sample, params["n_components"], params["covariance_type"],
                params["reg_covar"], seed,
            )  # fmt: skip
            n = int(model.n_components)
            ids = ids_by_frequency(model.predict(np.ascontiguousarray(sample.T)), n)
    return ClusterPredictor(model, ids, feature_major=method == "gmm")
