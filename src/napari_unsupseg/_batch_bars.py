"""The terminal progress of a batch: one bar over the images, with the ok / failed /
skipped counts and each failure written above it, and in a serial run one bar per
image over its iterations (tqdm)."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

from ._batch_plan import ImageJob


class BatchBars:
    """Bars entered on ``stack`` (closed when it closes, also on Ctrl-C)."""

    def __init__(self, stack: ExitStack, total: int, *, enabled: bool = True):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._stack = stack
        self.enabled = enabled
        self.counts = {"ok": 0, "failed": 0, "skipped": 0}
        self.bar = stack.enter_context(
            tqdm(total=total, desc="images", unit="image", disable=not enabled)
        )

    def on_row(self, row: dict) -> None:
        """Count a finished image; write its error above the bar when it failed."""
        self.counts[row["status"]] = self.counts.get(row["status"], 0) + 1
        self.bar.update(1)
        self.bar.set_postfix(self.counts, refresh=False)
        if row["status"] == "failed":
            self.bar.write(f"failed: {row['input']}: {row['error']}", file=sys.stderr)

    def image_progress(self, job: ImageJob):
        """A ``progress`` callback for ``segment`` that draws the image's own bar."""
        if not self.enabled:
            return None
        inner = {"bar": None}

        def callback(event) -> None:
            if inner["bar"] is None:
                inner["bar"] = self._stack.enter_context(
                    self._tqdm(total=event.total, desc=Path(job.display).name, leave=False)
                )
            current = inner["bar"]
            current.total = event.total
            current.n = event.iteration
            if event.n_labels is not None:
                current.set_postfix(labels=event.n_labels, refresh=False)
            current.refresh()
            if event.iteration >= event.total:
                current.close()

        return callback
