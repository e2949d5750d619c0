"""Engine operations: self-inspection against the 国办秘函〔2019〕19号 indicators."""

from __future__ import annotations

from syndicate.engine._base import EngineBase

__all__ = ["InspectOps"]


class InspectOps(EngineBase):
    """Engine operations: self-inspection against the 国办秘函〔2019〕19号 indicators."""
