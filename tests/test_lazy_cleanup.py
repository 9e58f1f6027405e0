"""The per-chunk cleanup on big images: graph superpixels from a strided copy on the
image's stride grid (chunked/_cleanup.py), as the in-memory path cuts big planes."""

import dask.array as da
import numpy as np
import pytest

from napari_unsupseg import segment
from napari_unsupseg.chunked import _cleanup
from napari_unsupseg.chunked._cleanup import cleanup_stride, strided_superpixels
from napari_unsupseg.superpixels import graph_superpixels
from test_lazy import agreement, scene


@pytest.mark.parametrize(
    ("image", "grown", "stride"),
    [
        ((12288, 12288), (1156, 1156), 6),  # the in-memory path's stride for the plane
        ((4096, 4096), (1156, 1156), 2),
        ((2048, 2048), (1156, 1156), 2),  # the chunk's graph kept small
        ((2048, 2048), (512, 512), 1),
        ((256, 256), (224, 224), 1),
    ],
)
def test_the_stride_is_the_whole_images_or_the_chunks(image, grown, stride):
    assert cleanup_stride(image, grown) == stride


def test_at_stride_one_the_superpixels_are_the_in_memory_ones():
    samples = scene(96)[None].astype(np.float32) / 255
    ids, n = strided_superpixels(samples, 100.0, 1, origin=(7, 3))
    expected, n_expected = graph_superpixels(samples, 100.0, 20)
    assert n == n_expected
    assert np.array_equal(ids, expected)


def test_the_strided_copy_takes_the_images_grid_whatever_the_chunk():
    """Pixels on even rows and columns are one colour, the others noise: at stride 2 a
    block cut at an odd corner still sees only the even pixels, so one superpixel."""
    rng = np.random.default_rng(0)
    image = rng.random((64, 64, 3)).astype(np.float32)
    image[::2, ::2] = (0.2, 0.5, 0.7)
    block = image[5:, 3:]
    ids, n = strided_superpixels(block[None], 100.0, 2, origin=(5, 3))
    assert n == 1 and ids.shape == (1, 59, 61)
    _, misaligned = strided_superpixels(block[None], 100.0, 2, origin=(0, 0))
    assert misaligned > 1  # the odd pixels: noise


def test_a_strided_cleanup_chunked_stays_close_to_the_whole_image(monkeypatch):
    """Chunks whose graph is cut at stride 2 (as a 1024-pixel chunk's is): the classes
    stay within a few percent of the whole image's full-resolution cleanup (measured:
    97.4% of pixels agree; bound 95%), and the classes that cover more than 1% of the
    image are as many (a stride may absorb a few specks of a tiny class)."""
    monkeypatch.setattr(_cleanup, "CHUNK_GRAPH_PIXELS", 96 * 96)
    image = scene(256)
    whole = segment(image, "cnn", output="classes")
    lazy = segment(da.from_array(image), "cnn", output="classes", chunk=96).compute()
    assert agreement(whole, lazy) >= 0.95

    def major(labels):
        return int((np.bincount(labels.ravel()) > 0.01 * labels.size).sum())

    assert major(lazy) == major(whole)


def test_a_thin_volume_with_the_cleanup_needs_no_context_across_its_planes():
    """Graph superpixels are cut plane by plane: a 3D network's chunks take only the
    network's context along z, so a stack of fewer planes than the cleanup's context
    runs (it failed in dask's overlap before), and stays close to the whole stack's."""
    rng = np.random.default_rng(0)
    volume = (rng.random((6, 80, 80)) * 50).astype(np.uint8)
    volume[:, 20:50, 30:60] += 150
    volume[:, 60:75, 5:30] += 90
    lazy = segment(da.from_array(volume, chunks=(3, 40, 40)), "cnn", output="classes", chunk=40)
    whole = segment(volume, "cnn", output="classes")
    assert agreement(whole, lazy.compute()) >= 0.95  # measured 0.984
