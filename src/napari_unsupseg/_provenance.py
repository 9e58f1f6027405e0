"""What ran, when and where: the facts every record of a run carries (the batch's
``run.json`` and ``run.csv``, the benchmark's ``bench.md``, the metadata of the layers
the docks make), gathered in one place so that they are named and measured the same
way everywhere."""

from __future__ import annotations

import os
import platform
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Provenance:
    """The package version, the command that ran, when it started and on what machine."""

    version: str
    command: tuple[str, ...]
    started: datetime
    host: str
    python: str
    platform: str

    @classmethod
    def now(cls, command: Sequence[str] | None = ()) -> Provenance:
        """The provenance of a run starting now, launched by ``command``."""
        from ._version import __version__

        return cls(
            version=__version__,
            command=tuple(command or ()),
            started=datetime.now(UTC),
            host=socket.gethostname(),
            python=sys.version.split()[0],
            platform=platform.platform(),
        )

    @property
    def started_text(self) -> str:
        """The start time as the records write it (ISO 8601, whole seconds, UTC)."""
        return _iso(self.started)

    @staticmethod
    def layer_fields() -> dict[str, str]:
        """What a layer the docks make records of its run starting now: the version and
        the start time, named as in ``run.json`` (the machine is the one showing it;
        nothing slow is asked on the GUI thread)."""
        from ._version import __version__

        return {"version": __version__, "started": _iso(datetime.now(UTC))}

    def machine_fields(self) -> dict[str, str]:
        """Where it ran, as ``run.json`` names it."""
        return {"host": self.host, "python": self.python, "platform": self.platform}

    def machine_description(self) -> str:
        """CPU model, core count, OS, Python, torch and GPU (when torch was used) and
        this package's version, in one line (the benchmark report's)."""
        cpu = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        parts = [
            f"{cpu}, {os.cpu_count()} logical cores",
            platform.system(),
            f"Python {self.python}",
        ]
        torch = sys.modules.get("torch")  # only when a method loaded it: never imported here
        if torch is not None:
            parts.append(f"torch {torch.__version__}")
            if torch.cuda.is_available():
                parts.append(f"GPU {torch.cuda.get_device_name(0)}")
        parts.append(f"napari-unsupseg {self.version}")
        return "; ".join(parts)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
