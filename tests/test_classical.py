"""The classical segmenters recover known answers, deterministically."""

import numpy as np
import pytest

import napari_unsupseg as us
from synthetic import best_match_miou, noisy_blocks, stripes


def segment(image, method="cnn", **kwargs):
    """``us.segment`` asked for classes: these tests are about the engines' classes."""
    return us.segment(image, method, **{"output": "classes", **kwargs})


CLASSICAL = {
    "kmeans": {"n_clusters": 4},
    "gmm": {"n_components": 4},
    "felzenszwalb": {"scale": 500, "sigma": 0.8, "min_size": 100},
    "gmm+kmeans": {"n_components": 8, "n_clusters": 4},
}


@pytest.mark.parametrize("method", CLASSICAL)
def test_recovers_noisy_colour_blocks(method):
    image, truth = noisy_blocks()
    labels = segment(image, method, seed=0, **CLASSICAL[method])
    assert labels.shape == truth.shape and labels.dtype == np.int32
    assert best_match_miou(labels, truth) >= 0.9


@pytest.mark.parametrize("method", CLASSICAL)
def test_same_seed_same_labels(method):
    image, _ = noisy_blocks(seed=3)
    first = segment(image, method, seed=7, **CLASSICAL[method])
    second = segment(image, method, seed=7, **CLASSICAL[method])
    np.testing.assert_array_equal(first, second)


def test_labels_are_numbered_largest_first():
    image, _ = stripes(width=8)
    image[:, :40] = np.where(image[:, :40] > 0.5, 0.8, 0.2)  # make one class dominate
    labels = segment(image, "kmeans", n_clusters=2)
    counts = np.bincount(labels.ravel())[1:]
    assert list(np.unique(labels)) == [1, 2]
    assert counts[0] >= counts[1]


def test_grey_float_stripes_kmeans():
    image, truth = stripes()
    labels = segment(image, "kmeans", n_clusters=2)
    assert best_match_miou(labels, truth) >= 0.95


def test_spatial_weight_makes_compact_regions():
    from skimage.measure import label as connected

    noise = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    colour_only = segment(noise, "kmeans", n_clusters=4)
    with_position = segment(noise, "kmeans", n_clusters=4, spatial_weight=20.0)
    # On pure noise, colour alone gives speckle; position gives four compact regions.
    assert connected(colour_only, background=-1, connectivity=1).max() > 100
    assert connected(with_position, background=-1, connectivity=1).max() == 4


def test_stack_labels_consistent_across_planes():
    image, _ = noisy_blocks(shape=(48, 48))
    stack = np.stack([image, image[:, ::-1]])  # (Z, Y, X, RGB)
    labels = segment(stack, "kmeans", n_clusters=4)
    assert labels.shape == (2, 48, 48)
    # the same colour gets the same id in both planes
    np.testing.assert_array_equal(labels[0], labels[1][:, ::-1])


def test_felzenszwalb_on_stack_runs_per_plane():
    image, _ = noisy_blocks(shape=(48, 48))
    stack = np.stack([image, image])
    labels = segment(stack, "felzenszwalb", **CLASSICAL["felzenszwalb"])
    assert labels.shape == (2, 48, 48)
    assert not set(np.unique(labels[0])) & set(np.unique(labels[1]))


def test_sixteen_bit_two_channel_matches_eight_bit():
    from napari_unsupseg.sample_data import cells

    image, truth = cells(shape=(128, 128), n_cells=6)
    eight_bit = (image / image.max() * 255).astype(np.uint8)
    s16 = best_match_miou(segment(image, "kmeans", channel_axis=0, n_clusters=3), truth)
    s8 = best_match_miou(segment(eight_bit, "kmeans", channel_axis=0, n_clusters=3), truth)
    assert s16 >= 0.8
    assert abs(s16 - s8) < 0.05


@pytest.mark.parametrize("method", ["gmm", "gmm+kmeans"])
def test_mixture_labels_do_not_depend_on_the_chunk_size(method, monkeypatch):
    from napari_unsupseg import classical

    image, _ = noisy_blocks(shape=(40, 40))
    whole = us.segment(image, method, **CLASSICAL[method])
    monkeypatch.setattr(classical, "CHUNK_PIXELS", 333)  # 1600 pixels in 5 uneven chunks
    np.testing.assert_array_equal(us.segment(image, method, **CLASSICAL[method]), whole)


def test_gmm_fits_a_sample_of_a_big_image_and_labels_every_pixel():
    image, truth = noisy_blocks(shape=(256, 256))
    labels = us.segment(image, "gmm", n_components=4, max_samples=2000)
    assert best_match_miou(labels, truth) >= 0.9


_PEAK_SCRIPT = """
import sys
import numpy as np
import napari_unsupseg as us
from napari_unsupseg.bench import PeakRSS
from synthetic import noisy_blocks

image, _ = noisy_blocks(shape=(1024, 1024))
for method in sys.argv[1:]:
    us.segment(image[:64, :64], method)  # imports and first-call buffers
    rss = PeakRSS()
    rss.start()
    us.segment(image, method)
    print(method, rss.peak_bytes())
"""


def test_mixture_memory_estimate_holds_on_a_megapixel_image():
    """The estimate that segment() checks before a run, against the resident memory
    the run really adds (measured in a fresh process: Linux's VmHWM, reset first)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from napari_unsupseg._registry import get_method

    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux's resettable peak resident memory")
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    methods = ["gmm", "gmm+kmeans"]
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, *methods],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    peaks = dict(line.split() for line in out.splitlines())
    for method in methods:
        spec = get_method(method)
        estimate = spec.estimate_memory((1024, 1024), 3, spec.resolve({}), "cpu")
        peak = int(peaks[method])
        assert peak > 20 * 2**20  # the measurement saw the labels and renumbering
        assert peak <= estimate <= 4 * peak, (method, peak, estimate)


def test_gmm_reaches_scikit_learns_mixture_on_an_image():
    """The gmm method's fit (distinct colours weighted by counts, float32 EM) against
    scikit-learn's GaussianMixture on every pixel, same seed and reg_covar."""
    from sklearn.mixture import GaussianMixture

    from napari_unsupseg.classical import fit_gmm

    image, _ = noisy_blocks(shape=(48, 48), seed=2)
    pixels = (image.reshape(-1, 3) / 255).astype(np.float32)
    ours, _, _ = fit_gmm(pixels, 4, "full", 3e-4, seed=0)
    theirs = GaussianMixture(4, reg_covar=3e-4, random_state=0).fit(pixels.astype(np.float64))
    order = np.lexsort(ours.means.T[::-1]), np.lexsort(theirs.means_.T[::-1])
    np.testing.assert_allclose(ours.means[order[0]], theirs.means_[order[1]], atol=1e-4)
    np.testing.assert_allclose(ours.weights[order[0]], theirs.weights_[order[1]], atol=1e-4)
    ours_labels = ours.predict(pixels.T)
    pairs = set(zip(ours_labels.tolist(), theirs.predict(pixels).tolist(), strict=True))
    assert len(pairs) == 4  # the same partition of the pixels, up to the numbering


@pytest.mark.parametrize("method", ["gmm", "gmm+kmeans"])
def test_mixture_with_more_components_than_colours(method):
    """Three flat colours and more components than that: one label per colour."""
    truth = np.repeat(np.arange(3), 16 * 48).reshape(48, 48)
    image = np.array([[10, 20, 30], [200, 30, 40], [60, 220, 90]], np.uint8)[truth]
    params = {"n_components": 8} | ({"n_clusters": 5} if method == "gmm+kmeans" else {})
    labels = us.segment(image, method, **params)
    assert best_match_miou(labels, truth + 1) == 1.0
    assert labels.max() == 3
