"""Thread counts of the run's own, so that the same seed gives the same labels anywhere.

Floating-point sums depend on how the work is split between threads: torch splits the
CNN's gradients, BatchNorm statistics and losses by its thread count; scikit-learn's
k-means adds its threads' partial sums (in the order the threads finish, when there are
three or more). Those counts come from the environment: the number of cores,
``OMP_NUM_THREADS`` (Dask sets it to 1 on its workers), ``torch.set_num_threads``. So
while a method runs, :func:`pinned_threads` sets them to values of the run's own:

- torch (the CNN methods) runs on ``threads`` threads, :data:`DEFAULT_THREADS` unless
  the caller asks for more: a constant, never the core count, so that Dask workers
  sharing a machine do not oversubscribe it;
- the OpenMP and BLAS libraries of scikit-learn, numpy and scipy (k-means, GMM, linear
  algebra) run on one.

The caller's settings come back afterwards. OpenMP's count is per thread, so runs in
several threads of one process (a Dask worker with ``--nthreads 4``, the napari
widget's worker thread) each keep their own; BLAS's count is the process's, held at one
until the last of them ends.
"""

from __future__ import annotations

import functools
import sys
import threading
from contextlib import contextmanager

import numpy as np

#: torch's thread count when the caller names none (the CLI's ``--threads``)
DEFAULT_THREADS = 1
MAX_THREADS = 1024

_lock = threading.Lock()
_blas_users = 0
_blas_limits = None


def check_threads(threads) -> int:
    """``threads`` as an int, or a clear error."""
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer):
        raise TypeError(f"threads must be a whole number, got {threads!r}")
    if not 1 <= int(threads) <= MAX_THREADS:
        raise ValueError(f"threads must be between 1 and {MAX_THREADS}, got {threads}")
    return int(threads)


@functools.cache
def _thread_pools(uses_torch: bool):
    """The OpenMP and BLAS libraries to pin, found once (a search takes milliseconds).
    They are loaded first: a library loaded later, during the run, would start with
    the environment's count."""
    import scipy.linalg  # noqa: F401 - scipy's BLAS
    import sklearn.utils._openmp_helpers  # noqa: F401 - scikit-learn's OpenMP runtime
    from threadpoolctl import ThreadpoolController

    if uses_torch:
        import torch  # noqa: F401
    return ThreadpoolController()


@contextmanager
def _one_blas_thread(pools):
    """BLAS on one thread while any pinned run is active (its count is process-wide)."""
    global _blas_users, _blas_limits

    with _lock:
        if _blas_users == 0:
            _blas_limits = pools.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limits.restore_original_limits()
                _blas_limits = None


@contextmanager
def pinned_threads(threads: int = DEFAULT_THREADS, *, uses_torch: bool = False):
    """Run the block with torch on ``threads`` threads and OpenMP/BLAS on one, then
    give the calling thread its own settings back."""
    threads = check_threads(threads)
    pools = _thread_pools(uses_torch)
    torch = sys.modules.get("torch")
    # Asked first: torch fixes a thread's count on its first call there, which must
    # not undo the pinning below.
    previous = torch.get_num_threads() if torch is not None else None
    with _one_blas_thread(pools), pools.limit(limits=1, user_api="openmp"):
        if torch is None:
            yield
            return
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
