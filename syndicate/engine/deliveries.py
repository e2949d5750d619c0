"""Engine operations: sync, run a worker, status rows, read-back checks, retry, resolve."""

from __future__ import annotations

from syndicate.engine._base import EngineBase

__all__ = ["DeliveryOps"]


class DeliveryOps(EngineBase):
    """Engine operations: sync, run a worker, status rows, read-back checks, retry, resolve."""
