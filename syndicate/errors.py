"""Every error syndicate raises on purpose.

```
SyndicateError
├── InputError              bad input: an item file, a field, a REF          (CLI exit 2)
├── ConfigurationError      syndicate.toml or the environment is wrong       (CLI exit 2)
├── DomainError             a rule of the disclosure log refused a command   (CLI exit 1)
│   ├── AlreadyPublished    the (agency, index_no) item exists already
│   ├── ItemNotFound        no item matches the REF
│   ├── ItemWithdrawn       revise or withdraw after a withdrawal
│   ├── NothingChanged      a revision identical to the current content
│   ├── ConflictError       someone else changed the item first
│   ├── InterpretedItemMissing  `interprets` names an item that is not live
│   └── ReviewRefused       a review rule refused it (a stale hash, a skipped level,
│                           a self-approval, nothing pending)
├── StoreError              the event store cannot be reached or is not set up (exit 1)
└── DeliveryError           raised by an adapter's `deliver`; the worker records it
    ├── TransientDeliveryError   try again later (5xx, rate limits, connect failures)
    ├── PermanentDeliveryError   do not retry (rejected, gone, misconfigured)
    └── UnknownOutcomeError      the request may have been processed (timeout after sending)
```

Messages are written for the operator who reads them: they name the field or item and the
problem, and never contain a secret. Anything else that escapes is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AlreadyPublished",
    "ConfigurationError",
    "ConflictError",
    "DeliveryError",
    "DomainError",
    "InputError",
    "InterpretedItemMissing",
    "ItemNotFound",
    "ItemWithdrawn",
    "NothingChanged",
    "PermanentDeliveryError",
    "Problem",
    "ReviewRefused",
    "StoreError",
    "SyndicateError",
    "TransientDeliveryError",
    "UnknownOutcomeError",
]


class SyndicateError(Exception):
    """Base class of every error syndicate raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a dotted field path, or "") and what."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InputError(SyndicateError):
    """Input was refused before anything was written; `problems` says what and where."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem] | str, *, source: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems = tuple(problems)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "; ".join(f"{prefix}{p}" for p in self.problems)

    def lines(self) -> list[str]:
        """One line per problem, each naming the source and the field."""
        prefix = f"{self.source}: " if self.source else ""
        return [f"{prefix}{p}" for p in self.problems]

    def with_source(self, source: str) -> InputError:
        """The same problems, attributed to `source` (usually a file name)."""
        return InputError(self.problems, source=source)


class ConfigurationError(SyndicateError):
    """syndicate.toml or the environment is missing something or holds a bad value."""

    exit_code = 2


class StoreError(SyndicateError):
    """The event store cannot be reached, or its tables have not been created."""


class DomainError(SyndicateError):
    """A rule of the disclosure log refused the command; nothing was written."""


class AlreadyPublished(DomainError):
    """An item with this agency and index number has been published before.

    `identical`: its current content is the very content offered (a re-run after a
    crash; nothing to do). `revisable`: the content differs from every version and the
    item is live, so `revise` would publish it.
    """

    def __init__(
        self, message: str, *, identical: bool = False, revisable: bool = False
    ) -> None:
        super().__init__(message)
        self.identical = identical
        self.revisable = revisable


class ItemNotFound(DomainError):
    """No item matches the reference."""


class ItemWithdrawn(DomainError):
    """The item was withdrawn; it cannot be revised or withdrawn again."""


class NothingChanged(DomainError):
    """The revision is identical to the item's current content."""


class ConflictError(DomainError):
    """Another writer changed the item after it was read; the command was not applied."""


class InterpretedItemMissing(DomainError):
    """An interpretation (解读) names a policy item that is not published and live."""


class ReviewRefused(DomainError):
    """A rule of 先审后发 refused the command: the approval names a version that is not
    the pending one, skips a level, approves one's own submission or a second level, or
    there is nothing under review."""


class DeliveryError(SyndicateError):
    """An outlet did not take a rendition. `code` is the channel's own error code."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class TransientDeliveryError(DeliveryError):
    """The outlet may take it later; `retry_after` (seconds) overrides the backoff."""


class PermanentDeliveryError(DeliveryError):
    """The outlet refused it for good; retrying the same rendition will not help."""


class UnknownOutcomeError(DeliveryError):
    """The request may or may not have been processed (e.g. a timeout after sending)."""
