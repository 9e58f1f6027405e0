"""Objects of lazy images, chunk by chunk: one id per object across chunk borders.

The bound tested here (docs/big-images.md): with the same classes (k-means, or the
CNNs without the final cleanup) the chunked objects are the in-memory ones exactly
when every object, or clump of touching objects, reaches less than the context (two
object diameters, at most 256 pixels) beyond any chunk it crosses; an object longer
than that may get one id per chunk it crosses. With the CNN's cleanup the classes
themselves may differ by up to 2% of pixels (tests/test_lazy.py), and each object
still matches its in-memory object. A background flattened in memory is flattened
chunk by chunk with the Gaussian's context: the same objects.
"""

import tracemalloc

import dask
import dask.array as da
import numpy as np
import pytest
import zarr

from napari_unsupseg import segment
from napari_unsupseg.chunked import _objects, lazy_classes
from napari_unsupseg.chunked.store import write_segmentation
from napari_unsupseg.cli import main
from test_lazy import agreement
from test_lazy_store import CountingReads

#: disk centres on a 160x160 image cut in chunks of 48 (borders at 48, 96, 144): some
#: straddle a border, two pairs touch (one pair across a border)
CENTRES = [(24, 24), (48, 70), (30, 100), (30, 117), (96, 96), (120, 40), (137, 40), (72, 140)]


def disks(size=160, centres=CENTRES, radius=9, seed=0):
    """Bright disks on a dark, noisy background (uint8) and their ids 1..n."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.zeros((size, size), np.int32)
    for index, (y, x) in enumerate(centres, 1):
        inside = (yy - y) ** 2 + (xx - x) ** 2 <= radius**2
        truth[inside & (truth == 0)] = index
    image = 30 + 150 * (truth > 0) + rng.normal(0, 10, truth.shape)
    return np.clip(image, 0, 255).astype(np.uint8), truth


def one_id_per_disk(labels, truth) -> None:
    """Every disk's centre part carries exactly one id, and no two disks share one."""
    from scipy import ndimage as ndi

    seen = []
    for index in range(1, truth.max() + 1):
        core = ndi.binary_erosion(truth == index, iterations=3)
        ids = np.unique(labels[core])
        assert ids.size == 1 and ids[0] > 0, (index, ids)
        seen.append(int(ids[0]))
    assert len(set(seen)) == len(seen), seen


def matched_iou(a, b) -> np.ndarray:
    """Each object of ``a``'s best IoU with an object of ``b``."""
    scores = []
    for index in np.unique(a[a > 0]):
        mine = a == index
        other = np.bincount(b[mine]).argmax()
        theirs = b == other
        scores.append((mine & theirs).sum() / (mine | theirs).sum() if other else 0.0)
    return np.asarray(scores)


def test_kmeans_objects_equal_the_in_memory_ones_across_chunk_borders():
    image, truth = disks()
    whole = segment(image, "kmeans", output="objects")
    lazy = segment(da.from_array(image), "kmeans", output="objects", chunk=48)
    assert isinstance(lazy, da.Array) and lazy.numblocks == (3, 3)  # a thin last chunk joined
    labels = lazy.compute(scheduler="threads", num_workers=2)
    one_id_per_disk(labels, truth)
    assert labels.max() == whole.max() == truth.max()
    assert agreement(whole, labels) == 1.0
    sizes = np.bincount(labels.ravel())[1:]
    assert np.all(np.diff(sizes) <= 0)  # numbered 1..N largest first, as in memory


def test_auto_gives_a_lazy_grey_image_objects_as_in_memory():
    image, truth = disks()
    lazy = segment(da.from_array(image), "kmeans", chunk=48).compute()
    np.testing.assert_array_equal(lazy, segment(image, "kmeans", output="objects"))
    one_id_per_disk(lazy, truth)


def test_cnn_objects_match_the_in_memory_ones():
    """With the final cleanup, classes may differ a little: each object still matches."""
    image, truth = disks()
    whole = segment(image, "cnn", output="objects")
    labels = segment(da.from_array(image), "cnn", output="objects", chunk=48).compute()
    one_id_per_disk(labels, truth)
    assert labels.max() == whole.max()
    assert matched_iou(whole, labels).min() >= 0.9


def test_same_seed_same_objects():
    image = da.from_array(disks()[0])
    first = segment(image, "cnn", output="objects", chunk=48, seed=2).compute()
    second = segment(image, "cnn", output="objects", chunk=48, seed=2).compute()
    np.testing.assert_array_equal(first, second)


def test_an_object_longer_than_the_context_is_the_stated_limit():
    """A bar 120 pixels long across a chunk border, among disks 18 across (context:
    40 pixels): cut into one id per chunk. Given a diameter whose context covers the
    bar, it is one object, as in memory."""
    image, _ = disks(centres=[(24, 24), (130, 130)])
    image[78:84, 20:140] = 180  # across the border at x = 48 and 96
    lazy = segment(da.from_array(image), "kmeans", output="objects", chunk=48).compute()
    assert np.unique(lazy[80, 22:138]).size == 3  # the limit, as stated
    wide = {"output": "objects", "object_diameter": 64}
    lazy = segment(da.from_array(image), "kmeans", chunk=48, **wide).compute()
    whole = segment(image, "kmeans", **wide)
    assert np.unique(lazy[80, 22:138]).size == 1
    assert agreement(whole, lazy) == 1.0


def test_a_glowing_background_is_flattened_as_in_memory():
    """Disks on a broad glow, which the in-memory run flattens: chunks flattened with
    the background Gaussian's context give the same objects."""
    from napari_unsupseg._api import run_segmentation

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512]
    glow = 120 * np.exp(-((yy - 200) ** 2 + (xx - 300) ** 2) / (2 * 110.0**2))
    truth = np.zeros(yy.shape, np.int32)
    centres = [(y, x) for y in range(30, 512, 56) for x in range(30, 512, 56)]
    for index, (y, x) in enumerate(centres, 1):
        truth[(yy - y) ** 2 + (xx - x) ** 2 <= 81] = index
    image = 20 + glow + 70 * (truth > 0) + rng.normal(0, 6, truth.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    whole = run_segmentation(image, "kmeans", output="objects")
    assert whole.plan.flatten
    lazy = segment(da.from_array(image), "kmeans", output="objects", chunk=128)
    assert lazy.numblocks == (2, 2)  # chunks grown to hold the Gaussian's context
    labels = lazy.compute()
    assert labels.max() == whole.labels.max() == len(centres)
    assert agreement(whole.labels, labels) == 1.0


def test_a_volume_with_spacing_gets_the_in_memory_objects():
    """Balls in a stack with z steps twice the pixel size, some across the chunks'
    borders (z = 20, y and x = 32)."""
    rng = np.random.default_rng(3)
    zz, yy, xx = np.mgrid[:40, :64, :64]
    truth = np.zeros(zz.shape, np.int32)
    centres = [(10, 16, 16), (20, 32, 40), (28, 48, 20), (20, 32, 53), (30, 14, 46)]
    for index, (z, y, x) in enumerate(centres, 1):
        inside = (2 * (zz - z)) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= 7**2
        truth[inside & (truth == 0)] = index
    volume = (1000 + 3000 * (truth > 0) + rng.normal(0, 200, truth.shape)).astype(np.uint16)
    settings = {"output": "objects", "spacing": (2.0, 1.0, 1.0)}
    whole = segment(volume, "kmeans", **settings)
    lazy = segment(da.from_array(volume, chunks=(20, 32, 32)), "kmeans", chunk=32, **settings)
    assert lazy.numblocks == (2, 2, 2)
    labels = lazy.compute()
    assert labels.max() == whole.max() == len(centres)
    assert agreement(whole, labels) == 1.0
    one_id_per_disk(labels, truth)


def test_nothing_is_read_or_allocated_whole(monkeypatch, tmp_path):
    """Chunks of 128 written to Zarr: no read bigger than a chunk; the peak grows with
    the number of chunks (the task graph's bookkeeping: measured 1.4 times for 4 times
    the chunks), not with their pixels, and stays near one float32 copy of the image
    (measured 1.08 times), which the in-memory run holds many times over. (The global
    quantities are read off a sample, made small here.)"""
    monkeypatch.setattr(_objects, "SAMPLE_PIXELS", 128 * 128)
    settings = {"output": "objects", "chunk": 128, "max_samples": 2000}

    def traced(tiles):
        image = np.tile(disks()[0], (tiles, tiles))
        source = CountingReads(image)
        tracemalloc.start()
        try:
            lazy = da.from_array(source, chunks=(128, 128))
            provisional, kind, _ = lazy_classes(lazy, "kmeans", **settings)
            out = write_segmentation(provisional, tmp_path / f"{tiles}.zarr", kind, workers=2)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert out[:].max() == 8 * tiles * tiles  # every disk of every tile
        return max(source.reads), peak, image.size

    traced(1)  # imports are not the run's memory
    small, big = traced(6), traced(12)
    assert max(small[0], big[0]) <= 128 * 128
    assert big[1] < 1.7 * small[1], (small, big)
    assert big[1] < 1.5 * 4 * big[2], big


def test_cli_writes_objects_from_zarr_to_zarr(tmp_path, capsys):
    image, _ = disks()
    zarr.create_array(tmp_path / "in.zarr", data=image, chunks=(48, 48))
    args = ["-m", "kmeans", "--chunk", "48", "--output", "objects", "-q"]
    assert main(["segment", str(tmp_path / "in.zarr"), "-o", str(tmp_path / "out"), *args]) == 0
    group = zarr.open_group(tmp_path / "out" / "in.zarr", mode="r")
    assert sorted(name for name, _ in group.arrays()) == ["labels"]
    np.testing.assert_array_equal(group["labels"][:], segment(image, "kmeans", output="objects"))
    assert "(objects," in capsys.readouterr().out


def test_background_classes_and_their_checks():
    image, truth = disks()
    classes = segment(image, "kmeans", output="classes")
    dark = [c for c in np.unique(classes) if np.mean(truth[classes == c] > 0) < 0.5]
    lazy = da.from_array(image)
    labels = segment(lazy, "kmeans", output="objects", background_classes=dark, chunk=48)
    whole = segment(image, "kmeans", output="objects", background_classes=dark)
    assert agreement(whole, labels.compute()) == 1.0
    one_id_per_disk(labels.compute(), truth)
    with pytest.raises(ValueError, match="not among the classes"):
        segment(lazy, "kmeans", output="objects", background_classes=[7], chunk=48)
    with pytest.raises(ValueError, match="object_diameter"):
        segment(lazy, "kmeans", output="objects", object_diameter=-1)


@pytest.mark.parametrize("method", ["iic", "wnet", "dic"])
def test_the_deep_clustering_baselines_are_refused_on_lazy_images(method):
    with pytest.raises(ValueError, match=r"cannot run on lazy .* cnn, .*kmeans, gmm"):
        lazy_classes(da.from_array(disks()[0]), method)


def test_the_provisional_ids_are_numbered_without_the_whole_array():
    provisional = da.from_array(np.array([[0, 9, 9, 40], [5, 5, 5, 40]], np.int64), chunks=1)
    numbered = _objects.numbered_objects(provisional)
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(numbered.compute(), [[0, 2, 2, 3], [1, 1, 1, 3]])


def test_the_memory_check_counts_the_objects_steps(monkeypatch):
    """A 100000x100000 grey image in chunks of 1024: objects cost more per chunk than
    classes (their context and steps), and too many chunks at once are refused."""
    from napari_unsupseg import _memory
    from napari_unsupseg._memory import InsufficientMemoryError
    from napari_unsupseg.chunked._prepare import prepare_lazy

    huge = da.zeros((100_000, 100_000), dtype=np.uint8, chunks=(1024, 1024))
    features = prepare_lazy(huge).features
    assert _objects.objects_chunk_bytes(features) == (1024 + 1032) ** 2 * 96
    monkeypatch.setattr(_memory, "available_memory", lambda: 8 * 1024**3)
    with pytest.raises(InsufficientMemoryError, match="fewer workers"):
        segment(huge, "kmeans", output="objects", workers=40)
