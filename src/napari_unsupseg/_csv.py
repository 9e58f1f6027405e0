"""Rows of dicts written as CSV: the one writer behind every table the package saves
(evaluation metrics and segment tables, measurements, the batch record, benchmarks).

Two line endings are in use and kept, so that files stay byte for byte what they were:
tables a user asks for (``evaluate --csv``, ``measure``) end lines as the ``csv``
module does by default (``\\r\\n``); the records a run leaves (``run.csv``,
``bench*.csv``) end them with ``\\n``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

#: the ``csv`` module's own line ending, for tables a user asks for
TABLE_LINE_END = "\r\n"
#: the line ending of run records and benchmark tables
RECORD_LINE_END = "\n"


def csv_text(
    rows: Iterable[dict], fields: Sequence[str], *, line_end: str = RECORD_LINE_END
) -> str:
    """The CSV text of ``rows`` under the header ``fields``; a field a row lacks is
    written empty, a key outside ``fields`` is left out."""
    text = io.StringIO()
    writer = csv.DictWriter(
        text, fieldnames=list(fields), lineterminator=line_end, extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def write_csv(
    path, rows: Iterable[dict], fields: Sequence[str], *, line_end: str = TABLE_LINE_END
) -> Path:
    """Write ``rows`` to ``path`` in place (a plain ``open``, so ``/dev/stdout`` and
    other special files work); returns the path. Records that must never be left
    half-written go through :func:`napari_unsupseg.io.atomic_write` with
    :func:`csv_text` instead."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        handle.write(csv_text(rows, fields, line_end=line_end))
    return path
