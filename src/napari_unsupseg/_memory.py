"""The memory check before a run, so that a job that cannot fit is refused with advice
instead of swapping the machine to a halt or being killed halfway.

The estimates it checks stand beside their engines (``MethodSpec.estimate``):
:mod:`napari_unsupseg.classical`, :mod:`napari_unsupseg.cnn.memory_estimate`,
:mod:`napari_unsupseg.baselines.memory_estimate`,
:mod:`napari_unsupseg.transfer.memory_estimate`."""

from __future__ import annotations

import os

GIB = 1024**3
#: Refuse a run that would take more than this share of the memory available now.
HEADROOM = 0.9


class InsufficientMemoryError(MemoryError):
    """The run would not fit in the memory available; the message says what would."""


def available_memory() -> int | None:
    """Bytes of RAM available to a new allocation now (Linux: MemAvailable)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB / 10 else f"{n / 1024**2:.0f} MiB"


def check_fits(
    needed: int, what: str, advice: str, available: int | None = None, where: str = "memory"
) -> None:
    """Raise :class:`InsufficientMemoryError` if ``needed`` bytes do not fit now in
    ``available`` bytes (default: the RAM available), named ``where`` in the message."""
    available = available_memory() if available is None else available
    if available is None or needed <= HEADROOM * available:
        return
    fits = HEADROOM * available / needed
    raise InsufficientMemoryError(
        f"{what} needs about {format_bytes(needed)} but only {format_bytes(available)} of "
        f"{where} is available. About {fits:.0%} of this job would fit: {advice}"
    )


def cuda_free_memory(device) -> int | None:
    """Free bytes on the CUDA GPU a run on ``device`` would use; None when it would run
    elsewhere (the RAM check applies then). Imports torch: CNN methods only."""
    import torch

    from ._device import resolve_device

    resolved = resolve_device(device)
    if resolved.type != "cuda":
        return None
    try:
        free, _ = torch.cuda.mem_get_info(resolved)
    except (RuntimeError, AssertionError):  # unreadable: the run's own OOM handling remains
        return None
    return int(free)
