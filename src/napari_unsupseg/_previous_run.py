"""What an output folder already holds: a run to resume, or another run to keep.

Re-running ``unsupseg segment`` into a folder skips the images already done, so that an
interrupted batch finishes where it stopped. That is only right when the labels there
came from the same settings: labels of another method (or seed, or parameters) would be
kept under a record naming the new ones. Such a folder is refused instead, unless the
user asks for ``--overwrite``.
"""

from __future__ import annotations

import json
from pathlib import Path

#: run.json fields that decide the labels: a folder made with other values is another run
LABEL_SETTINGS = (
    "method",
    "params",
    "seed",
    "threads",
    "channel_axis",
    "normalize",
    "output",
    "spacing",
    "object_diameter",
    "background_classes",
)


def other_run_in(outdir, header: dict) -> str | None:
    """Why ``outdir``'s run.json belongs to another run than ``header``; None when it is
    the same run, or when there is none (or it cannot be read: nothing to protect)."""
    path = Path(outdir) / "run.json"
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(previous, dict):
        return None
    new = json.loads(json.dumps({k: header.get(k) for k in LABEL_SETTINGS}))
    changed = [key for key in LABEL_SETTINGS if key in previous and previous[key] != new[key]]
    if not changed:
        return None
    details = []
    for key in changed:
        if key == "params" and isinstance(previous[key], dict):
            old = previous[key]
            names = sorted(k for k in {*old, *new[key]} if old.get(k) != new[key].get(k))
            details += [f"{k}: {old.get(k)!r} -> {new[key].get(k)!r}" for k in names]
        else:
            details.append(f"{key}: {previous[key]!r} -> {new[key]!r}")
    return (
        f"{outdir} holds the labels of another run (method {previous.get('method')!r}; "
        f"changed: {'; '.join(details)}). Re-running would keep those labels under the new "
        "settings. Use another -o folder, or --overwrite to replace them."
    )
