"""`ItemStatus`, on its own: the command line offers it as an option's choices, and
importing it must not import the item aggregate (start-up time of `syndicate --help`)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ItemStatus"]


class ItemStatus(StrEnum):
    """Whether the item is live on its outlets, withdrawn, or never released yet."""

    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    PENDING = "pending"  # never released: a draft under review (or returned)
