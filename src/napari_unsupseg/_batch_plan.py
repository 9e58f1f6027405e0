"""What a batch is made of: the settings every image is segmented with, and one job
per image (where it comes from, where its outputs go), planned from the files, folders
and samples a user names. Nothing here segments or writes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._threads import DEFAULT_THREADS
from .io import IMAGE_SUFFIXES, channel_axis_from_axes, read_image_with_axes, write_labels

LABELS_SUFFIX = "_labels.tif"
OVERLAY_SUFFIX = "_overlay.png"
SAMPLE_PREFIX = "sample:"
#: Samples usable with ``--sample``: the channel axis each one has.
SAMPLES = {"coffee": None, "cells": 0, "cells_3d": None}
ROW_FIELDS = (
    "input",
    "output",
    "overlay",
    "status",
    "error",
    "seconds",
    "segment_seconds",
    "n_labels",
    "output_kind",
    "shape",
    "channel_axis",
    "worker",
)


class BatchUsageError(ValueError):
    """The batch cannot start: a missing input, no images found, a bad setting."""


@dataclass(frozen=True)
class BatchSettings:
    """What every image of a run is segmented with (sent to each worker)."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"
    channel_axis: int | None = None
    normalize: str = "auto"
    threads: int = DEFAULT_THREADS
    overlay: bool = False
    overwrite: bool = False
    #: what the labels are, and how objects are made (see :func:`napari_unsupseg.segment`)
    output: str = "auto"
    spacing: tuple[float, ...] | None = None
    object_diameter: float | None = None
    background_classes: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ImageJob:
    """One image: where it comes from and where its outputs go (absolute paths, so a
    worker started in another folder finds them)."""

    source: str  # an absolute file path, or "sample:NAME"
    display: str  # the input as the user named it, for the record
    output: str
    overlay: str


def find_images(
    inputs: Sequence[str | os.PathLike], *, recursive: bool = False, exclude=None
) -> list[tuple[Path, Path, str]]:
    """Expand files and folders into ``(file, subfolder, display)`` triples.

    Folders are scanned for TIFF, PNG and JPEG files (sorted by name; hidden files
    skipped; with ``recursive`` also subfolders, whose relative path is ``subfolder``).
    Files named explicitly are taken whatever their type: reading decides. Anything
    under ``exclude`` (the output folder) is left out.
    """
    exclude = Path(exclude).resolve() if exclude is not None else None
    found: list[tuple[Path, Path, str]] = []
    seen: set[Path] = set()

    def add(path: Path, subfolder: Path, display: str) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            found.append((resolved, subfolder, display))

    for entry in inputs:
        path = Path(entry)
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.iterdir()
            files = []
            for candidate in pattern:
                relative = candidate.relative_to(path)
                if any(part.startswith(".") for part in relative.parts):
                    continue
                if exclude is not None and candidate.resolve().is_relative_to(exclude):
                    continue
                if candidate.is_file() and candidate.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(candidate)
            for file in sorted(files, key=lambda f: f.relative_to(path).as_posix()):
                add(file, file.parent.relative_to(path), str(file))
        elif path.is_file():
            add(path, Path(), str(entry))
        else:
            raise BatchUsageError(f"input {str(entry)!r}: no such file or folder")
    return found


def plan_jobs(
    inputs: Sequence[str | os.PathLike],
    outdir,
    *,
    samples: Sequence[str] = (),
    recursive: bool = False,
) -> list[ImageJob]:
    """One job per image. Outputs are ``<stem>_labels.tif`` and ``<stem>_overlay.png`` in
    ``outdir`` (in the same subfolder with ``recursive``); when two inputs would share a
    name, the later ones (in input order) get ``<stem>-2``, ``<stem>-3``..."""
    outdir = Path(outdir).resolve()
    jobs: list[ImageJob] = []
    taken: set[str] = set()

    def add(source: str, display: str, subfolder: Path, stem: str) -> None:
        name, number = stem, 1
        while str(subfolder / name).lower() in taken:
            number += 1
            name = f"{stem}-{number}"
        taken.add(str(subfolder / name).lower())
        base = outdir / subfolder / name
        jobs.append(
            ImageJob(
                source=source,
                display=display,
                output=str(base) + LABELS_SUFFIX,
                overlay=str(base) + OVERLAY_SUFFIX,
            )
        )

    for sample in samples:
        if sample not in SAMPLES:
            raise BatchUsageError(
                f"unknown sample {sample!r}; available samples: {', '.join(SAMPLES)}"
            )
        add(SAMPLE_PREFIX + sample, SAMPLE_PREFIX + sample, Path(), sample)
    for path, subfolder, display in find_images(inputs, recursive=recursive, exclude=outdir):
        add(str(path), display, subfolder, path.stem)
    if not jobs:
        raise BatchUsageError(
            "no images found in " + ", ".join(map(str, inputs))
            if inputs
            else "nothing to segment: give image files or folders, or --sample NAME"
        )
    return jobs


def load_source(source: str) -> tuple[np.ndarray, int | None]:
    """The image of a job and the channel axis its file or sample declares."""
    if source.startswith(SAMPLE_PREFIX):
        from . import sample_data

        name = source[len(SAMPLE_PREFIX) :]
        data = getattr(sample_data, name)()
        image = data[0] if isinstance(data, tuple) else data
        return np.asarray(image), SAMPLES[name]
    image, axes = read_image_with_axes(source)
    return image, channel_axis_from_axes(axes, image.ndim)


TRUTH_SUFFIX = "_truth.tif"


def write_sample_truth(jobs: Sequence[ImageJob]) -> None:
    """Write ``<sample>_truth.tif`` beside the labels of each sample that has one, so
    that ``unsupseg evaluate`` can score them at once."""
    from . import sample_data

    for job in jobs:
        if not job.source.startswith(SAMPLE_PREFIX):
            continue
        data = getattr(sample_data, job.source[len(SAMPLE_PREFIX) :])()
        if isinstance(data, tuple):
            truth = np.asarray(data[1])
            write_labels(job.output[: -len(LABELS_SUFFIX)] + TRUTH_SUFFIX, truth)
