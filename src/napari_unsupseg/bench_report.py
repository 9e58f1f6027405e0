"""What a benchmark run writes: the per-method summary (instance scores 2D and 3D apart),
the markdown report with its notes on how each figure was measured, and the CSV files.
Kept apart from :mod:`napari_unsupseg.bench`, which runs the methods."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from ._provenance import Provenance
from .evaluation import pool_best_ious
from .io import atomic_write

SUMMARY_FIELDS = (
    "method",
    "images",
    "failed",
    "miou_all",
    "miou_fine",
    "miou_coarse",
    "covering",
    "f1_50",
    "f1_75",
    "pq",
    "seg",
    "seconds_mean",
    "seconds_median",
    "tracemalloc_peak_mib",
    "rss_added_mib",
)
IMAGE_FIELDS = (
    "image",
    "method",
    "status",
    "error",
    "seconds",
    "ndim",
    "n_labels",
    "n_true",
    "f1_50",
    "f1_75",
    "pq",
    "seg",
    "n_annotators",
    "miou_all",
    "miou_fine",
    "miou_coarse",
    "covering",
    "rand_index",
    "ari",
    "vi",
    "tracemalloc_peak_mib",
    "rss_added_mib",
)


def rounded(value, digits: int = 4):
    if value is None:
        return ""
    value = float(value)
    return "" if np.isnan(value) else round(value, digits)


def summarise(label: str, rows: list[dict], ious, kind: str) -> list[dict]:
    """The summary row of the method run named ``label``; on instance data one row per
    dimensionality present (2D images and 3D stacks are reported apart: their scores do
    not pool)."""
    mine = [r for r in rows if r["method"] == label]
    if kind == "regions":
        pooled = pool_best_ious(ious)
        return [_summary_row(label, mine, {k: rounded(v) for k, v in pooled.items()})]
    ndims = sorted({r["ndim"] for r in mine if r["status"] == "ok"})
    if len(ndims) <= 1:
        return [_summary_row(label, mine, _means(mine, INSTANCE_KEYS))]
    return [
        _summary_row(f"{label} ({n}D)", group, _means(group, INSTANCE_KEYS))
        for n in ndims
        for group in [[r for r in mine if r["ndim"] in (n, "")]]
    ]


INSTANCE_KEYS = ("f1_50", "f1_75", "pq", "seg")


def _means(rows: list[dict], keys) -> dict:
    ok = [r for r in rows if r["status"] == "ok"]
    return {k: rounded(np.mean([r[k] for r in ok])) if ok else "" for k in keys}


def _summary_row(label: str, mine: list[dict], scores: dict) -> dict:
    ok = [r for r in mine if r["status"] == "ok"]
    seconds = [r["seconds"] for r in ok]
    traced = [r["tracemalloc_peak_mib"] for r in ok if r["tracemalloc_peak_mib"] != ""]
    covering = [r["covering"] for r in ok if r.get("covering", "") != ""]
    return {
        "method": label,
        "images": len(ok),
        "failed": len(mine) - len(ok),
        **scores,
        "covering": rounded(np.mean(covering)) if covering else "",
        "seconds_mean": round(statistics.fmean(seconds), 3) if seconds else "",
        "seconds_median": round(statistics.median(seconds), 3) if seconds else "",
        "tracemalloc_peak_mib": max(traced) if traced else "",
        "rss_added_mib": max((r["rss_added_mib"] for r in ok), default=""),
    }


_COLUMNS = {
    "regions": ("miou_all", "miou_fine", "miou_coarse", "covering"),
    "instances": INSTANCE_KEYS,
}
_TITLES = {
    "miou_all": "mIoU All",
    "miou_fine": "mIoU Fine",
    "miou_coarse": "mIoU Coarse",
    "covering": "covering",
    "f1_50": "F1@0.5",
    "f1_75": "F1@0.75",
    "pq": "PQ",
    "seg": "SEG",
}
_COMMON = ("seconds_mean", "seconds_median", "tracemalloc_peak_mib", "rss_added_mib")
_SCORE_NOTES = {
    "regions": "mIoU: best-match IoU of each ground-truth segment against the prediction "
    "split into 4-connected components; All pools every segment of every annotator of every "
    "image, Fine the annotator with most segments per image, Coarse the one with fewest. "
    "Covering: mean over images of the mean over annotators.",
    "instances": "Objects as predicted (no component split), label 0 background on both "
    "sides, one-to-one matching as StarDist's: F1 at IoU 0.5 and 0.75, panoptic quality at "
    "0.5, and the Cell Tracking Challenge's SEG; each the mean over images.",
}


def markdown_report(
    summary,
    *,
    kind,
    data_dir,
    n_images,
    where,
    provenance: Provenance,
    rss_resettable,
    trace_memory,
) -> str:
    columns = _COLUMNS[kind]
    titles = [_TITLES[c] for c in columns] + [
        "s/image mean",
        "s/image median",
        "tracemalloc peak MiB",
        "peak RSS added MiB",
    ]
    lines = [
        f"# Benchmark on {Path(data_dir).name} ({n_images} images)",
        "",
        "| method | images | " + " | ".join(titles) + " |",
        "|" + "---|" * (len(titles) + 2),
    ]
    for row in summary:
        cells = [
            row["method"],
            f"{row['images']}" + (f" ({row['failed']} failed)" if row["failed"] else ""),
        ]
        for key in (*columns, *_COMMON):
            value = row[key]
            cells.append(
                f"{value:.3f}" if isinstance(value, float) and key in columns else str(value)
            )
        lines.append("| " + " | ".join(cells) + " |")
    rss_note = (
        "how far the resident set size rose above its level at the call's start (VmHWM "
        "reset before each call)"
        if rss_resettable
        else "the process's peak resident set size so far (cannot be reset on this system)"
    )
    trace_note = (
        "tracemalloc peak of a second, untimed call (numpy and Python allocations, not torch's)"
        if trace_memory
        else "tracemalloc not run (--tracemalloc)"
    )
    lines += [
        "",
        _SCORE_NOTES[kind] + " Seconds: the segment() call only, after an untimed warm-up "
        f"call per method on a 64×64 crop. Memory: {trace_note}; {rss_note}; maximum over "
        "images.",
        "",
        f"- date: {provenance.started_text}",
        "- " + "; ".join(f"{key}: {value}" for key, value in where.items()),
        f"- machine: {provenance.machine_description()}",
    ]
    if provenance.command:
        lines.append(f"- command: `{' '.join(provenance.command)}`")
    return "\n".join(lines)


def write_text(path: Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text.encode())
