"""Keep freed memory for reuse while the CNN trains (glibc only).

Each training iteration allocates and frees the same few full-size buffers (a 481x321
image at 100 channels: 62 MB each). glibc hands blocks that large straight back to the
kernel on ``free`` and maps fresh zeroed pages on the next ``malloc``, so every
iteration pays a page fault per 4 KiB: a third of the iteration's time on a 2-core
machine. While :func:`reuse_freed_memory` is active, large blocks come from the heap and
freed ones stay there for the next iteration; on leaving, large blocks are mapped again
and the unused memory is returned to the system.

The price: blocks that do not fit exactly are left beside new ones, so the peak
resident memory of training grows by up to about 40% (481x321 at C = 100: 0.93 GiB to
1.34 GiB; still within the engine's memory estimate). Buffers under glibc's largest
mmap threshold (32 MiB) are reused by glibc anyway, so smaller runs leave it off.

Elsewhere (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import threading
from contextlib import contextmanager

# mallopt parameters (malloc.h) and what they are set back to. Any mallopt call ends
# glibc's dynamic thresholds for the process (it can't be undone), so the trim threshold
# goes back to where glibc's own adjustment takes it at most (2 x the 32 MiB mmap
# threshold), not to its start of 128 KiB, which would trim the heap after every free.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_RESTORED_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 64 * 2**20, 65536
#: glibc's largest mmap threshold: smaller blocks come from the heap anyway
LARGE_BUFFER_BYTES = 32 * 2**20

_lock = threading.Lock()
_active = 0  # nested or concurrent users: the defaults come back when the last leaves
_libc = None


def _glibc():
    """The C library when it is glibc, else None."""
    global _libc
    if _libc is None:
        _libc = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                _libc.malloc_trim.argtypes = [ctypes.c_size_t]
            except (OSError, AttributeError):
                _libc = False
    return _libc or None


@contextmanager
def reuse_freed_memory(buffer_bytes: int | None = None):
    """While active, freed large blocks stay in the process for the next allocation.

    ``buffer_bytes``: the size of the largest buffers the work allocates again and
    again; under :data:`LARGE_BUFFER_BYTES` there is nothing to gain and nothing is
    changed (None: always switch it on).
    """
    global _active
    libc = _glibc()
    small = buffer_bytes is not None and buffer_bytes < LARGE_BUFFER_BYTES
    if libc is None or small:
        yield
        return
    with _lock:
        if _active == 0:
            libc.mallopt(_M_MMAP_MAX, 0)  # large blocks from the heap, not fresh mappings
            libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)  # and freed ones kept there
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                libc.mallopt(_M_TRIM_THRESHOLD, _RESTORED_TRIM_THRESHOLD)
                libc.malloc_trim(0)  # give the kept memory back


def release_free_memory() -> None:
    """Hand the heap's free memory back to the system (glibc's ``malloc_trim``). Worker
    threads allocate from heaps of their own, and glibc returns only their tops: after
    a few chunks of freed tens-of-megabyte buffers, the process would keep the holes."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
