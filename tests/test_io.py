"""Reading and writing files: round trips, clear errors, no half-written outputs."""

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_unsupseg.io import (
    TEMP_SUFFIX,
    ImageReadError,
    atomic_write,
    labels_file_ok,
    overlay_rgb,
    read_image,
    read_image_with_axes,
    read_labels,
    remove_stale_temp_files,
    write_labels,
    write_overlay,
)


def test_labels_round_trip_2d_and_3d(tmp_path, rng):
    for shape in [(20, 30), (4, 16, 16)]:
        labels = rng.integers(0, 50, shape).astype(np.int32)
        path = write_labels(tmp_path / f"l{len(shape)}.tif", labels)
        back = read_labels(path)
        assert back.dtype == np.int32 and np.array_equal(back, labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l2.tif", "l3.tif"]


def test_read_image_formats(tmp_path, rng):
    rgb = rng.integers(0, 255, (12, 14, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.png", rgb)
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    iio.imwrite(tmp_path / "a.jpg", rgb)
    assert read_image(tmp_path / "a.jpg").shape == (12, 14, 3)
    stack = rng.integers(0, 4000, (2, 10, 11), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "hyper.tif", stack, imagej=True, metadata={"axes": "CYX"})
    image, axes = read_image_with_axes(tmp_path / "hyper.tif")
    assert np.array_equal(image, stack) and axes == "CYX"


def test_unreadable_files_say_why(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"hello, not an image")
    (tmp_path / "empty.tif").write_bytes(b"")
    (tmp_path / "data.xyz").write_bytes(b"1234")
    with pytest.raises(ImageReadError, match="not a PNG file"):
        read_image(tmp_path / "fake.png")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.tif")
    with pytest.raises(ImageReadError, match="unsupported file type"):
        read_image(tmp_path / "data.xyz")
    with pytest.raises(ImageReadError, match="no such file"):
        read_labels(tmp_path / "missing.tif")


def test_truncated_tiff_is_refused_not_read_in_part(tmp_path, rng):
    labels = rng.integers(0, 1000, (5, 64, 64)).astype(np.int32)
    whole = write_labels(tmp_path / "whole.tif", labels).read_bytes()
    for cut in (len(whole) // 2, len(whole) - 10):
        (tmp_path / "cut.tif").write_bytes(whole[:cut])
        with pytest.raises(ImageReadError):
            read_labels(tmp_path / "cut.tif")
        assert not labels_file_ok(tmp_path / "cut.tif")
    assert labels_file_ok(tmp_path / "whole.tif")


def test_label_formats(tmp_path, rng):
    truth = rng.integers(1, 6, (3, 8, 9)).astype(np.int32)
    np.savez(tmp_path / "gt.npz", segs=truth, bdry=np.zeros_like(truth, dtype=np.uint8))
    assert np.array_equal(read_labels(tmp_path / "gt.npz"), truth)
    np.savez(tmp_path / "two.npz", a=truth, b=truth)
    with pytest.raises(ImageReadError, match="holds the arrays a, b"):
        read_labels(tmp_path / "two.npz")
    np.save(tmp_path / "f.npy", truth[0].astype(np.float32))
    assert read_labels(tmp_path / "f.npy").dtype.kind == "i"
    np.save(tmp_path / "g.npy", truth[0] + 0.5)
    with pytest.raises(ImageReadError, match="non-integer"):
        read_labels(tmp_path / "g.npy")
    # A colour-coded PNG: one id per colour, black is background 0.
    colours = np.zeros((4, 4, 3), dtype=np.uint8)
    colours[:2, :2] = (255, 0, 0)
    colours[2:, 2:] = (0, 255, 0)
    iio.imwrite(tmp_path / "c.png", colours)
    ids = read_labels(tmp_path / "c.png")
    assert ids[3, 0] == 0 and len(np.unique(ids)) == 3 and ids[0, 0] != ids[3, 3]


def test_atomic_write_leaves_old_file_and_no_temp_on_error(tmp_path):
    target = tmp_path / "out.tif"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as handle:
        handle.write(b"half of the new")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_stale_temp_files_are_swept(tmp_path):
    stale = tmp_path / f".a_labels.tif.0123{TEMP_SUFFIX}"
    stale.write_bytes(b"partial")
    keep = tmp_path / "a_labels.tif"
    keep.write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert list(tmp_path.iterdir()) == [keep]


def test_overlay_for_rgb_multichannel_and_stack(tmp_path, rng):
    labels = np.ones((20, 30), dtype=np.int32)
    labels[:, 15:] = 2
    rgb = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    path = write_overlay(tmp_path / "o.png", rgb, labels)
    picture = iio.imread(path)
    assert picture.shape == (20, 30, 3) and picture.dtype == np.uint8
    assert (picture[:, 14] == (255, 255, 0)).all()  # the boundary is drawn
    two_channels = rng.integers(0, 4000, (2, 20, 30), dtype=np.uint16)
    assert overlay_rgb(two_channels, labels, channel_axis=0).shape == (20, 30, 3)
    stack = rng.random((5, 20, 30)).astype(np.float32)
    volume = np.repeat(labels[None], 5, axis=0)
    volume[2] = 1  # the middle plane is the one shown: no boundary there
    middle = overlay_rgb(stack, volume)
    assert middle.shape == (20, 30, 3) and not (middle == (255, 255, 0)).all(axis=-1).any()
    with pytest.raises(ValueError, match="do not match"):
        overlay_rgb(rgb, labels[:10])
