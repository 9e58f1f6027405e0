"""The part of a widget run that happens off the GUI thread, and its error wording.

:func:`run_job` is what the napari thread worker executes (the Qt side, in
:mod:`._runner`, carries its progress events back to the GUI thread). Qt-free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._api import Segmentation, run_segmentation
from .._guard import is_out_of_memory
from .._progress import Progress
from .._registry import get_method
from .._threads import DEFAULT_THREADS
from ._lazy import label_count, run_chunked, wants_chunks


@dataclass(frozen=True)
class Job:
    """Everything a run needs, captured on the GUI thread when Run is pressed."""

    image: object  # numpy or dask array; read in the worker thread
    method: str
    channel_axis: int | None
    seed: int
    device: str
    params: dict = field(default_factory=dict)
    #: ``output``, ``spacing``, ``object_diameter``, ``background_classes`` of segment()
    output: dict = field(default_factory=dict)
    threads: int = DEFAULT_THREADS


@dataclass(frozen=True)
class Outcome:
    result: Segmentation
    device: str
    seconds: float
    #: the largest id, counted here off the GUI thread (lazy labels are read from disk)
    n_labels: int

    @property
    def labels(self) -> np.ndarray:
        return self.result.labels


def device_used(method: str, device: str) -> str:
    """The device a run really uses: resolved for torch methods, "cpu" otherwise."""
    if not get_method(method).uses_torch:
        return "cpu"
    from .._device import resolve_device

    return str(resolve_device(device))


def throttled(report: Callable[[Progress], None], interval: float = 0.05):
    """Forward at most one event per ``interval`` seconds, but every preview and the
    last iteration (by count, or the label count reaching its goal): a fast engine
    must not flood the GUI thread with events that it would only drain long after a
    Cancel."""
    last = -float("inf")

    def forward(event: Progress) -> None:
        nonlocal last
        now = time.perf_counter()
        final = bool(event.total) and event.iteration >= event.total
        reached = event.goal is not None and event.n_labels is not None
        final = final or (reached and event.n_labels <= event.goal)  # the run stops here
        if event.labels is not None or final or now - last >= interval:
            last = now
            report(event)

    return forward


def run_job(
    job: Job, report: Callable[[Progress], None], should_stop: Callable[[], bool]
) -> Outcome:
    """Run :func:`segment` for ``job`` (keeping the classes the labels came from);
    ``report`` gets its progress, throttled."""
    forward = throttled(report)

    def progress(event: Progress) -> bool:
        forward(event)
        return should_stop()

    uses_torch = get_method(job.method).uses_torch
    device = device_used(job.method, job.device)
    if wants_chunks(job.image, job.channel_axis):
        result, seconds = run_chunked(job, progress, should_stop, device if uses_torch else "cpu")
        return Outcome(result, device, seconds, label_count(result.labels))
    start = time.perf_counter()
    result = run_segmentation(
        job.image,
        job.method,
        channel_axis=job.channel_axis,
        seed=job.seed,
        device=device if uses_torch else job.device,
        progress=progress,
        should_stop=should_stop,
        **job.output,
        threads=job.threads,
        **job.params,
    )
    return Outcome(result, device, time.perf_counter() - start, label_count(result.labels))


def describe_error(error: BaseException, source: str, method: str) -> str:
    """A message a user can act on, without a traceback."""
    text = str(error).strip() or type(error).__name__
    where = f"'{source}' with {method}"
    if isinstance(error, MemoryError) or is_out_of_memory(error):
        return (
            f"Not enough memory to segment {where}. {text}\n"
            "Try 'current plane' instead of the whole stack, a cropped image, or another device."
        )
    if isinstance(error, ValueError | TypeError):
        return f"Cannot segment {where}: {text}"
    if "cuda" in text.lower() or "cudnn" in text.lower():
        return f"The GPU failed while segmenting {where}: {text}\nTry the device 'cpu'."
    return f"Segmenting {where} failed unexpectedly ({type(error).__name__}: {text})"
