"""Where a batch runs: here, on a local Dask cluster of worker processes, or on an
existing ``dask.distributed`` scheduler. One context manager for the batch and for
images bigger than memory, so a script gets the same cluster as the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager


@contextmanager
def dask_client(workers: int = 0, scheduler: str | None = None) -> Iterator:
    """A ``distributed.Client`` for the run, closed (with its cluster) on leaving.

    ``workers``: start a local cluster of that many single-threaded worker processes
    (labels depend on the threads a method is given, never on the worker's; see
    :mod:`napari_unsupseg._threads`). ``scheduler``: connect to that address instead.
    Neither: yields None (run in this process). Raises ``OSError``, ``TimeoutError``
    or ``ValueError`` when the cluster cannot be started or reached.
    """
    if not (workers or scheduler):
        yield None
        return
    from distributed import Client, LocalCluster

    with ExitStack() as stack:
        if workers:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            )
            yield stack.enter_context(Client(cluster))
        else:
            yield stack.enter_context(Client(scheduler))
