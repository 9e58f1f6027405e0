"""Screenshots of the plugin in a real napari viewer, for the README and docs/.

Run from the repository root, with a display or under Xvfb::

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_screenshots.py

Each shot opens a sample through napari's sample menu, opens a dock widget of the
plugin the way the Layers menu does (``add_plugin_dock_widget``), sets it up, presses
Run, waits for the thread worker to finish while processing Qt events, and saves the
whole window (``viewer.window.screenshot``) to ``docs/images/``. The evaluation shot
is made only when the evaluation widget exists in this checkout. The inspect shot
segments the cells sample (k-means classes), measures them in the *Inspect clusters*
widget, splits the class lying in most pieces into its pieces and selects one.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
PLUGIN = "napari-unsupseg"
WINDOW_SIZE = (1400, 860)
EVALUATE_WINDOW_SIZE = (1500, 980)
#: the segmentation dock's width in the shots: it fits in this (tests/test_first_minute.py)
DOCK_WIDTH = 420
#: colours kept in the saved PNGs (palette images are a fraction of RGB's size)
PNG_COLOURS = 192

#: file name -> what it shows (every file this script writes, in docs/images/)
SCREENSHOTS = {
    "segment-widget-coffee.png": "the segmentation dock (Advanced folded) after a 'cnn' "
    "run on coffee, beside the canvas",
    "segment-widget-cells.png": "k-means (3 clusters) on the two-channel cells sample",
    "evaluate-widget-cells.png": "the evaluation widget scoring that result against the truth",
    "inspect-widget-cells.png": "the inspect widget: a class split into its pieces, one selected",
}
SHOTS = ("coffee", "cells", "inspect")


def outputs() -> list[Path]:
    """Every file this script writes, relative to the repository root."""
    return [(OUT / name).relative_to(ROOT) for name in SCREENSHOTS]


def wait_until(condition, timeout: float = 600.0) -> None:
    """Process Qt events until ``condition()`` holds (the worker reports through them)."""
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not finish in time")
        QApplication.processEvents()
        time.sleep(0.02)


def settle(seconds: float = 1.0) -> None:
    """Let the canvas and the dock redraw before a screenshot."""
    wait_until(lambda: True)
    end = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() > end)


def new_viewer():
    import napari

    viewer = napari.Viewer(show=True, title="napari-unsupseg")
    viewer.window.resize(*WINDOW_SIZE)
    return viewer


def narrow_dock(viewer, dock) -> None:
    """Give the dock the width it needs, the rest to the canvas."""
    from qtpy.QtCore import Qt

    viewer.window._qt_window.resizeDocks([dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)


def run_segmentation(widget, method: str, **params) -> None:
    """Run as a user does: the Advanced section stays folded, as a new dock opens."""
    widget["method"].value = method
    for name, value in params.items():
        widget.param_widgets[name].value = value
    widget.run()
    wait_until(lambda: not widget.is_running)
    status = widget["status"].value
    if not status.startswith("Done"):
        raise RuntimeError(f"the segmentation did not finish: {status}")
    print(f"  {status}", flush=True)


def save(viewer, name: str) -> None:
    """Fit the image to the canvas, grab the window, keep a small palette PNG."""
    from PIL import Image

    viewer.reset_view()
    settle()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    shot = viewer.window.screenshot(flash=False, canvas_only=False)
    Image.fromarray(shot[..., :3]).quantize(PNG_COLOURS, method=Image.Quantize.MEDIANCUT).save(
        path, optimize=True
    )
    print(f"wrote {path.relative_to(ROOT)}", flush=True)


def shot_coffee() -> None:
    """The widget beside the coffee photo segmented by 'cnn' with its defaults."""
    viewer = new_viewer()
    viewer.open_sample(PLUGIN, "coffee")
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Unsupervised segmentation")
    narrow_dock(viewer, dock)
    run_segmentation(widget, "cnn")
    viewer.layers["coffee cnn"].opacity = 0.6
    save(viewer, "segment-widget-coffee.png")
    viewer.close()


def shot_cells(with_evaluation: bool) -> None:
    """k-means on the two-channel cells, then (if present) the evaluation widget."""
    viewer = new_viewer()
    viewer.open_sample(PLUGIN, "cells")
    image = viewer.layers["cells (2 channels)"]
    viewer.layers.selection.active = image
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Unsupervised segmentation")
    narrow_dock(viewer, dock)
    if widget._advanced.fields["channel_axis"].value != 0:
        raise RuntimeError("the widget did not take the channel axis from the sample")
    widget["output"].value = "classes"  # the three classes the page describes
    run_segmentation(widget, "kmeans", n_clusters=3)
    result = viewer.layers["cells (2 channels) kmeans"]
    result.opacity = 0.5
    save(viewer, "segment-widget-cells.png")
    if with_evaluation:
        evaluate_cells(viewer, result)
    viewer.close()


def evaluate_cells(viewer, result) -> None:
    """Score ``result`` against the sample's ground truth in the evaluation widget."""
    truth = viewer.layers["cells ground truth"]
    viewer.window.remove_dock_widget("all")  # the evaluation widget needs the height
    viewer.window.resize(*EVALUATE_WINDOW_SIZE)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Evaluate segmentation")
    widget["prediction"].value = result
    widget["ground_truth"].value = truth
    widget.run()
    wait_until(lambda: not widget.is_running)
    status = widget["status"].value
    print(f"  {status}", flush=True)
    if not widget.metrics:
        raise RuntimeError(f"the evaluation did not finish: {status}")
    cell = next(i for i, row in enumerate(widget.segments) if row["gt_id"] != 0)
    widget.select_segment(cell)  # a cell, drawn over the layers (row 0 is the background)
    save(viewer, "evaluate-widget-cells.png")


def shot_inspect() -> None:
    """k-means classes of the cells, measured; the class in most pieces split into its
    pieces (one per nucleus), the biggest piece selected."""
    viewer = new_viewer()
    viewer.window.resize(*EVALUATE_WINDOW_SIZE)
    viewer.open_sample(PLUGIN, "cells")
    viewer.layers.selection.active = viewer.layers["cells (2 channels)"]
    _, segmenter = viewer.window.add_plugin_dock_widget(PLUGIN, "Unsupervised segmentation")
    segmenter["output"].value = "classes"
    run_segmentation(segmenter, "kmeans", n_clusters=3)
    viewer.window.remove_dock_widget("all")
    result = viewer.layers["cells (2 channels) kmeans"]
    viewer.layers.selection.active = result
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Inspect clusters")
    widget.measure()
    classes = {row["label"] for row in widget.rows}
    scattered = max(widget.rows, key=lambda row: row["pieces"])["label"]
    widget.select_labels([scattered])
    widget.apply("split_components")
    print(f"  {widget['status'].value}", flush=True)
    widget.table.sort_by("pixels", descending=True)
    pieces = [label for label in widget.table.labels_in_order() if label not in classes]
    widget.select_labels(pieces[:1])  # the biggest new piece
    result.visible = False
    save(viewer, "inspect-widget-cells.png")
    viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "shots", nargs="*", metavar="SHOT", help=f"any of {', '.join(SHOTS)} (default all)"
    )
    shots = parser.parse_args().shots or list(SHOTS)
    unknown = set(shots) - set(SHOTS)
    if unknown:
        parser.error(f"unknown shots {sorted(unknown)}: choose from {', '.join(SHOTS)}")
    with_evaluation = importlib.util.find_spec("napari_unsupseg._widgets.evaluate") is not None
    if not with_evaluation:
        print("no evaluation widget in this checkout: skipping its screenshot", flush=True)
    if "coffee" in shots:
        shot_coffee()
    if "cells" in shots:
        shot_cells(with_evaluation)
    if "inspect" in shots:
        shot_inspect()


if __name__ == "__main__":
    main()
