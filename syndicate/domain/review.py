"""先审后发: the review policy and the state of a version under review, as plain values.

A version of an item becomes public only when it is *released*: after an approval at every
level its submission recorded, each approval naming the content hash it approves. The
policy (`ReviewPolicy`) says which levels an item goes through and who may act at each;
it is configuration (`[review]` in syndicate.toml), resolved per item by agency and
area. The item aggregate (`syndicate.domain.items`) enforces the rules with these values
and no I/O.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from syndicate.domain.catalogue import area_by_code
from syndicate.domain.content import ItemContent

__all__ = [
    "PUBLIC_EVENT",
    "Approval",
    "LevelRule",
    "Override",
    "Pending",
    "ProposalKind",
    "Returned",
    "ReviewPolicy",
    "ReviewRules",
    "UrgentRelease",
    "content_diff",
    "content_text",
    "review_hash",
]


class ProposalKind(StrEnum):
    """What a version under review would do once released."""

    PUBLISH = "publish"  # the item's first public version
    REVISE = "revise"  # a new version of a released item (更正)
    WITHDRAW = "withdraw"  # take a released item down (撤回)


# The public history entry a released proposal becomes (the names outlets know).
PUBLIC_EVENT = {
    ProposalKind.PUBLISH: "Published",
    ProposalKind.REVISE: "Revised",
    ProposalKind.WITHDRAW: "Withdrawn",
}


def review_hash(
    kind: ProposalKind, content_hash: str, reason: str | None, public_note: str
) -> str:
    """The hash a reviewer approves: what the proposal would make public.

    For a new item's first version it is its content hash. For a revision it also
    covers the 更正说明 (`reason`), and for a withdrawal the reason and the note shown
    in the item's place: a hash read for one proposal never approves another that
    shares its content. sha256 of the canonical JSON of kind, content hash, reason and
    note (sorted keys, UTF-8), so an auditor recomputes it from the `Submitted` event.
    """
    if kind is ProposalKind.PUBLISH:
        return content_hash
    data = {
        "kind": kind.value,
        "content_hash": content_hash,
        "reason": reason or "",
        "public_note": public_note,
    }
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Approval:
    """One level's approval (or, after an urgent release, approval afterwards)."""

    level: str
    reviewer: str
    at: datetime
    content_hash: str
    comment: str = ""


@dataclass(frozen=True)
class Returned:
    """A reviewer sent the version back to its author."""

    level: str
    reviewer: str
    at: datetime
    comment: str


@dataclass
class Pending:
    """The version under review: what it proposes, who submitted it, how far it got."""

    kind: ProposalKind
    version: int  # the item version of the Submitted event
    content: ItemContent | None  # None for a withdrawal
    content_hash: str
    submitted_by: str
    submitted_at: datetime
    levels: tuple[str, ...]
    reason: str | None = None
    public_note: str = ""
    approvals: list[Approval] = field(default_factory=list)
    returned: Returned | None = None
    # Everyone who submitted this proposal (the author, and whoever resubmitted it):
    # none of them may approve it.
    submitters: frozenset[str] = frozenset()

    @property
    def review_hash(self) -> str:
        """The hash an approval of this proposal names (`review_hash`)."""
        return review_hash(self.kind, self.content_hash, self.reason, self.public_note)

    @property
    def next_level(self) -> str | None:
        """The level whose approval is awaited (None: every level approved)."""
        if self.returned is not None:
            return None
        done = len(self.approvals)
        return self.levels[done] if done < len(self.levels) else None

    @property
    def approved(self) -> bool:
        """Every level approved (released, or waiting for its bundle)."""
        return self.returned is None and len(self.approvals) == len(self.levels)

    def state(self) -> str:
        """`returned`, `approved` (waiting for its bundle) or `pending`."""
        if self.returned is not None:
            return "returned"
        return "approved" if self.approved else "pending"


@dataclass
class UrgentRelease:
    """A version released without review, awaiting approval afterwards at every level."""

    version: int
    kind: ProposalKind
    content_hash: str
    reason: str
    actor: str
    at: datetime
    due: datetime
    levels: tuple[str, ...]
    submitted_by: str
    review_hash: str  # what approvals afterwards name (`review_hash`)
    approvals: list[Approval] = field(default_factory=list)

    @property
    def next_level(self) -> str | None:
        """The level whose retrospective approval is awaited next."""
        done = len(self.approvals)
        return self.levels[done] if done < len(self.levels) else None


@dataclass(frozen=True)
class LevelRule:
    """One review level and who may act at it (empty: anyone but the author)."""

    name: str
    reviewers: frozenset[str] = frozenset()

    def allows(self, actor: str) -> bool:
        """Whether `actor` may approve or return at this level."""
        return not self.reviewers or actor in self.reviewers


@dataclass(frozen=True)
class ReviewRules:
    """The review an item goes through, resolved from the policy for its agency and area."""

    levels: tuple[LevelRule, ...]
    allow_self_review: bool = False
    withdraw_needs_review: bool = True
    urgent_review_hours: int = 24
    requires_interpretation: frozenset[str] = frozenset()

    @property
    def names(self) -> tuple[str, ...]:
        """The level names, in order."""
        return tuple(level.name for level in self.levels)

    @property
    def on(self) -> bool:
        """Whether versions are reviewed at all."""
        return bool(self.levels)

    def level(self, name: str) -> LevelRule | None:
        """The level called `name`, or None."""
        for level in self.levels:
            if level.name == name:
                return level
        return None

    def urgent_due(self, at: datetime) -> datetime:
        """When approval afterwards of an urgent release made at `at` falls due."""
        return at + timedelta(hours=self.urgent_review_hours)


@dataclass(frozen=True)
class Override:
    """`[review.agency."…"]` or `[review.area."…"]`: what differs for those items."""

    levels: tuple[LevelRule, ...] | None = None
    allow_self_review: bool | None = None
    withdraw_needs_review: bool | None = None
    requires_interpretation: frozenset[str] | None = None


@dataclass(frozen=True)
class ReviewPolicy:
    """`[review]`: the default rules, and overrides per agency (first) or area.

    `configured` is False when syndicate.toml has no `[review]` table at all (a home made
    before review existed): review is then off, as with `levels = []`, and `outlets
    check` and `status` say so.
    """

    rules: ReviewRules
    agencies: Mapping[str, Override] = field(default_factory=dict)
    areas: Mapping[str, Override] = field(default_factory=dict)
    configured: bool = True

    @classmethod
    def off(cls, *, configured: bool = True) -> ReviewPolicy:
        """No review: every version is released when it is stored."""
        return cls(ReviewRules(levels=()), configured=configured)

    @classmethod
    def of(
        cls,
        levels: Sequence[str | tuple[str, Sequence[str]]],
        *,
        allow_self_review: bool = False,
        withdraw_needs_review: bool = True,
        urgent_review_hours: int = 24,
        requires_interpretation: Sequence[str] = (),
    ) -> ReviewPolicy:
        """A policy from level names (or `(name, reviewers)` pairs), no overrides."""
        rules = tuple(
            LevelRule(level)
            if isinstance(level, str)
            else LevelRule(level[0], frozenset(level[1]))
            for level in levels
        )
        return cls(
            ReviewRules(
                levels=rules,
                allow_self_review=allow_self_review,
                withdraw_needs_review=withdraw_needs_review,
                urgent_review_hours=urgent_review_hours,
                requires_interpretation=frozenset(requires_interpretation),
            )
        )

    @property
    def on(self) -> bool:
        """Whether any item is reviewed (the default or an override has levels)."""
        return self.rules.on or any(
            o.levels for o in (*self.agencies.values(), *self.areas.values())
        )

    def rules_for(self, content: ItemContent) -> ReviewRules:
        """The rules for an item: the agency's override, else the area's, else default."""
        rules = self.rules
        for override in (
            self.areas.get(content.area),
            self.agencies.get(content.agency),
        ):
            if override is None:
                continue
            rules = ReviewRules(
                levels=rules.levels if override.levels is None else override.levels,
                allow_self_review=(
                    rules.allow_self_review
                    if override.allow_self_review is None
                    else override.allow_self_review
                ),
                withdraw_needs_review=(
                    rules.withdraw_needs_review
                    if override.withdraw_needs_review is None
                    else override.withdraw_needs_review
                ),
                urgent_review_hours=rules.urgent_review_hours,
                requires_interpretation=(
                    rules.requires_interpretation
                    if override.requires_interpretation is None
                    else override.requires_interpretation
                ),
            )
        return rules


def content_text(content: ItemContent | None) -> list[str]:
    """A content version as lines a reviewer reads (fields, then the body), for diffs."""
    if content is None:
        return []
    data = content.model_dump(mode="json", exclude_none=True)
    # Codes as a reviewer reads them: the pilot area, stage, attribute and channels
    # by their Chinese names (the code in brackets).
    data["area"] = f"{area_by_code(content.area).name} ({content.area})"
    data["stage"] = f"{content.stage.label} ({content.stage.value})"
    data["attribute"] = f"{content.attribute.label} ({content.attribute.value})"
    data["channels"] = [f"{c.label} ({c.value})" for c in content.channels]
    body = str(data.pop("body", ""))
    lines: list[str] = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list | dict):
            if not value:
                continue
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        lines.append(f"{key} = {value}")
    lines.append("")
    lines.extend(body.splitlines())
    return lines


def content_diff(
    before: ItemContent | None,
    after: ItemContent | None,
    *,
    before_label: str = "live",
    after_label: str = "pending",
) -> str:
    """A unified diff of two content versions as `content_text` lines ("" if equal)."""
    return "\n".join(
        difflib.unified_diff(
            content_text(before),
            content_text(after),
            fromfile=before_label,
            tofile=after_label,
            lineterm="",
        )
    )
