"""Benchmark methods on a dataset with ground truth: quality, time and memory per method.

A dataset is a folder with ``images/*.jpg|png|tif`` and ``groundtruth/<stem>.npz``
holding a stack of annotators' label images (key ``segs``: the BSDS500 layout). Each
image is segmented with :func:`napari_unsupseg.segment` and scored with
:func:`napari_unsupseg.evaluation.evaluate`, the same code paths users run.

Pooling, as the papers do: every ground-truth segment gets its best IoU over
the predicted segments (split into 4-connected components). *All* averages those IoUs
over every segment of every annotator of every image; *Fine* keeps, per image, the
annotator with the most segments, *Coarse* the one with the fewest, pooled over images.

Time: wall seconds of the ``segment()`` call alone (reading and scoring excluded),
after one untimed warm-up call per method on a 64×64 crop, so that importing
scikit-learn or torch is not charged to the first image.

Memory, per ``segment()`` call: how far the process's resident set size rose above its
level at the call's start (Linux: VmHWM, reset before each call through
``/proc/self/clear_refs``; elsewhere the process's lifetime maximum, which only grows);
and, when asked (``trace_memory``), the
tracemalloc peak of a second, untimed call (numpy and Python allocations; torch's own
allocator is not traced). Tracing is kept out of the timed call because it slows
allocation-heavy code such as scikit-learn's k-means by up to half.

Usage from a script::

    from napari_unsupseg.bench import parse_method_spec, run_bench
    result = run_bench("data", [parse_method_spec("kmeans:n_clusters=6")], limit=5)
    print(result.markdown)
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ._threads import DEFAULT_THREADS
from .io import IMAGE_SUFFIXES, atomic_write, read_image, read_labels

MIB = 1024 * 1024
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


@dataclass(frozen=True)
class MethodRun:
    """One column of the comparison: a method with some of its parameters set."""

    label: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def is_baseline(self) -> bool:
        """A textbook pipeline (:mod:`napari_unsupseg.textbook`), not a segmenter."""
        from .textbook import BASELINES

        return self.method in BASELINES


def parse_method_spec(text: str) -> MethodRun:
    """``"kmeans"`` or ``"kmeans:n_clusters=6,spatial_weight=1"`` to a :class:`MethodRun`;
    values are checked by the method's own parameter rules. The textbook baselines
    (``gaussian-otsu``, ``voronoi-otsu``) take no parameters."""
    from ._registry import get_method
    from .textbook import BASELINES

    name, _, settings = text.strip().partition(":")
    if name.strip() in BASELINES:
        if settings.strip():
            raise ValueError(f"method spec {text!r}: the baseline {name!r} takes no parameters")
        return MethodRun(label=text.strip(), method=name.strip())
    spec = get_method(name.strip())
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in settings.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"method spec {text!r}: expected KEY=VALUE, got {item!r}")
        if key not in spec.defaults:
            spec.resolve({key: value})  # raises, naming the method's parameters
        if spec.param(key).kind == "array":
            raise ValueError(f"method spec {text!r}: {key!r} cannot be set in a benchmark")
        params[key] = spec.param(key).validate(value)
    return MethodRun(label=text.strip(), method=spec.name, params=params)


def dataset_kind(data_dir) -> str:
    """ "regions" for the BSDS500 layout (``groundtruth/<stem>.npz``, several annotators,
    scored by mIoU), "instances" for ``masks/<stem>.tif|png`` (one id per object, 0 =
    background, scored by F1, PQ and SEG)."""
    data_dir = Path(data_dir)
    if not (data_dir / "images").is_dir() or not any(
        (data_dir / folder).is_dir() for folder in ("groundtruth", "masks")
    ):
        raise FileNotFoundError(
            f"{data_dir} is not a benchmark dataset: expected images/ with groundtruth/"
            "<stem>.npz (region annotations) or masks/<stem>.tif|png (instance labels)"
        )
    return "regions" if (data_dir / "groundtruth").is_dir() else "instances"


def find_dataset(data_dir, limit: int | None = None) -> list[tuple[Path, Path]]:
    """(image, ground truth) pairs of a dataset folder, sorted by name."""
    data_dir = Path(data_dir)
    images_dir = data_dir / "images"
    kind = dataset_kind(data_dir)
    images = sorted(
        p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not images:
        raise FileNotFoundError(f"no images (jpg, png, tif) in {images_dir}")
    if limit is not None:
        images = images[:limit]
    if kind == "regions":
        return [(image, data_dir / "groundtruth" / f"{image.stem}.npz") for image in images]
    return [(image, _mask_of(data_dir / "masks", image.stem)) for image in images]


def _mask_of(masks_dir: Path, stem: str) -> Path:
    for suffix in (".tif", ".tiff", ".png"):
        if (masks_dir / f"{stem}{suffix}").is_file():
            return masks_dir / f"{stem}{suffix}"
    return masks_dir / f"{stem}.tif"  # reading it fails with a clear message


# ----------------------------------------------------------------------------- measuring


class PeakRSS:
    """How far the resident memory of this process rose over a stretch of code: its
    peak minus what was resident at the start (images, libraries, allocator caches
    that earlier calls left behind), so that a call is charged only for itself."""

    _CLEAR = Path("/proc/self/clear_refs")
    _STATUS = Path("/proc/self/status")

    def __init__(self):
        self.resettable = self._reset()
        self._baseline = 0

    def _reset(self) -> bool:
        try:
            self._CLEAR.write_text("5")  # Linux: resets VmHWM to the current RSS
            return True
        except OSError:
            return False

    def start(self) -> None:
        if self.resettable:
            self._reset()
            self._baseline = self._high_water_mark()

    def _high_water_mark(self) -> int:
        for line in self._STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def peak_bytes(self) -> int:
        """Bytes the peak rose above the start (where VmHWM cannot be reset: the
        process's lifetime peak)."""
        if self.resettable:
            return max(0, self._high_water_mark() - self._baseline)
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) * (1 if sys.platform == "darwin" else 1024)


def call_method(
    image,
    run: MethodRun,
    *,
    seed: int,
    device: str,
    output: str = "auto",
    threads: int = DEFAULT_THREADS,
):
    """The run's labels: ``segment()``, or the textbook baseline it names."""
    from ._api import segment
    from .textbook import run_baseline

    if run.is_baseline:
        return run_baseline(run.method, image)
    return segment(
        image, run.method, seed=seed, device=device, output=output, threads=threads, **run.params
    )


def measured_segment(image, run: MethodRun, *, seed: int, device: str, rss: PeakRSS, **kw):
    """``segment()`` with its wall time and how far the process's RSS rose during it."""
    rss.start()
    start = time.perf_counter()
    labels = call_method(image, run, seed=seed, device=device, **kw)
    seconds = time.perf_counter() - start
    return labels, seconds, rss.peak_bytes()


def traced_peak(image, run: MethodRun, *, seed: int, device: str, **kw) -> int:
    """tracemalloc's peak over a second, untimed ``segment()`` call (tracing slows
    allocation-heavy code by up to half, so it never runs during the timed call)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        call_method(image, run, seed=seed, device=device, **kw)
        return tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()


def warm_up(image, run: MethodRun, *, seed: int, device: str, **kw) -> None:
    """One untimed call on a small crop, so first-call costs (importing scikit-learn or
    torch, allocator and thread-pool start-up) do not land on the first image."""
    crop = image[tuple(slice(0, 64) for _ in range(2))]
    with contextlib.suppress(ValueError, TypeError, RuntimeError, MemoryError):
        call_method(crop, run, seed=seed, device=device, **kw)  # errors: see timed call


# ----------------------------------------------------------------------------- scoring


def annotator_ious(labels: np.ndarray, truth: np.ndarray) -> list[np.ndarray]:
    """Per annotator, the best-match IoU of each of its segments (for pooling)."""
    from .evaluation import best_match_ious

    return list(best_match_ious(labels, truth))


def region_scores(labels, truth, ious) -> dict:
    """One image's region scores (BSDS layout: several annotators)."""
    from .evaluation import evaluate

    scores = evaluate(labels, truth)
    return {
        "n_annotators": len(ious),
        **{k: _round(scores.get(k)) for k in ("covering", "rand_index", "ari", "vi")},
        **{k: _round(v) for k, v in pool([ious]).items()},
    }


def instance_scores(labels, truth) -> dict:
    """One image's instance scores, as StarDist and the Cell Tracking Challenge count
    them: objects are the predicted labels as they are (no component split), label 0
    is background on both sides; F1 and PQ from one-to-one matching at IoU 0.5 and
    0.75, SEG (Jaccard of the prediction covering over half of each true object)."""
    from .evaluation import evaluate

    scores = evaluate(
        labels, truth, split_components=False, ignore_background=True, thresholds=(0.5, 0.75)
    )
    return {
        "n_true": int(scores["n_gt"]),
        "f1_50": _round(scores["f1@0.5"]),
        "f1_75": _round(scores["f1@0.75"]),
        "pq": _round(scores["pq@0.5"]),
        "seg": _round(scores["seg"]),
    }


def pool(per_image: Sequence[Sequence[np.ndarray]]) -> dict[str, float]:
    """mIoU All / Fine / Coarse from per-image lists of per-annotator IoU arrays."""
    every, fine, coarse = [], [], []
    for annotators in per_image:
        if not annotators:
            continue
        sizes = [len(ious) for ious in annotators]
        every.extend(annotators)
        fine.append(annotators[int(np.argmax(sizes))])
        coarse.append(annotators[int(np.argmin(sizes))])

    def mean(arrays) -> float:
        joined = np.concatenate(arrays) if arrays else np.empty(0)
        return float(joined.mean()) if joined.size else float("nan")

    return {"miou_all": mean(every), "miou_fine": mean(fine), "miou_coarse": mean(coarse)}


# ----------------------------------------------------------------------------- the run


@dataclass
class BenchResult:
    summary: list[dict[str, Any]]
    images: list[dict[str, Any]]
    markdown: str
    files: list[Path]

    @property
    def n_failed(self) -> int:
        return sum(row["status"] != "ok" for row in self.images)


def run_bench(
    data_dir,
    methods: Sequence[MethodRun | str],
    *,
    limit: int | None = None,
    seed: int = 0,
    device: str = "auto",
    threads: int = DEFAULT_THREADS,
    outdir=None,
    trace_memory: bool = False,
    progress: bool = True,
    command: Sequence[str] | None = None,
    output: str = "auto",
) -> BenchResult:
    """Segment and score every image with every method; write the tables to ``outdir``
    (``bench.md``, ``bench.csv``, ``bench_images.csv``) when given. ``output`` is passed
    to ``segment()``: on an instance dataset, "auto" gives grey and multichannel images
    objects, which is what such a dataset scores."""
    from tqdm.auto import tqdm

    runs = [parse_method_spec(m) if isinstance(m, str) else m for m in methods]
    labels_seen = [run.label for run in runs]
    if not runs:
        raise ValueError("no methods to benchmark")
    if len(set(labels_seen)) != len(labels_seen):
        raise ValueError(f"a method spec is given twice: {labels_seen}")
    pairs = find_dataset(data_dir, limit)
    kind = dataset_kind(data_dir)
    rss = PeakRSS()
    image_rows: list[dict[str, Any]] = []
    pooled: dict[str, list[list[np.ndarray]]] = {run.label: [] for run in runs}
    started = datetime.now(UTC)
    warmed: set[str] = set()
    where = {"seed": seed, "device": device, "threads": threads, "output": output}

    with tqdm(total=len(pairs) * len(runs), unit="run", disable=not progress) as bar:
        for image_path, truth_path in pairs:
            try:
                image = read_image(image_path)
                truth = read_labels(truth_path)
            except (ValueError, OSError) as error:
                for run in runs:
                    image_rows.append(_failed(image_path, run, error))
                    bar.update(1)
                continue
            for run in runs:
                bar.set_postfix_str(f"{image_path.stem} {run.label}", refresh=False)
                row = {name: "" for name in IMAGE_FIELDS}
                row.update(image=image_path.name, method=run.label, status="failed")
                try:
                    if run.label not in warmed:
                        warm_up(image, run, **where)
                        warmed.add(run.label)
                    labels, seconds, peak = measured_segment(image, run, rss=rss, **where)
                    traced = traced_peak(image, run, **where) if trace_memory else None
                    if kind == "regions":
                        ious = annotator_ious(labels, truth)
                        scores = region_scores(labels, truth, ious)
                    else:
                        scores = instance_scores(labels, truth)
                except (ValueError, TypeError, MemoryError, RuntimeError) as error:
                    image_rows.append(_failed(image_path, run, error))
                    bar.update(1)
                    continue
                if kind == "regions":
                    pooled[run.label].append(ious)
                row.update(
                    status="ok",
                    seconds=round(seconds, 4),
                    ndim=labels.ndim,
                    n_labels=int(labels.max(initial=0)),
                    tracemalloc_peak_mib="" if traced is None else round(traced / MIB, 1),
                    rss_added_mib=round(peak / MIB, 1),
                    **scores,
                )
                image_rows.append(row)
                bar.update(1)

    summary = [row for run in runs for row in _summarise(run, image_rows, pooled[run.label], kind)]
    markdown = _markdown(
        summary,
        kind=kind,
        data_dir=data_dir,
        n_images=len(pairs),
        where=where,
        started=started,
        command=command,
        rss_resettable=rss.resettable,
        trace_memory=trace_memory,
    )
    files: list[Path] = []
    if outdir is not None:
        outdir = Path(outdir)
        files = [outdir / "bench.md", outdir / "bench.csv", outdir / "bench_images.csv"]
        _write_text(files[0], markdown + "\n")
        _write_text(files[1], _csv(summary, SUMMARY_FIELDS))
        _write_text(files[2], _csv(image_rows, IMAGE_FIELDS))
    return BenchResult(summary=summary, images=image_rows, markdown=markdown, files=files)


def _round(value, digits: int = 4):
    if value is None:
        return ""
    value = float(value)
    return "" if np.isnan(value) else round(value, digits)


def _failed(image_path: Path, run: MethodRun, error: BaseException) -> dict[str, Any]:
    row = {name: "" for name in IMAGE_FIELDS}
    row.update(image=image_path.name, method=run.label, status="failed", error=str(error))
    return row


def _summarise(run: MethodRun, rows: list[dict], ious, kind: str) -> list[dict]:
    """The run's summary row; on instance data one row per dimensionality present
    (2D images and 3D stacks are reported apart: their scores do not pool)."""
    mine = [r for r in rows if r["method"] == run.label]
    if kind == "regions":
        return [_summary_row(run.label, mine, {k: _round(v) for k, v in pool(ious).items()})]
    ndims = sorted({r["ndim"] for r in mine if r["status"] == "ok"})
    if len(ndims) <= 1:
        return [_summary_row(run.label, mine, _means(mine, INSTANCE_KEYS))]
    return [
        _summary_row(f"{run.label} ({n}D)", group, _means(group, INSTANCE_KEYS))
        for n in ndims
        for group in [[r for r in mine if r["ndim"] in (n, "")]]
    ]


INSTANCE_KEYS = ("f1_50", "f1_75", "pq", "seg")


def _means(rows: list[dict], keys) -> dict:
    ok = [r for r in rows if r["status"] == "ok"]
    return {k: _round(np.mean([r[k] for r in ok])) if ok else "" for k in keys}


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
        "covering": _round(np.mean(covering)) if covering else "",
        "seconds_mean": round(statistics.fmean(seconds), 3) if seconds else "",
        "seconds_median": round(statistics.median(seconds), 3) if seconds else "",
        "tracemalloc_peak_mib": max(traced) if traced else "",
        "rss_added_mib": max((r["rss_added_mib"] for r in ok), default=""),
    }


def machine_description() -> str:
    """CPU model, core count, OS, Python and library versions (for the report)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [
        f"{cpu}, {os.cpu_count()} logical cores",
        platform.system(),
        f"Python {sys.version.split()[0]}",
    ]
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch {torch.__version__}")
        if torch.cuda.is_available():
            parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    from . import __version__

    parts.append(f"napari-unsupseg {__version__}")
    return "; ".join(parts)


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


def _markdown(
    summary,
    *,
    kind,
    data_dir,
    n_images,
    where,
    started,
    command,
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
        f"- date: {started.isoformat(timespec='seconds')}",
        "- " + "; ".join(f"{key}: {value}" for key, value in where.items()),
        f"- machine: {machine_description()}",
    ]
    if command:
        lines.append(f"- command: `{' '.join(command)}`")
    return "\n".join(lines)


def _csv(rows: list[dict], fields: Sequence[str]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in fields})
    return text.getvalue()


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text.encode())
