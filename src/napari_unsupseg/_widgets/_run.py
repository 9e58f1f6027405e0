"""The model of one press of Run: its job, its state, its cancel flag. Qt-free.

The segmentation and transfer docks share this state and the life cycle that drives
it (:mod:`._runner`, the Qt side). What a run asked for and where its result goes are
the widget's own (:class:`._segment_run.SegmentRun`, :class:`._transfer_run.TransferRun`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .._progress import Progress
from ._worker import Job


@dataclass
class Run:
    """A run in flight: the job, the last progress seen, and how to stop it."""

    job: Job
    record: dict
    cancel: threading.Event = field(default_factory=threading.Event)
    worker: object = None  # the napari thread worker running the job
    preview: object = None  # the live preview Labels layer, once shown
    last: Progress | None = None
    first_labels: int | None = None
    why_cancelled: str = ""

    def note(self, event: Progress) -> None:
        """Remember a progress event (the first label count sets the bar's scale)."""
        self.last = event
        if self.first_labels is None and event.n_labels is not None:
            self.first_labels = event.n_labels

    def cancelled_text(self) -> str:
        """The status line after a cancel: where the run stopped, and why."""
        where = f" at iteration {self.last.iteration}" if self.last is not None else ""
        return f"Cancelled{where}{self.why_cancelled}."

    def timing(self, outcome) -> dict:
        """The record of the finished run: what was asked, and where and how long it ran."""
        return {**self.record, "device": outcome.device, "run_time_s": round(outcome.seconds, 3)}
