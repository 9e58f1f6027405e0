"""Make the per-method figures of docs/methods/: each method on the built-in samples.

Run from the repository root: ``python scripts/make_figures.py [METHOD ...]``. Writes
``docs/images/methods/<method>.png`` (coffee photo and synthetic cells, input beside
labels) and prints each run's time, so the docs' cost figures can be checked.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from skimage.color import label2rgb
from skimage.segmentation import find_boundaries

import napari_unsupseg as us
from napari_unsupseg.sample_data import cells, coffee

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "methods"

#: Settings shown in the figures: each method's defaults, except the cluster counts
#: of the classical methods on the 3-class cells image.
CELLS_PARAMS = {"kmeans": {"n_clusters": 3}, "gmm": {"n_components": 3}}


def file_name(method: str) -> str:
    return method.replace("+", "-plus-") + ".png"


def overlay(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean colour of each segment with white boundaries: what the labels mean."""
    rgb = image if image.ndim == 3 else np.dstack([image] * 3)
    mean = label2rgb(labels, rgb, kind="avg", bg_label=-1)
    mean[find_boundaries(labels, mode="thin")] = 255
    return mean.astype(np.uint8)


def cells_rgb(image: np.ndarray) -> np.ndarray:
    """Nuclei in blue, cytoplasm in green, each scaled to its 99.5th percentile."""
    scaled = [np.clip(c / np.percentile(c, 99.5), 0, 1) for c in image.astype(float)]
    return (np.dstack([np.zeros_like(scaled[0]), scaled[1], scaled[0]]) * 255).astype(np.uint8)


def figure(method: str) -> float:
    photo = coffee()
    cell_image, _ = cells()
    started = time.perf_counter()
    photo_labels = us.segment(photo, method, seed=0)
    seconds = time.perf_counter() - started
    cell_labels = us.segment(
        cell_image, method, channel_axis=0, seed=0, **CELLS_PARAMS.get(method, {})
    )
    panels = [
        (photo, "coffee"),
        (overlay(photo, photo_labels), f"{method}: {photo_labels.max()} labels, {seconds:.1f} s"),
        (cells_rgb(cell_image), "cells (2 channels)"),
        (label2rgb(cell_labels, bg_label=-1), f"{method}: {cell_labels.max()} labels"),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for axis, (picture, title) in zip(axes, panels, strict=True):
        axis.imshow(picture)
        axis.set_title(title, fontsize=10)
        axis.axis("off")
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / file_name(method), dpi=80)
    plt.close(fig)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("methods", nargs="*", default=list(us.available_methods()))
    for method in parser.parse_args().methods:
        print(f"{method}: {figure(method):.1f} s on the coffee photo (321x481)", flush=True)


if __name__ == "__main__":
    main()
