"""The life cycle of a dock's runs, on the Qt side: Run, progress, Cancel, the end.

One press of Run makes a :class:`._run.Run` (the widget's form does that), which runs
in a napari thread worker; its progress events cross to the GUI thread through a Qt
signal; Cancel sets the run's flag and gives the UI back after a grace period even if
the engine is slow to stop. The widget says what a run shows and writes through the
hooks of :class:`RunLifecycle`; the segmentation and transfer docks share the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from magicgui.widgets import Container, ProgressBar, PushButton
from napari.qt.threading import create_worker
from qtpy.QtCore import QObject, QTimer, Signal

from .._progress import Progress, SegmentationCancelled
from . import _outputs, _progress_text
from ._form import text_line
from ._run import Run
from ._worker import Outcome, describe_error

logger = logging.getLogger(__name__)

#: after Cancel, wait this long for the engine to stop before giving the UI back anyway
CANCEL_GRACE_MS = 1000


class ProgressRelay(QObject):
    """Carries :class:`Progress` events from the worker thread to the GUI thread."""

    progressed = Signal(object)


class RunLifecycle:
    """Starts a widget's runs, relays their progress, cancels them and ends them.

    ``notify`` shows an error to the user; ``on_progress(run, event)`` draws a
    progress event (the status line is written already); ``on_result(run, outcome)``
    writes the result and returns the status line; ``keep_on_cancel(run)`` says
    whether a cancelled run's preview stays (it is removed otherwise).
    """

    def __init__(
        self,
        owner,
        viewer,
        notify: Callable[[str], None],
        on_progress: Callable[[Run, Progress], None],
        on_result: Callable[[Run, Outcome], str],
        keep_on_cancel: Callable[[Run], bool] = lambda run: False,
        *,
        what: str = "segmentation",
    ):
        self._owner, self._viewer, self._what = owner, viewer, what
        self._notify, self._on_progress, self._on_result = notify, on_progress, on_result
        self._keep_on_cancel = keep_on_cancel
        self.current: Run | None = None
        self.closing = threading.Event()
        self.relay = ProgressRelay()
        self.relay.progressed.connect(self._progressed)
        self.button = PushButton(name="run", text="Run")
        self.progress = ProgressBar(name="progress", label="", value=0, min=0, max=100)
        self.status = text_line("status", label="")
        closing = self.closing
        owner.native.destroyed.connect(lambda *_: closing.set())

    @property
    def controls(self) -> tuple:
        """The Run / Cancel button, the progress bar and the status line, for the form."""
        return self.button, self.progress, self.status

    def press(self, prepare: Callable[[], Run], work, message: Callable[[Run], str]) -> None:
        """What the Run button does: cancel the run going on, or start a new one.

        ``prepare`` reads the form (ValueError or TypeError: told, nothing starts);
        ``work(job, report, should_stop)`` runs in the worker thread.
        """
        if self.current is not None:
            self.cancel()
            return
        try:
            run = prepare()
        except (ValueError, TypeError) as error:
            self._notify(str(error))
            return
        self._start(run, work, message(run))

    def _start(self, run: Run, work, message: str) -> None:
        closing = self.closing

        def should_stop() -> bool:
            return run.cancel.is_set() or closing.is_set()

        def report(event: Progress) -> None:
            self.relay.progressed.emit((run, event))

        worker = create_worker(work, run.job, report, should_stop, _ignore_errors=True)
        worker.returned.connect(partial(self._returned, run))
        worker.errored.connect(partial(self._errored, run))
        run.worker = worker
        self.current = run
        self.button.text = "Cancel"
        self.progress.value = 0
        self.status.value = message
        worker.start()

    def cancel(self) -> None:
        """Ask the run to stop; the UI is back within :data:`CANCEL_GRACE_MS`."""
        run = self.current
        if run is None or run.cancel.is_set():
            return
        run.cancel.set()
        self.button.text = "Cancelling…"
        self.button.enabled = False
        timer = QTimer(self._owner.native)
        timer.setSingleShot(True)
        timer.timeout.connect(partial(self._cancelled, run))
        timer.start(CANCEL_GRACE_MS)

    def _is_current(self, run: Run) -> bool:
        return run is self.current and not self.closing.is_set()

    def _progressed(self, payload) -> None:
        run, event = payload
        if not self._is_current(run) or run.cancel.is_set():
            return
        run.note(event)
        self.status.value = _progress_text.describe(event)
        self._on_progress(run, event)

    def _returned(self, run: Run, outcome: Outcome) -> None:
        if not self._is_current(run):
            return
        if run.cancel.is_set():
            self._cancelled(run)
            return
        message = self._on_result(run, outcome)
        _outputs.drop_preview(self._viewer, run)
        self.status.value = message
        self.progress.value = 100
        self._finish()

    def _errored(self, run: Run, error: BaseException) -> None:
        if not self._is_current(run):
            return
        if isinstance(error, SegmentationCancelled):
            self._cancelled(run)
            return
        if not isinstance(error, ValueError | TypeError | MemoryError):
            logger.error("%s failed", self._what, exc_info=error)
        _outputs.drop_preview(self._viewer, run)
        self.status.value = "Failed: see the notification."
        self._finish()
        self._notify(describe_error(error, run.record["source_layer"], run.job.method))

    def _cancelled(self, run: Run) -> None:
        if not self._is_current(run):
            return
        if not self._keep_on_cancel(run):
            _outputs.drop_preview(self._viewer, run)
        self.status.value = run.cancelled_text()
        self._finish()

    def _finish(self) -> None:
        self.current = None
        self.button.text = "Run"
        self.button.enabled = True


class RunDock(Container):
    """A dock whose Run button runs a job in a worker thread and turns into Cancel.

    A subclass is the form: it builds the fields, makes the run from them
    (``_prepare_run``), says what runs in the worker (``_work``) and shows progress
    and the result (``_on_progress``, ``_on_result``); errors go to ``_notify``.
    """

    #: what a run is called in the log when it fails
    what = "segmentation"

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        hooks = (self._notify, self._on_progress, self._on_result, self._keep_on_cancel)
        self._runs = RunLifecycle(self, napari_viewer, *hooks, what=self.what)
        self._run_button, self._progress, self._status = self._runs.controls
        self._run_button.changed.connect(self._on_run_clicked)

    @property
    def is_running(self) -> bool:
        return self._runs.current is not None

    @property
    def _run(self) -> Run | None:
        """The run in flight, if any."""
        return self._runs.current

    @property
    def _relay(self) -> ProgressRelay:
        """The signal carrying (run, progress event) to the GUI thread."""
        return self._runs.relay

    def run(self) -> None:
        """Start a run (what the Run button does when idle)."""
        if self._runs.current is None:
            self._on_run_clicked()

    def cancel(self) -> None:
        """Ask the run to stop; the UI is back within a second."""
        self._runs.cancel()

    def _on_run_clicked(self, *_) -> None:
        self._runs.press(self._prepare_run, self._work, self._starting)

    def _keep_on_cancel(self, run: Run) -> bool:
        return False
