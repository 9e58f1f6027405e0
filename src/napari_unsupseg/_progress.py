"""Progress reporting and cancellation shared by every segmenter.

Engines call :meth:`Reporter.update` once per iteration (or per stage). The reporter
forwards a :class:`Progress` record to the user's callback, decides when a live
preview of the labels is worth computing, and raises :class:`SegmentationCancelled`
as soon as the callback or the cancel check asks to stop, so that a run never
returns a half-made result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class SegmentationCancelled(RuntimeError):
    """Raised when the caller asked a running segmentation to stop."""


@dataclass(frozen=True)
class Progress:
    """One progress event.

    ``labels`` is a preview of the current labels (int32, numbered 1..K, the image's
    spatial shape). It is only filled every ``preview_interval`` seconds, because
    computing it costs a device-to-host copy.
    """

    iteration: int
    total: int
    n_labels: int | None = None
    loss: float | None = None
    labels: np.ndarray | None = None
    stage: str = ""
    #: the run stops when ``n_labels`` falls to this (None: it runs to ``total``)
    goal: int | None = None


ProgressCallback = Callable[[Progress], object]
CancelCheck = Callable[[], bool]


class Reporter:
    """Forward progress to a callback and turn stop requests into an exception.

    A callback returning ``True`` (or the cancel check returning ``True``) stops the
    run: :class:`SegmentationCancelled` is raised at the engine's next call.
    """

    def __init__(
        self,
        progress: ProgressCallback | None = None,
        should_stop: CancelCheck | None = None,
        preview_interval: float = 0.5,
        finalize_labels: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        self._progress = progress
        self._should_stop = should_stop
        self.preview_interval = preview_interval
        self._finalize = finalize_labels
        self._last_preview = -np.inf

    @property
    def wants_previews(self) -> bool:
        return self._progress is not None

    def preview_due(self) -> bool:
        """True when the callback should get a labels preview now."""
        return (
            self._progress is not None
            and time.perf_counter() - self._last_preview >= self.preview_interval
        )

    def check(self) -> None:
        """Raise :class:`SegmentationCancelled` if the cancel check asks to stop."""
        if self._should_stop is not None and self._should_stop():
            raise SegmentationCancelled("segmentation cancelled")

    def update(
        self,
        iteration: int,
        total: int,
        *,
        n_labels: int | None = None,
        loss: float | None = None,
        labels: np.ndarray | Callable[[], np.ndarray] | None = None,
        stage: str = "",
        goal: int | None = None,
    ) -> None:
        """Report one step; ``labels`` may be a zero-argument callable, only called
        when a preview is due, so engines pay for previews only when shown."""
        self.check()
        if self._progress is None:
            return
        preview = None
        if labels is not None and self.preview_due():
            preview = labels() if callable(labels) else labels
            if self._finalize is not None:
                preview = self._finalize(preview)
            self._last_preview = time.perf_counter()
        event = Progress(iteration, total, n_labels, loss, preview, stage, goal)
        if self._progress(event) is True:
            raise SegmentationCancelled("segmentation cancelled by the progress callback")
        self.check()
