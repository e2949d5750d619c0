"""Engine operations: attest that a notice-board sheet was posted."""

from __future__ import annotations

from syndicate.engine._base import EngineBase

__all__ = ["AttestOps"]


class AttestOps(EngineBase):
    """Engine operations: attest that a notice-board sheet was posted."""
