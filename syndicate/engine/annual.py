"""Engine operations: the 政府信息公开工作年度报告 (年报) from the log."""

from __future__ import annotations

from syndicate.engine._base import EngineBase

__all__ = ["AnnualOps"]


class AnnualOps(EngineBase):
    """Engine operations: the 政府信息公开工作年度报告 (年报) from the log."""
