"""Engine operations: write back drifted or missing outlet files from the log."""

from __future__ import annotations

from syndicate.engine._base import EngineBase

__all__ = ["RepairOps"]


class RepairOps(EngineBase):
    """Engine operations: write back drifted or missing outlet files from the log."""
