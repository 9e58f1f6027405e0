"""Compile, off the GUI thread, what napari compiles when it first draws labels.

napari turns label ids into texture values with numba-compiled loops, compiled (or
loaded from numba's cache) the first time a Labels layer of a given dtype is drawn;
that first ``add_labels`` froze the window for one to three seconds, from the
preview's ``add_labels`` on the main thread. vispy's line visuals (the labels' polygon
overlay) likewise compute their dash patterns once per process. The widget starts this
warm-up when it opens, in a daemon thread, and shows its first preview (and lets its
worker return the result) only once it is done.
"""

from __future__ import annotations

import atexit
import logging
import threading

import numpy as np

logger = logging.getLogger(__name__)

#: label dtypes the widget writes (int32) and users' label layers commonly have
_DTYPES = (np.int32, np.int64, np.uint32)

_done = threading.Event()
_lock = threading.Lock()
_started = False
_torch_started = False
_threads: list[threading.Thread] = []
#: at exit, wait this long for a warm-up still running: a daemon thread inside torch or
#: numba while the interpreter shuts down can crash it
EXIT_WAIT_S = 30.0


def _spawn(target, name: str) -> None:
    thread = threading.Thread(target=target, name=name, daemon=True)
    _threads.append(thread)
    thread.start()


@atexit.register
def _join_at_exit() -> None:
    for thread in _threads:
        thread.join(EXIT_WAIT_S)


def _warm() -> None:
    try:
        from vispy.visuals.line.dash_atlas import DashAtlas

        DashAtlas()  # its dash patterns are cached: the labels' polygon overlay needs them
    except Exception as error:
        logger.debug("line pattern warm-up skipped: %s", error)
    try:
        from napari.utils.colormaps import label_colormap

        colormap = label_colormap()
        for dtype in _DTYPES:
            for shape in ((4,), (2, 2), (1, 2, 2)):  # numba compiles per dimensionality
                colormap._data_to_texture(np.arange(4, dtype=dtype).reshape(shape))
    except Exception as error:  # a napari without these internals: nothing to warm
        logger.debug("label colouring warm-up skipped: %s", error)
    finally:
        _done.set()


def start() -> None:
    """Start the warm-up once per process (later calls return at once)."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
    _spawn(_warm, "napari-unsupseg warm-up")


def is_done() -> bool:
    return _done.is_set()


def wait(timeout: float | None = None) -> bool:
    """Block (a worker thread, never the GUI thread) until the warm-up is done."""
    start()
    return _done.wait(timeout)


def _warm_torch() -> None:
    """One small convolution forward and backward: torch's first use of its CPU
    kernels held the GIL for most of a second in the run's first training step."""
    try:
        import torch

        with torch.enable_grad():
            image = torch.ones(1, 3, 16, 16, requires_grad=True)
            weight = torch.ones(4, 3, 3, 3, requires_grad=True)  # no random numbers used
            out = torch.nn.functional.conv2d(image, weight, padding=1)
            torch.nn.functional.batch_norm(out, None, None, training=True).sum().backward()
    except Exception as error:
        logger.debug("torch warm-up skipped: %s", error)


def start_torch() -> None:
    """Warm up torch once per process, in a daemon thread (a torch method was chosen)."""
    global _torch_started
    with _lock:
        if _torch_started:
            return
        _torch_started = True
    _spawn(_warm_torch, "napari-unsupseg torch warm-up")
