"""Batch segmentation of many images, serially or on a Dask cluster.

One task per image: read, :func:`napari_unsupseg.segment`, write; the task returns its
row of the run record. The same function runs in the serial loop and on Dask workers,
so a cluster run and a serial run produce the same files. :func:`segment_batch` is the
whole run as ``unsupseg segment`` makes it (checks, cluster, progress bars, record);
:func:`run_batch` the loop alone, for a caller that brings its own client.

Seeding: every image is segmented with the run's seed and thread count unchanged. An
image's labels therefore depend only on the image, the method, its parameters, the seed
and ``threads``, never on the order of the images, the number of workers, their thread
settings or which worker took the task (see :mod:`napari_unsupseg._threads`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._batch_plan import (
    LABELS_SUFFIX,
    OVERLAY_SUFFIX,
    ROW_FIELDS,
    SAMPLE_PREFIX,
    SAMPLES,
    BatchSettings,
    BatchUsageError,
    ImageJob,
    find_images,
    load_source,
    plan_jobs,
    write_sample_truth,
)
from ._batch_record import count_statuses, json_safe, record_header, write_record
from .io import labels_file_ok, read_labels, write_labels, write_overlay

# ----------------------------------------------------------------------------- one image


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


# ----------------------------------------------------------------------------- the run


@dataclass
class BatchOutcome:
    """What :func:`segment_batch` did: the record it wrote, and where."""

    outdir: Path
    header: dict[str, Any]
    rows: list[dict[str, Any]]
    counts: dict[str, int]
    interrupted: bool
    files: tuple[Path, Path]

    @property
    def seconds(self) -> float:
        return self.header["seconds"]


def segment_batch(
    inputs: Sequence[str | os.PathLike],
    outdir,
    settings: BatchSettings,
    *,
    samples: Sequence[str] = (),
    recursive: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool = True,
    command: Sequence[str] = (),
) -> BatchOutcome:
    """Segment every image of ``inputs`` (and ``samples``) into ``outdir``, as
    ``unsupseg segment`` does: labels (and overlays), sample truths, ``run.json`` and
    ``run.csv``.

    ``workers``: on a local Dask cluster of that many processes; ``scheduler``: on the
    cluster at that address; neither: here, one image after another. ``progress``:
    tqdm bars. ``command`` is written into the record. Raises :class:`BatchUsageError`
    before anything runs (bad seed, threads or inputs, a folder holding another run
    without ``settings.overwrite``, an unreachable scheduler); a failed image never
    raises, it is a row of the record. Ctrl-C stops the run and still writes the
    record of what finished (``interrupted`` is then True).
    """
    from ._checks import check_seed
    from ._previous_run import other_run_in
    from ._provenance import Provenance
    from ._threads import check_threads
    from .io import remove_stale_temp_files

    if workers < 0:
        raise BatchUsageError("workers must be 0 (serial) or a number of worker processes")
    try:
        check_seed(settings.seed)
        check_threads(settings.threads)
        jobs = plan_jobs(inputs, outdir, samples=samples, recursive=recursive)
    except (ValueError, TypeError) as error:
        raise BatchUsageError(str(error)) from None
    if not settings.overwrite:
        reason = other_run_in(outdir, record_header(settings))
        if reason:
            raise BatchUsageError(reason)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    write_sample_truth(jobs)
    for folder in sorted({Path(job.output).parent for job in jobs}):
        remove_stale_temp_files(folder)

    provenance = Provenance.now(command)
    clock = time.perf_counter()
    rows: list[dict] = []
    interrupted = False
    with ExitStack() as stack:
        from ._batch_bars import BatchBars
        from ._cluster import dask_client

        try:
            client = stack.enter_context(dask_client(workers, scheduler))
        except (OSError, TimeoutError, ValueError) as error:
            raise BatchUsageError(f"cannot reach the Dask scheduler {scheduler}: {error}") from None
        where = scheduler or "serial"
        if workers:
            where = f"LocalCluster({workers} workers, 1 thread each)"
        header = record_header(settings, scheduler=where, provenance=provenance)
        bars = BatchBars(stack, len(jobs), enabled=progress)

        def on_row(row: dict) -> None:
            rows.append(row)
            bars.on_row(row)

        try:
            rows = run_batch(
                jobs, settings, client=client, on_row=on_row, image_progress=bars.image_progress
            )
        except KeyboardInterrupt:  # keep the record of what finished
            interrupted = True

    header["seconds"] = round(time.perf_counter() - clock, 3)
    header["interrupted"] = interrupted
    files = write_record(outdir, header, rows)
    return BatchOutcome(outdir, header, rows, count_statuses(rows), interrupted, files)


__all__ = [
    "LABELS_SUFFIX",
    "OVERLAY_SUFFIX",
    "ROW_FIELDS",
    "SAMPLES",
    "SAMPLE_PREFIX",
    "BatchOutcome",
    "BatchSettings",
    "BatchUsageError",
    "ImageJob",
    "find_images",
    "json_safe",
    "load_source",
    "plan_jobs",
    "process_image",
    "record_header",
    "run_batch",
    "segment_batch",
    "write_record",
]
