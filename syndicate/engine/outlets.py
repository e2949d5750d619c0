"""Engine operations: outlet kinds, configured outlets: list, add, check, detach."""

from __future__ import annotations

from syndicate.engine._base import EngineBase

__all__ = ["OutletOps"]


class OutletOps(EngineBase):
    """Engine operations: outlet kinds, configured outlets: list, add, check, detach."""
