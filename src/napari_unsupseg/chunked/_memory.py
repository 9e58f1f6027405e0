"""The memory check of a chunked run: one training copy, plus the chunks computed at
once, each with its context, rather than the whole image."""

from __future__ import annotations

import numpy as np


def chunked_estimate(spec, features, params: dict, device, workers: int = 1) -> int:
    """Peak bytes of a chunked run of ``spec`` over the lazy channel-last ``features``:
    the method's own estimate on the training copy and on one grown chunk per worker
    (its input, output and the lazy graph's bookkeeping are in the method's estimate)."""
    from ..cnn.infer import downscaled_shape

    n_channels = int(features.shape[-1])
    chunk = tuple(int(c) + 2 * 80 for c in features.chunksize[:-1])  # context included
    chunk = tuple(min(c, n) for c, n in zip(chunk, features.shape[:-1], strict=True))
    per_chunk = spec.estimate_memory(chunk, n_channels, {**params, "train_size": 0}, device)
    if spec.uses_torch:
        copy = downscaled_shape(tuple(features.shape[:-1]), int(params.get("train_size", 0)))
        training = spec.estimate_memory(copy, n_channels, params, device)
    else:
        sample = min(4 * int(params.get("max_samples", 200_000)), int(np.prod(features.shape[:-1])))
        training = spec.estimate_memory((sample, 1), n_channels, params, device)
    return int(training + max(1, int(workers)) * per_chunk)
