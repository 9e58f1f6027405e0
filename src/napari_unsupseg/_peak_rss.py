"""How far a process's resident memory rose over a stretch of code (benchmarks)."""

from __future__ import annotations

import sys
from pathlib import Path


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
        return lifetime_peak_bytes()


def lifetime_peak_bytes() -> int:
    """The most resident memory this process has held since it started (bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if sys.platform == "darwin" else 1024)
