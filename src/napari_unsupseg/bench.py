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
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._csv import csv_text
from ._params_text import parse_key_values
from ._peak_rss import PeakRSS
from ._provenance import Provenance
from ._threads import DEFAULT_THREADS
from .bench_report import (
    IMAGE_FIELDS,
    SUMMARY_FIELDS,
    markdown_report,
    rounded,
    summarise,
    write_text,
)
from .evaluation import pool_best_ious as pool
from .io import IMAGE_SUFFIXES, read_image, read_labels

__all__ = ["MethodRun", "PeakRSS", "parse_method_spec", "pool", "run_bench"]

MIB = 1024 * 1024


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

    def refuse_array(key: str, value: str):
        raise ValueError(f"method spec {text!r}: {key!r} cannot be set in a benchmark")

    params = parse_key_values(
        spec.name,
        filter(None, (part.strip() for part in settings.split(","))),
        malformed=f"method spec {text!r}: expected KEY=VALUE, got ",
        read_array=refuse_array,
    )
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
        **{k: rounded(scores.get(k)) for k in ("covering", "rand_index", "ari", "vi")},
        **{k: rounded(v) for k, v in pool([ious]).items()},
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
        "f1_50": rounded(scores["f1@0.5"]),
        "f1_75": rounded(scores["f1@0.75"]),
        "pq": rounded(scores["pq@0.5"]),
        "seg": rounded(scores["seg"]),
    }


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
    provenance = Provenance.now(command)
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

    summary = [
        row for run in runs for row in summarise(run.label, image_rows, pooled[run.label], kind)
    ]
    markdown = markdown_report(
        summary,
        kind=kind,
        data_dir=data_dir,
        n_images=len(pairs),
        where=where,
        provenance=provenance,
        rss_resettable=rss.resettable,
        trace_memory=trace_memory,
    )
    files: list[Path] = []
    if outdir is not None:
        outdir = Path(outdir)
        files = [outdir / "bench.md", outdir / "bench.csv", outdir / "bench_images.csv"]
        write_text(files[0], markdown + "\n")
        write_text(files[1], csv_text(summary, SUMMARY_FIELDS))
        write_text(files[2], csv_text(image_rows, IMAGE_FIELDS))
    return BenchResult(summary=summary, images=image_rows, markdown=markdown, files=files)


def _failed(image_path: Path, run: MethodRun, error: BaseException) -> dict[str, Any]:
    row = {name: "" for name in IMAGE_FIELDS}
    row.update(image=image_path.name, method=run.label, status="failed", error=str(error))
    return row
