"""The memory check of a chunked run: one training copy, plus the chunks computed at
once, each with its context, rather than the whole image."""

from __future__ import annotations

import numpy as np

#: context pixels per side counted for every chunk (the cleanup's, plus the network's)
_CONTEXT = 80
#: the per-chunk cleanup's peak per pixel of the grown chunk, measured: one 1156x1156
#: chunk of ``cnn`` (RGB) raised a process's peak by 0.53 GiB, graph superpixels mostly
CLEANUP_BYTES_PER_PIXEL = 400


def chunked_estimate(spec, features, params: dict, device, workers: int = 1) -> int:
    """Peak bytes of a chunked run of ``spec`` over the lazy channel-last ``features``:
    the method's own estimate on the training copy (CNN) or sample (k-means, GMM), plus
    one grown chunk per worker."""
    from ..cnn.infer import downscaled_shape

    n_channels = int(features.shape[-1])
    chunk = tuple(int(c) + 2 * _CONTEXT for c in features.chunksize[:-1])
    chunk = tuple(min(c, n) for c, n in zip(chunk, features.shape[:-1], strict=True))
    if spec.uses_torch:
        copy = downscaled_shape(tuple(features.shape[:-1]), int(params["train_size"]))
        training = spec.estimate_memory(copy, n_channels, params, device)
        per_chunk = cnn_chunk_bytes(chunk, n_channels, params)
    else:
        sample = min(4 * int(params.get("max_samples", 200_000)), int(np.prod(features.shape[:-1])))
        training = spec.estimate_memory((sample, 1), n_channels, params, device)
        per_chunk = spec.estimate_memory(chunk, n_channels, params, device)
    return int(training + max(1, int(workers)) * per_chunk)


def cnn_chunk_bytes(chunk, n_channels: int, params: dict) -> int:
    """One chunk's prediction: its float32 input (twice: the grown block and the tile
    copy), four live activation tiles, int labels, and the cleanup's graph."""
    from ._cnn import CHUNK_TILE_VALUES

    pixels = int(np.prod(chunk))
    total = pixels * (2 * 4 * n_channels + 3 * 4) + 4 * 4 * CHUNK_TILE_VALUES
    if params["refinement"] != "none":
        total += pixels * CLEANUP_BYTES_PER_PIXEL
    return total
