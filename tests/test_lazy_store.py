"""Lazy images from Zarr / OME-Zarr / TIFF to Zarr, chunk by chunk: nothing read whole,
a real Dask scheduler, the command line, the memory check."""

import tracemalloc

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

from napari_unsupseg import segment
from napari_unsupseg._memory import InsufficientMemoryError
from napari_unsupseg._progress import Reporter, SegmentationCancelled
from napari_unsupseg.chunked import lazy_classes
from napari_unsupseg.chunked.store import open_lazy, store_chunks, write_segmentation
from napari_unsupseg.cli import main
from synthetic import noisy_blocks
from test_lazy import agreement, scene


class CountingReads:
    """An array that records the size of every read dask makes of it."""

    def __init__(self, array):
        self.array, self.reads = array, []
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, index):
        out = self.array[index]
        self.reads.append(out.size)
        return out


def _traced_run(image, settings):
    """(largest read, numpy/Python peak bytes) of a chunked run over ``image``."""
    source = CountingReads(image)
    lazy = da.from_array(source, chunks=(128, 128, 3))
    out = np.zeros(image.shape[:2], np.int32)
    tracemalloc.start()
    try:
        classes, _, _ = lazy_classes(lazy, "cnn", **settings)
        store_chunks(classes, out, workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.min() >= 1
    return max(source.reads), peak


def test_nothing_is_read_or_allocated_whole():
    """Chunks of 128: no read bigger than one chunk, and a peak that does not grow with
    the image (4 times the pixels, well under twice the peak) and stays under the
    image's float32 features, which a whole-image run holds (and more; measured: about
    half of them, a little more or less with how many chunks the scheduler runs at once). The peak
    grows a little with the number of chunks (the task graph's bookkeeping, measured
    1.5 times for 4 times the chunks), not with their pixels."""
    settings = {"output": "classes", "refinement": "none", "train_size": 4000, "chunk": 128}
    warm, _, _ = lazy_classes(da.from_array(scene(64)), "cnn", **settings)
    store_chunks(warm, np.zeros((64, 64), np.int32))  # imports are not the run's memory
    small = _traced_run(np.tile(scene(256), (2, 2, 1)), settings)
    big_image = np.tile(scene(256), (4, 4, 1))
    big = _traced_run(big_image, settings)
    assert max(small[0], big[0]) <= 128 * 128 * 3
    assert big[1] < 2 * small[1], (small, big)
    assert big[1] < big_image.size * 4, big


def test_zarr_to_zarr_on_a_local_cluster_equals_the_lazy_result(tmp_path):
    from distributed import Client, LocalCluster

    image = scene(192)
    zarr.create_array(tmp_path / "in.zarr", data=image, chunks=(96, 96, 3))
    lazy, channel_axis = open_lazy(tmp_path / "in.zarr")
    assert channel_axis is None and lazy.shape == image.shape
    classes, kind, _ = lazy_classes(lazy, "cnn", output="regions", chunk=96)
    expected = segment(lazy, "cnn", output="regions", chunk=96).compute()
    events = []
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster,
        Client(cluster) as client,
    ):
        stored = write_segmentation(
            classes, tmp_path / "out.zarr", kind, client=client, reporter=Reporter(events.append)
        )
    np.testing.assert_array_equal(stored[:], expected)
    group = zarr.open_group(tmp_path / "out.zarr", mode="r")
    assert set(group.array_keys()) == {"classes", "labels"}
    assert group["labels"].chunks == (96, 96)
    chunk_events = [e for e in events if e.stage == "chunks"]
    assert chunk_events[-1].iteration == chunk_events[-1].total == 4


def test_cancel_stops_between_chunks(tmp_path):
    image = da.from_array(scene(128))
    classes, _, _ = lazy_classes(image, "cnn", output="classes", refinement="none", chunk=32)
    seen = []

    def stop_after_two(event):
        seen.append(event.iteration)
        return event.stage == "chunks" and event.iteration >= 2

    out = np.zeros((128, 128), np.int32)
    with pytest.raises(SegmentationCancelled):
        store_chunks(classes, out, workers=1, reporter=Reporter(stop_after_two))
    assert 0 < np.count_nonzero(out) < out.size  # stopped midway, written chunks kept


def test_cli_segments_an_ome_zarr_and_a_tiff_chunk_by_chunk(tmp_path, capsys):
    image, truth = noisy_blocks((96, 96))
    group = zarr.open_group(tmp_path / "cells.ome.zarr", mode="w")
    group.create_array("0", data=np.moveaxis(image, -1, 0), chunks=(3, 48, 48))
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x"}]
    group.attrs["multiscales"] = [{"axes": axes, "datasets": [{"path": "0"}]}]
    tifffile.imwrite(tmp_path / "big.tif", image, tile=(32, 32))
    args = ["-m", "kmeans", "--param", "n_clusters=4", "--output", "classes", "-q"]
    status = main(["segment", str(tmp_path / "cells.ome.zarr"), "-o", str(tmp_path / "out"), *args])
    assert status == 0
    status = main(
        ["segment", str(tmp_path / "big.tif"), "--chunk", "48", "-o", str(tmp_path / "out"), *args]
    )
    assert status == 0
    # the OME-Zarr's thin chunks (48) are grown to the default; --chunk sets them
    for name, chunks in (("cells", (96, 96)), ("big", (48, 48))):
        labels = zarr.open_group(tmp_path / "out" / f"{name}.zarr", mode="r")["labels"]
        assert labels.shape == (96, 96) and labels.chunks == chunks
        assert agreement(truth, labels[:]) > 0.99
    assert "cells.ome.zarr" in capsys.readouterr().out


def test_cli_reports_what_cannot_be_chunked(tmp_path, capsys):
    zarr.create_array(tmp_path / "in.zarr", data=scene(64), chunks=(32, 32, 3))
    status = main(
        ["segment", str(tmp_path / "in.zarr"), "-m", "felzenszwalb", "-o", str(tmp_path), "-q"]
    )
    assert status == 1
    assert "cannot run chunk by chunk" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bad, words",
    [
        (["--param", "bogus=1"], "no parameter 'bogus'"),
        (["--seed", "-1"], "seed must be between"),
        (["--threads", "0"], "threads"),
    ],
)
def test_the_chunked_cli_refuses_bad_options_before_reading(tmp_path, capsys, bad, words):
    zarr.create_array(tmp_path / "in.zarr", data=scene(64), chunks=(32, 32, 3))
    out = tmp_path / "out"
    status = main(["segment", str(tmp_path / "in.zarr"), "-m", "kmeans", "-o", str(out), *bad])
    assert status == 2
    assert words in capsys.readouterr().err and not out.exists()


def test_memory_check_counts_chunks_not_the_whole_image(monkeypatch):
    """A 100000x100000 RGB image (30 GB as uint8) fits in chunks; too many chunks at
    once do not."""
    from napari_unsupseg import _memory

    huge = da.zeros((100_000, 100_000, 3), dtype=np.uint8, chunks=(1024, 1024, 3))
    monkeypatch.setattr(_memory, "available_memory", lambda: 8 * 1024**3)
    from napari_unsupseg._registry import get_method
    from napari_unsupseg.chunked._memory import chunked_estimate
    from napari_unsupseg.chunked._prepare import prepare_lazy

    features = prepare_lazy(huge).features
    spec = get_method("cnn")
    params = spec.resolve({})
    one = chunked_estimate(spec, features, params, "cpu", workers=1)
    assert one < 2 * 1024**3
    assert chunked_estimate(spec, features, params, "cpu", workers=4) > 3 * one
    with pytest.raises(InsufficientMemoryError, match="fewer workers"):
        segment(huge, "cnn", output="classes", workers=1000, device="cpu")


def test_without_workers_the_memory_check_counts_dasks_threads():
    """A lazy result handed to the caller is computed by Dask's default scheduler, as
    many chunks at once as it has threads."""
    import dask

    from napari_unsupseg._registry import get_method
    from napari_unsupseg.chunked._memory import chunked_estimate, parallel_chunks
    from napari_unsupseg.chunked._prepare import prepare_lazy

    features = prepare_lazy(
        da.zeros((4096, 4096, 3), dtype=np.uint8, chunks=(1024, 1024, 3))
    ).features
    spec = get_method("cnn")
    params = spec.resolve({})
    with dask.config.set(num_workers=3):
        assert parallel_chunks(None) == 3
        assert chunked_estimate(spec, features, params, "cpu", workers=None) == (
            chunked_estimate(spec, features, params, "cpu", workers=3)
        )
    assert parallel_chunks(2) == 2


def test_a_strided_cleanup_is_estimated_smaller():
    """The cleanup's graph of a 1024-pixel chunk of a 12288x12288 image is cut at
    stride 6 (chunked/_cleanup.py), so the chunk is estimated at a fraction."""
    from napari_unsupseg.chunked._memory import cnn_chunk_bytes

    params = {"refinement": "graph"}
    full = cnn_chunk_bytes((1184, 1184), 3, params)
    strided = cnn_chunk_bytes((1184, 1184), 3, params, image_plane=(12288, 12288))
    assert strided < full / 3
    assert strided < 256 * 1024**2
