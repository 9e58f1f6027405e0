"""Reading images and label files, writing labels and overlays without ever leaving a
half-written file behind.

Every writer goes through :func:`atomic_write`: the data go to a temporary file in the
destination folder, are flushed to disk, and only then ``os.replace`` puts the file in
place. A crash, a SIGKILL or Ctrl-C therefore leaves either the old file, the complete
new one, or a stray temporary file (named ``.*.unsupseg-tmp``) that
:func:`remove_stale_temp_files` sweeps away; never a truncated TIFF.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

TIFF_SUFFIXES = (".tif", ".tiff")
IMAGE_SUFFIXES = (*TIFF_SUFFIXES, ".png", ".jpg", ".jpeg")
LABEL_SUFFIXES = (*TIFF_SUFFIXES, ".png", ".npy", ".npz")
TEMP_SUFFIX = ".unsupseg-tmp"
#: Keys tried, in order, for the label stack in an ``.npz`` (BSDS500 uses ``segs``).
NPZ_LABEL_KEYS = ("segs", "labels", "ground_truth", "groundtruth", "gt", "masks")


class ImageReadError(ValueError):
    """A file that cannot be read as an image or a label image; the message says why."""


# ----------------------------------------------------------------------------- reading


def read_image(path) -> np.ndarray:
    """Read a TIFF (tifffile: multichannel, z-stacks), PNG or JPEG (imageio) as an array."""
    return read_image_with_axes(path)[0]


def read_image_with_axes(path) -> tuple[np.ndarray, str | None]:
    """Like :func:`read_image`, plus the TIFF's axes string (e.g. ``"CYX"``) when the
    file says which axis holds channels; ``None`` when it does not."""
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return _read_tiff(path)
    if suffix in (".png", ".jpg", ".jpeg"):
        return _read_with_imageio(path), None
    raise ImageReadError(
        f"cannot read {path}: unsupported file type {suffix or '(none)'!r}; "
        f"supported: {', '.join(IMAGE_SUFFIXES)}"
    )


def channel_axis_from_axes(axes: str | None, ndim: int) -> int | None:
    """The channel axis a TIFF declares (``C``, or ``S`` for samples such as RGB)."""
    if not axes or len(axes) != ndim:
        return None
    for letter in ("C", "S"):
        if letter in axes:
            return axes.index(letter)
    return None


def read_labels(path) -> np.ndarray:
    """Read a label image: TIFF, PNG, NPY or NPZ; integer ids, 0 = background.

    An ``.npz`` may hold a stack of several annotators' label images on its first axis
    (the BSDS500 layout, key ``segs``). A colour PNG (RGB) is turned into ids, one per
    distinct colour, black being 0.
    """
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        data = _read_tiff(path)[0]
    elif suffix == ".png":
        data = _read_with_imageio(path)
        if data.ndim == 3 and data.shape[-1] in (3, 4):
            data = _colours_to_ids(data[..., :3], path)
    elif suffix == ".npy":
        data = _guarded(path, lambda: np.load(path, allow_pickle=False))
    elif suffix == ".npz":
        data = _read_npz(path)
    else:
        raise ImageReadError(
            f"cannot read labels from {path}: unsupported file type {suffix or '(none)'!r}; "
            f"supported: {', '.join(LABEL_SUFFIXES)}"
        )
    return _as_label_array(np.asarray(data), path)


def labels_file_ok(path) -> bool:
    """True when ``path`` exists and reads back completely as a label image."""
    try:
        read_labels(path)
    except (ImageReadError, OSError):
        return False
    return True


#: The first bytes every file of a type starts with: a wrong start is named clearly.
_SIGNATURES = {
    ".png": ("PNG", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("JPEG", (b"\xff\xd8\xff",)),
    ".jpeg": ("JPEG", (b"\xff\xd8\xff",)),
    ".tif": ("TIFF", (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")),
    ".tiff": ("TIFF", (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")),
    ".npy": ("NPY", (b"\x93NUMPY",)),
    ".npz": ("NPZ", (b"PK\x03\x04", b"PK\x05\x06")),
}


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ImageReadError(f"cannot read {path}: no such file")
    if not path.is_file():
        raise ImageReadError(f"cannot read {path}: not a file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"cannot read {path}: the file is empty")
    kind, signatures = _SIGNATURES.get(path.suffix.lower(), ("", ()))
    if signatures:
        with open(path, "rb") as handle:
            start = handle.read(8)
        if not start.startswith(signatures):
            raise ImageReadError(
                f"cannot read {path}: not a {kind} file (it does not start as one does); "
                "is it damaged, or named with the wrong extension?"
            )


def _guarded(path: Path, read: Callable[[], np.ndarray]) -> np.ndarray:
    try:
        return read()
    except ImageReadError:
        raise
    except Exception as error:  # every reader has its own exception types
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise ImageReadError(f"cannot read {path}: {type(error).__name__}: {first_line}") from error


def _read_with_imageio(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return np.asarray(_guarded(path, lambda: iio.imread(path)))


def _read_tiff(path: Path) -> tuple[np.ndarray, str | None]:
    """Read the first series, refusing truncated files instead of returning part."""
    import tifffile

    def read():
        with tifffile.TiffFile(path) as tif:
            size = tif.filehandle.size
            for page in tif.pages:
                ends = np.add(page.dataoffsets, page.databytecounts)
                if ends.size and int(ends.max()) > size:
                    raise ImageReadError(f"cannot read {path}: the file is truncated")
            series = tif.series[0]
            if tif.is_shaped and tif.shaped_metadata:
                expected = tuple(tif.shaped_metadata[0].get("shape", series.shape))
                if int(np.prod(expected)) != int(np.prod(series.shape)):
                    raise ImageReadError(
                        f"cannot read {path}: the file is truncated (it declares shape "
                        f"{expected}, holds {series.shape})"
                    )
            return series.asarray(), series.axes

    data, axes = _guarded(path, read)
    return np.asarray(data), axes


def _read_npz(path: Path) -> np.ndarray:
    with _guarded(path, lambda: np.load(path, allow_pickle=False)) as archive:
        names = list(archive.files)
        for key in NPZ_LABEL_KEYS:
            if key in names:
                return _guarded(path, lambda key=key: archive[key])
        if len(names) == 1:
            return _guarded(path, lambda: archive[names[0]])
    raise ImageReadError(
        f"cannot read labels from {path}: it holds the arrays {', '.join(names) or 'none'}; "
        f"expected one array or one named {', '.join(NPZ_LABEL_KEYS)}"
    )


#: a colour label PNG of over 256 colours has segments of this many pixels on average,
#: at least; fewer is a photograph or an overlay (every blended pixel its own colour)
MIN_PIXELS_PER_COLOUR = 16


def _colours_to_ids(rgb: np.ndarray, path: Path) -> np.ndarray:
    packed = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8)
    packed |= rgb[..., 2].astype(np.int64)
    colours, ids = np.unique(packed, return_inverse=True)
    if len(colours) > max(256, packed.size / MIN_PIXELS_PER_COLOUR):
        hint = ""
        if path.name.endswith("_overlay.png"):
            hint = f"; score the labels file {path.name[: -len('_overlay.png')]}_labels.tif"
        raise ImageReadError(
            f"{path} is not a label image: {len(colours)} colours in {packed.size} pixels "
            f"look like a photograph or an overlay{hint}"
        )
    if colours[0] != 0:  # no black: every colour is a segment
        ids = ids + 1
    return ids.reshape(rgb.shape[:2])


def _as_label_array(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype == bool:
        return data.astype(np.int32)
    if np.issubdtype(data.dtype, np.integer):
        return data
    if np.issubdtype(data.dtype, np.floating):
        if np.all(np.isfinite(data)) and np.array_equal(data, np.round(data)):
            return data.astype(np.int64)
        raise ImageReadError(
            f"{path} holds non-integer values ({data.dtype}): a label image needs whole-number ids"
        )
    raise ImageReadError(f"{path} holds {data.dtype} data: a label image needs integer ids")


# ----------------------------------------------------------------------------- writing


@contextlib.contextmanager
def atomic_write(path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces
    ``path`` in one step, on any error (Ctrl-C included) it is deleted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
    try:
        with open(temp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def remove_stale_temp_files(folder) -> list[Path]:
    """Delete temporary files an interrupted run left in ``folder``; return them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = sorted(folder.glob(f".*{TEMP_SUFFIX}"))
    for temp in stale:
        with contextlib.suppress(OSError):
            temp.unlink()
    return stale


def write_labels(path, labels) -> Path:
    """Write integer labels as a zlib-compressed TIFF, atomically. Any shape (2D, 3D)."""
    import tifffile

    labels = np.asarray(labels)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be an integer array, got dtype {labels.dtype}")
    path = Path(path)
    with atomic_write(path) as handle:
        tifffile.imwrite(handle, labels, photometric="minisblack", compression="zlib")
    return path


def write_overlay(path, image, labels, *, channel_axis: int | None = None, alpha=0.4) -> Path:
    """Write a PNG of ``image`` with label colours blended in and boundaries drawn.

    Stacks show their middle plane (middle index of every axis before y, x).
    """
    import imageio.v3 as iio

    rgb = overlay_rgb(image, labels, channel_axis=channel_axis, alpha=alpha)
    path = Path(path)
    with atomic_write(path) as handle:
        iio.imwrite(handle, rgb, extension=".png")
    return path


def overlay_rgb(image, labels, *, channel_axis: int | None = None, alpha=0.4) -> np.ndarray:
    """The overlay as a (Y, X, 3) uint8 array (see :func:`write_overlay`)."""
    from skimage.segmentation import find_boundaries

    from ._preprocess import prepare_image

    labels = np.asarray(labels)
    features = prepare_image(image, channel_axis=channel_axis).features
    if features.shape[:-1] != labels.shape:
        raise ValueError(
            f"labels of shape {labels.shape} do not match the image's spatial shape "
            f"{features.shape[:-1]}"
        )
    while features.ndim > 3:  # middle plane of each leading (z, t) axis
        middle = features.shape[0] // 2
        features, labels = features[middle], labels[middle]
    base = _display_rgb(features)
    colours = label_colours(int(labels.max()) + 1)
    blended = (1 - alpha) * base + alpha * colours[labels]
    blended = np.where((labels > 0)[..., None], blended, base)
    edges = find_boundaries(labels, mode="inner")
    blended[edges] = (1.0, 1.0, 0.0)
    return np.round(np.clip(blended, 0, 1) * 255).astype(np.uint8)


def _display_rgb(features: np.ndarray) -> np.ndarray:
    """Channels in [0, 1] to RGB: grey; two channels magenta/green; else the first three."""
    n = features.shape[-1]
    if n == 1:
        return np.repeat(features, 3, axis=-1)
    if n == 2:
        return np.stack([features[..., 0], features[..., 1], features[..., 0]], axis=-1)
    return features[..., :3]


def label_colours(n: int) -> np.ndarray:
    """(n, 3) colours in [0, 1], fixed for every run: label i always gets colour i.

    Hues step by the golden ratio so neighbouring ids differ; id 0 is black."""
    from matplotlib.colors import hsv_to_rgb

    index = np.arange(n, dtype=np.float64)
    hsv = np.stack(
        [(index * 0.618033988749895) % 1.0, np.full(n, 0.75), 0.75 + 0.25 * (index % 2)], axis=-1
    )
    colours = hsv_to_rgb(hsv)
    colours[:1] = 0.0
    return colours
