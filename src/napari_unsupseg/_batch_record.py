"""The record a batch leaves in its output folder: ``run.json`` (what ran, with what,
where, and one row per image) and ``run.csv`` (the rows, with the run-level columns
repeated so the CSV stands alone)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._batch_plan import ROW_FIELDS, BatchSettings
from ._csv import csv_text
from ._provenance import Provenance
from .io import atomic_write


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


def record_header(
    settings: BatchSettings, *, scheduler: str = "", provenance: Provenance | None = None
) -> dict:
    """Run-level facts for ``run.json``: what ran, with what, where, since when."""
    from ._registry import get_method

    provenance = provenance or Provenance.now()
    resolved = get_method(settings.method).resolve(settings.params)
    return {
        "tool": "unsupseg segment",
        "version": provenance.version,
        "command": list(provenance.command),
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
        **provenance.machine_fields(),
        "started": provenance.started_text,
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


def count_statuses(rows: Iterable[dict]) -> dict[str, int]:
    """How many images were ok, failed and skipped (and any other status met)."""
    counts = {status: 0 for status in ("ok", "failed", "skipped")}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def write_record(outdir, header: dict, rows: Sequence[dict]) -> tuple[Path, Path]:
    """Write ``run.json`` (header, counts, rows) and ``run.csv`` (one row per image, with
    the run-level columns repeated so the CSV stands alone), both atomically."""
    outdir = Path(outdir)
    rows = relative_outputs(rows, outdir)
    record = {**header, "counts": count_statuses(rows), "images": rows}
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
    text = csv_text([{**row, **run_columns} for row in rows], [*ROW_FIELDS, *run_columns])
    with atomic_write(csv_path) as handle:
        handle.write(text.encode())
    return json_path, csv_path
