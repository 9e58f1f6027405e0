"""Batch segmentation of many images, serially or on a Dask cluster.

One task per image: read, :func:`napari_unsupseg.segment`, write; the task returns its
row of the run record. The same function runs in the serial loop and on Dask workers,
so a cluster run and a serial run produce the same files.

Seeding: every image is segmented with the run's seed and thread count unchanged. An
image's labels therefore depend only on the image, the method, its parameters, the seed
and ``threads``, never on the order of the images, the number of workers, their thread
settings or which worker took the task (see :mod:`napari_unsupseg._threads`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._threads import DEFAULT_THREADS
from .io import (
    IMAGE_SUFFIXES,
    atomic_write,
    channel_axis_from_axes,
    labels_file_ok,
    read_image_with_axes,
    read_labels,
    write_labels,
    write_overlay,
)

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


# ----------------------------------------------------------------------------- planning


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


# ----------------------------------------------------------------------------- one image


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


def worker_name() -> str:
    """``host:pid`` of the process doing the work (which node failed, in a cluster)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _error_text(error: BaseException) -> str:
    message = str(error) or type(error).__name__
    if isinstance(error, ValueError | TypeError):
        return message
    return f"{type(error).__name__}: {message}"


def _is_done(job: ImageJob, settings: BatchSettings) -> bool:
    if not labels_file_ok(job.output):
        return False
    return not settings.overlay or Path(job.overlay).is_file()


def process_image(
    job: ImageJob,
    settings: BatchSettings,
    progress: Callable | None = None,
) -> dict[str, Any]:
    """Read, segment and write one image; return its record row. Never raises for a
    bad image: the error goes into the row (status ``failed``) and the batch goes on."""
    from ._api import run_segmentation

    start = time.perf_counter()
    row: dict[str, Any] = {name: "" for name in ROW_FIELDS}
    row.update(input=job.display, output=job.output, status="failed", worker=worker_name())
    if settings.overlay:
        row["overlay"] = job.overlay
    try:
        if not settings.overwrite and _is_done(job, settings):
            labels = read_labels(job.output)
            row.update(status="skipped", n_labels=int(labels.max(initial=0)))
            return row
        image, declared_axis = load_source(job.source)
        channel_axis = settings.channel_axis if settings.channel_axis is not None else declared_axis
        row["shape"] = "x".join(map(str, image.shape))
        row["channel_axis"] = "" if channel_axis is None else channel_axis
        began = time.perf_counter()
        result = run_segmentation(
            image,
            settings.method,
            channel_axis=channel_axis,
            seed=settings.seed,
            device=settings.device,
            normalize=settings.normalize,
            threads=settings.threads,
            progress=progress,
            output=settings.output,
            spacing=settings.spacing,
            object_diameter=settings.object_diameter,
            background_classes=settings.background_classes,
            **settings.params,
        )
        labels = result.labels
        row["output_kind"] = result.plan.kind
        row["segment_seconds"] = round(time.perf_counter() - began, 4)
        if settings.overlay:
            write_overlay(job.overlay, image, labels, channel_axis=channel_axis)
        write_labels(job.output, labels)
        row.update(status="ok", n_labels=int(labels.max(initial=0)))
    except Exception as error:
        row["error"] = _error_text(error)
    finally:
        row["seconds"] = round(time.perf_counter() - start, 4)
    return row


def failed_row(job: ImageJob, settings: BatchSettings, error: BaseException) -> dict[str, Any]:
    """The row of a task that never returned (its worker died, the cluster went away)."""
    row: dict[str, Any] = {name: "" for name in ROW_FIELDS}
    row.update(input=job.display, output=job.output, status="failed", error=_error_text(error))
    if settings.overlay:
        row["overlay"] = job.overlay
    return row


# ----------------------------------------------------------------------------- the batch


def run_batch(
    jobs: Sequence[ImageJob],
    settings: BatchSettings,
    *,
    client=None,
    on_row: Callable[[dict], None] | None = None,
    image_progress: Callable[[ImageJob], Callable | None] | None = None,
) -> list[dict[str, Any]]:
    """Process every job and return the rows in job order.

    With a ``distributed.Client`` each image is one task (``client.submit``) and rows
    arrive as tasks finish; without, images run one after another in this process,
    and ``image_progress(job)`` may give a per-iteration callback for ``segment``.
    ``on_row`` sees each row as soon as it exists (for a progress bar).
    """
    rows: dict[int, dict] = {}

    def done(index: int, row: dict) -> None:
        rows[index] = row
        if on_row is not None:
            on_row(row)

    if client is None:
        for index, job in enumerate(jobs):
            callback = image_progress(job) if image_progress is not None else None
            done(index, process_image(job, settings, callback))
    else:
        from distributed import as_completed

        futures = {
            client.submit(process_image, job, settings, pure=False): index
            for index, job in enumerate(jobs)
        }
        try:
            for future in as_completed(futures):
                index = futures[future]
                try:
                    row = future.result()
                except Exception as error:  # the task's worker died, or similar
                    row = failed_row(jobs[index], settings, error)
                done(index, row)
        except BaseException:
            client.cancel(list(futures))
            raise
    return [rows[index] for index in sorted(rows)]


# ----------------------------------------------------------------------------- the record


def json_safe(value: Any) -> Any:
    """Parameters as JSON: arrays are summarised, numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return f"array{tuple(value.shape)} {value.dtype}"
    if isinstance(value, np.generic):
        return value.item()
    return value


def record_header(settings: BatchSettings, *, scheduler: str, command: Sequence[str]) -> dict:
    """Run-level facts for ``run.json``: what ran, with what, where."""
    from . import __version__
    from ._registry import get_method

    resolved = get_method(settings.method).resolve(settings.params)
    return {
        "tool": "unsupseg segment",
        "version": __version__,
        "command": list(command),
        "method": settings.method,
        "params": json_safe(resolved),
        "seed": settings.seed,
        "seeding": "every image is segmented with this seed",
        "threads": settings.threads,
        "device": settings.device,
        "channel_axis": settings.channel_axis,
        "normalize": settings.normalize,
        "output": settings.output,
        "spacing": json_safe(settings.spacing),
        "object_diameter": settings.object_diameter,
        "background_classes": json_safe(settings.background_classes),
        "overlay": settings.overlay,
        "overwrite": settings.overwrite,
        "scheduler": scheduler,
        "host": socket.gethostname(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def relative_outputs(rows: Iterable[dict], outdir) -> list[dict]:
    """Rows with output paths relative to the output folder (the record travels)."""
    outdir = Path(outdir).resolve()
    result = []
    for row in rows:
        row = dict(row)
        for key in ("output", "overlay"):
            if row.get(key):
                path = Path(row[key])
                if path.is_relative_to(outdir):
                    row[key] = path.relative_to(outdir).as_posix()
        result.append(row)
    return result


def write_record(outdir, header: dict, rows: Sequence[dict]) -> tuple[Path, Path]:
    """Write ``run.json`` (header, counts, rows) and ``run.csv`` (one row per image, with
    the run-level columns repeated so the CSV stands alone), both atomically."""
    outdir = Path(outdir)
    rows = relative_outputs(rows, outdir)
    counts = {status: 0 for status in ("ok", "failed", "skipped")}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    record = {**header, "counts": counts, "images": rows}
    json_path, csv_path = outdir / "run.json", outdir / "run.csv"
    with atomic_write(json_path) as handle:
        handle.write((json.dumps(record, indent=2) + "\n").encode())
    run_columns = {
        "method": header["method"],
        "params": json.dumps(header["params"], sort_keys=True),
        "seed": header["seed"],
        "threads": header["threads"],
        "device": header["device"],
        "version": header["version"],
    }
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[*ROW_FIELDS, *run_columns], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**{k: row.get(k, "") for k in ROW_FIELDS}, **run_columns})
    with atomic_write(csv_path) as handle:
        handle.write(text.getvalue().encode())
    return json_path, csv_path


__all__ = [
    "BatchSettings",
    "BatchUsageError",
    "ImageJob",
    "find_images",
    "load_source",
    "plan_jobs",
    "process_image",
    "run_batch",
    "write_record",
]
