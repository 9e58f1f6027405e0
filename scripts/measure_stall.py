"""The longest main-thread stall during a first ``cnn`` run in a fresh napari viewer.

Run from the repository root, with a display or under Xvfb::

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/measure_stall.py

A fresh process opens a napari window with the segmentation dock, adds a small
grey image (no Labels layer has been drawn yet in this process) and presses Run with
``cnn``. A QTimer beats every 10 ms on the main (GUI) thread; the longest gap between
two beats, from Run until a second after the result layer appears, is the longest
time the window could not repaint or answer a click. Prints one JSON line:
``max_stall_s``, ``beats``, ``run_s``, the five worst gaps (seconds after Run, length)
and the settings used. ``--settle S`` waits S seconds between opening the dock and
pressing Run, as a user picking an image does.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

HEARTBEAT_MS = 10


def blocks(size: int) -> np.ndarray:
    """Four flat quadrants plus noise (the same picture the widget tests use)."""
    rng = np.random.default_rng(0)
    yy, xx = np.indices((size, size))
    plane = 1000 * (yy >= size // 2) + 2000 * (xx >= size // 2)
    return np.clip(plane + rng.normal(0, 50, (size, size)) + 500, 0, None).astype(np.uint16)


def measure(size: int = 96, max_iter: int = 8, settle_s: float = 0.0, tail_s: float = 1.0) -> dict:
    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from napari_unsupseg._widgets.segment import SegmentWidget

    viewer = napari.Viewer(show=True)
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="segment")
    viewer.add_image(blocks(size), name="cells")
    widget._method.value = "cnn"
    widget.param_widgets["max_iter"].value = max_iter
    settle_end = time.perf_counter() + settle_s  # a user picking the image and method
    QApplication.processEvents()
    while time.perf_counter() < settle_end:
        QApplication.processEvents()
        time.sleep(0.01)

    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(HEARTBEAT_MS)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    start = time.perf_counter()
    widget.run()
    done_at = None
    while done_at is None or time.perf_counter() - done_at < tail_s:
        QApplication.processEvents()
        time.sleep(0.002)
        if done_at is None and not widget.is_running:
            done_at = time.perf_counter()
        if time.perf_counter() - start > 600:
            raise TimeoutError("the run did not finish in 10 minutes")
    timer.stop()
    stamps = [start, *beats]
    gaps = np.diff(stamps)
    result = {
        "max_stall_s": round(float(gaps.max()), 3),
        "beats": len(beats),
        "run_s": round(done_at - start, 3),
        "image": f"{size}x{size} uint16",
        "method": "cnn",
        "max_iter": max_iter,
        "settle_s": settle_s,
        "result_layer": any(layer.name == "cells cnn" for layer in viewer.layers),
    }
    worst = np.argsort(gaps)[::-1][:5]
    result["worst"] = [(round(stamps[i] - start, 3), round(float(gaps[i]), 3)) for i in worst]
    viewer.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--max-iter", type=int, default=8)
    parser.add_argument(
        "--settle", type=float, default=0.0, help="seconds between opening the dock and Run"
    )
    args = parser.parse_args()
    print(json.dumps(measure(args.size, args.max_iter, args.settle)), flush=True)


if __name__ == "__main__":
    main()
