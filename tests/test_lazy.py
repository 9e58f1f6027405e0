"""Images bigger than memory: segment() on dask arrays, chunk by chunk.

Where chunked and whole-image results may differ, and the bound tested here: the
network's classes (and the regions made from them) are the same everywhere, since
every chunk is predicted with the n_conv pixels of context the 3x3 convolutions need,
by a network trained on the same copy; only the final cleanup by graph superpixels
(Felzenszwalb's greedy merge, run per chunk on the chunk plus 64 pixels) can differ,
in the superpixels it cuts differently. Measured: under 1% of pixels; bound: 2%.
"""

import dask.array as da
import numpy as np
import pytest

from napari_unsupseg import segment
from napari_unsupseg._progress import SegmentationCancelled
from napari_unsupseg.chunked._stitch import stitched_regions
from napari_unsupseg.objects import connected_regions
from synthetic import noisy_blocks


def scene(size=192, seed=0):
    """A disk, a square and a background of distinct colours, with noise (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    image = np.empty((size, size, 3), np.float64)
    image[...] = (40, 60, 200)
    image[(yy - size * 0.4) ** 2 + (xx - size * 0.35) ** 2 < (size * 0.23) ** 2] = (220, 50, 40)
    image[(yy > size * 0.6) & (xx > size * 0.55)] = (30, 200, 60)
    return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)


def agreement(a, b) -> float:
    """Share of pixels whose pair of ids (a, b) is each id's best match both ways: 1.0
    when the two label images are the same partition, whatever the numbering."""
    pairs, inverse, counts = np.unique(
        np.stack([a.ravel(), b.ravel()]), axis=1, return_inverse=True, return_counts=True
    )
    best_a, best_b = {}, {}
    for (x, y), n in zip(pairs.T, counts, strict=True):
        if n > best_a.get(x, (0, None))[0]:
            best_a[x] = (n, y)
        if n > best_b.get(y, (0, None))[0]:
            best_b[y] = (n, x)
    good = np.array([best_a[x][1] == y and best_b[y][1] == x for x, y in pairs.T])
    return float(good[inverse.ravel()].mean())


def test_agreement_counts_only_one_to_one_pairs():
    a = np.array([[1, 1, 2, 2]])
    assert agreement(a, a + 5) == 1.0
    assert agreement(a, np.array([[1, 1, 1, 1]])) == 0.5


def test_segment_of_a_dask_array_is_lazy_and_chunked():
    image = da.from_array(scene(96), chunks=(48, 48, 3))
    labels = segment(image, "cnn", output="classes", refinement="none", chunk=48)
    assert isinstance(labels, da.Array)
    assert labels.shape == (96, 96) and labels.dtype == np.int32
    assert labels.numblocks == (2, 2)
    assert labels.compute().min() >= 1


@pytest.mark.parametrize("output", ["classes", "regions"])
def test_without_the_cleanup_chunked_equals_whole_image(output):
    """The network's labels do not depend on the chunking at all."""
    image = scene(160)
    whole = segment(image, "cnn", output=output, refinement="none")
    for chunk in (160, 48):
        lazy = segment(da.from_array(image), "cnn", output=output, refinement="none", chunk=chunk)
        assert agreement(whole, lazy.compute()) == 1.0


def test_with_the_cleanup_chunked_and_whole_image_differ_by_at_most_two_percent():
    image = scene(256)
    whole = segment(image, "cnn", output="classes")
    lazy = segment(da.from_array(image), "cnn", output="classes", chunk=96).compute()
    assert lazy.shape == whole.shape
    assert agreement(whole, lazy) >= 0.98
    # the same classes: as many, and each chunked class mostly one whole-image class
    assert np.unique(lazy).size == np.unique(whole).size


def test_regions_get_one_id_across_chunk_borders(rng):
    """Stitching is exact: the same regions as labelling the whole class map, numbered
    1..N largest first."""
    classes = (rng.random((40, 40)) < 0.45).astype(np.int32) + 1
    classes[5:35, 18:22] = 3  # a bar across the chunk border at x = 20
    lazy = stitched_regions(da.from_array(classes, chunks=(13, 20))).compute()
    whole = connected_regions(classes)
    assert agreement(whole, lazy) == 1.0
    assert np.unique(lazy[5:35, 18:22]).size == 1  # the bar is one region
    assert set(np.unique(lazy)) == set(range(1, whole.max() + 1))
    sizes = np.bincount(lazy.ravel())[1:]
    assert np.all(np.diff(sizes) <= 0)  # largest first


def test_regions_of_the_cnn_are_connected_and_consistent():
    image = scene(160)
    lazy = segment(da.from_array(image), "cnn", output="regions", chunk=64).compute()
    # every id is one connected piece, as a whole-image labelling would give
    assert agreement(connected_regions(lazy), lazy) == 1.0


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_clustering_a_dask_array_finds_the_quadrants_as_in_memory(method):
    image, truth = noisy_blocks((96, 96))
    k = {"n_clusters": 4} if method == "kmeans" else {"n_components": 4}
    lazy = segment(da.from_array(image), method, output="classes", chunk=32, **k).compute()
    assert agreement(truth, lazy) > 0.99
    assert agreement(segment(image, method, output="classes", **k), lazy) > 0.99


def test_same_seed_same_labels():
    image = da.from_array(scene(96))
    first = segment(image, "cnn", output="classes", chunk=48, seed=3).compute()
    second = segment(image, "cnn", output="classes", chunk=48, seed=3).compute()
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    ("method", "kwargs", "message"),
    [
        ("iic", {"output": "classes"}, "cannot run on lazy"),
        ("felzenszwalb", {"output": "classes"}, "cannot run chunk by chunk"),
        ("kmeans", {"output": "classes", "spatial_weight": 1.0}, "spatial_weight"),
    ],
)
def test_what_cannot_be_chunked_is_refused_clearly(method, kwargs, message):
    image = da.from_array(scene(64))
    with pytest.raises(ValueError, match=message):
        segment(image, method, **kwargs)


def test_auto_gives_a_lazy_colour_image_regions():
    lazy = segment(da.from_array(scene(64)), "kmeans", n_clusters=3, chunk=32)
    labels = lazy.compute()
    assert labels.min() == 1 and agreement(connected_regions(labels), labels) == 1.0


def test_cancel_before_training_stops():
    image = da.from_array(scene(64))
    with pytest.raises(SegmentationCancelled):
        segment(image, "cnn", output="classes", should_stop=lambda: True)


@pytest.mark.parametrize("stack_mode", ["3d", "reference"])
def test_a_grey_volume_chunked_equals_whole_without_the_cleanup(stack_mode):
    """3D chunks (context along z too for a 3D network, none for a 2D one over the
    planes), and 16-bit data normalised by percentiles read from a sample. (Planes of
    at most train_size pixels are labelled in memory by the last training pass, with
    BatchNorm in training mode as in the papers; chunks always use statistics frozen on
    the training copy, so the comparison trains on a reduced copy.)"""
    rng = np.random.default_rng(1)
    zz, yy, xx = np.mgrid[:12, :48, :48]
    volume = 1000 + 3000 * ((zz - 6) ** 2 + (yy - 24) ** 2 + (xx - 20) ** 2 < 100)
    volume = (volume + rng.normal(0, 200, volume.shape)).astype(np.uint16)
    settings = {
        "output": "classes",
        "refinement": "none",
        "stack_mode": stack_mode,
        "train_size": 900,
    }
    whole = segment(volume, "cnn", **settings)
    lazy = segment(da.from_array(volume, chunks=(6, 24, 24)), "cnn", chunk=24, **settings)
    assert lazy.numblocks == (2, 2, 2)
    assert agreement(whole, lazy.compute()) == 1.0
