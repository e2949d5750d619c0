"""Engine operations: checkpoints, keys, verify, export, prove, consistency, trail, replay, deadlines, report."""

from __future__ import annotations

from syndicate.engine._base import EngineBase

__all__ = ["AuditOps"]


class AuditOps(EngineBase):
    """Engine operations: checkpoints, keys, verify, export, prove, consistency, trail, replay, deadlines, report."""
