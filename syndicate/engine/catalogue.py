"""Engine operations: the standard catalogue (标准目录): import, versions, coverage."""

from __future__ import annotations

from syndicate.engine._base import EngineBase

__all__ = ["CatalogueOps"]


class CatalogueOps(EngineBase):
    """Engine operations: the standard catalogue (标准目录): import, versions, coverage."""
