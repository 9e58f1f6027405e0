"""The memory check of a chunked run: one training copy, plus the chunks computed at
once, each with its context, rather than the whole image."""

from __future__ import annotations

import numpy as np

#: context pixels per side counted for every chunk (the cleanup's, plus the network's)
_CONTEXT = 80
#: the per-chunk cleanup's peak per pixel of its superpixel graph, measured: one
#: 1156x1156 chunk of ``cnn`` (RGB) cut at full resolution raised a process's peak by
#: 0.53 GiB, graph superpixels mostly
CLEANUP_BYTES_PER_PIXEL = 400
#: and per pixel of the grown chunk whatever the stride: full-size ids and the vote
#: (measured: 46 MiB traced for a 1156x1156 chunk at stride 6)
CLEANUP_BYTES_PER_CHUNK_PIXEL = 32


def parallel_chunks(workers: int | None) -> int:
    """Chunks computed at once: ``workers``, or (None) as many as the threads of Dask's
    default scheduler, which computes a lazy result handed to the caller."""
    if workers is not None:
        return max(1, int(workers))
    import os

    import dask

    return max(1, int(dask.config.get("num_workers", None) or os.cpu_count() or 1))


def chunked_estimate(spec, features, params: dict, device, workers: int | None = 1) -> int:
    """Peak bytes of a chunked run of ``spec`` over the lazy channel-last ``features``:
    the method's own estimate on the training copy (CNN) or sample (k-means, GMM), plus
    one grown chunk per chunk computed at once (:func:`parallel_chunks`)."""
    from ..cnn.infer import downscaled_shape

    n_channels = int(features.shape[-1])
    chunk = tuple(int(c) + 2 * _CONTEXT for c in features.chunksize[:-1])
    chunk = tuple(min(c, n) for c, n in zip(chunk, features.shape[:-1], strict=True))
    if spec.uses_torch:
        copy = downscaled_shape(tuple(features.shape[:-1]), int(params["train_size"]))
        training = spec.estimate_memory(copy, n_channels, params, device)
        image_plane = tuple(int(n) for n in features.shape[-3:-1])
        per_chunk = cnn_chunk_bytes(chunk, n_channels, params, image_plane)
    else:
        sample = min(4 * int(params.get("max_samples", 200_000)), int(np.prod(features.shape[:-1])))
        training = spec.estimate_memory((sample, 1), n_channels, params, device)
        per_chunk = spec.estimate_memory(chunk, n_channels, params, device)
    return int(training + parallel_chunks(workers) * per_chunk)


def cnn_chunk_bytes(chunk, n_channels: int, params: dict, image_plane=None) -> int:
    """One chunk's prediction: its float32 input (twice: the grown block and the tile
    copy), four live activation tiles, int labels, and the cleanup's graph (from a
    strided copy where the image's plane is ``image_plane``, see ._cleanup)."""
    from ._cleanup import cleanup_stride
    from ._cnn import CHUNK_TILE_VALUES

    pixels = int(np.prod(chunk))
    total = pixels * (2 * 4 * n_channels + 3 * 4) + 4 * 4 * CHUNK_TILE_VALUES
    refinement = params["refinement"]
    if refinement != "none":
        stride = 1
        if refinement == "graph" and image_plane is not None:
            stride = cleanup_stride(image_plane, tuple(chunk[-2:]))
        total += pixels * (CLEANUP_BYTES_PER_PIXEL // stride**2 + CLEANUP_BYTES_PER_CHUNK_PIXEL)
    return total
