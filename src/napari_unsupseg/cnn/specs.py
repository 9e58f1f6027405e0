"""Parameter specs of the CNN segmenters (no torch import here)."""

from __future__ import annotations

METHODS: tuple = ()
