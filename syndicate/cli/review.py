"""`syndicate review …`: 先审后发, the review queue, approvals, returns, urgent releases.

Thin commands over `engine.items` (`Disclosures`): the library enforces every rule (the
content hash an approval names, levels in order, who may act, no self-approval); these
commands read, call and print. See docs/review.md.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

if TYPE_CHECKING:
    from syndicate.application import ReviewDetail, ReviewEntry
    from syndicate.domain.review import ReviewPolicy
    from syndicate.engine import Engine

from syndicate.cli.output import (
    change_json,
    cli_errors,
    echo_json,
    format_time,
    option_names,
    table,
    width,
)
from syndicate.cli.state import ActorOption, JsonOption, open_engine, resolve_actor
from syndicate.errors import InputError, Problem, ReviewRefused

__all__ = [
    "ReviewState",
    "app",
    "review_off_warning",
]

app = typer.Typer(
    help="先审后发: review versions before they reach a public outlet: the queue, "
    "approvals, returns to the author, urgent releases (docs/review.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

# Library parameter → the option an operator typed.
_OPTIONS = {
    "level": "--level",
    "content_hash": "--hash",
    "comment": "--comment",
    "reason": "--reason",
    "actor": "--actor",
}

RefArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="Item id (or a unique prefix of it), or AGENCY/INDEX_NO.",
        show_default=False,
    ),
]
LevelOption = Annotated[
    str,
    typer.Option(
        "--level",
        help="The review level you act at, as named in [review] levels; levels are "
        "taken in order.",
        show_default=False,
    ),
]
HashOption = Annotated[
    str | None,
    typer.Option(
        "--hash",
        metavar="SHA256",
        help="The content hash you read (`review show` prints it): refused if the "
        "version changed since. Default: the hash of the version under review now, "
        "read just before approving.",
        show_default=False,
    ),
]
CommentOption = Annotated[
    str,
    typer.Option("--comment", help="A remark recorded with the approval."),
]


# -- shared with `status` and `outlets check` ---------------------------------------


def review_off_warning(policy: ReviewPolicy) -> str | None:
    """The warning `status` and `outlets check` print when nothing is reviewed."""
    if policy.on:
        return None
    why = (
        "[review] levels = []"
        if policy.configured
        else "syndicate.toml has no [review] table"
    )
    return (
        f"warning: review before release (先审后发) is off ({why}): items go out "
        "unreviewed as soon as they are published; see docs/review.md"
    )


@dataclass(frozen=True)
class ReviewState:
    """What waits for review (`pending`, bundle members flattened) and which urgent
    releases await approval afterwards (`urgent`), as `status` shows them."""

    pending: list[ReviewEntry]
    urgent: list[ReviewEntry]
    scheduled: frozenset[UUID] = frozenset()  # waiting for a release time (待发布)

    @classmethod
    def read(cls, engine: Engine, item: str | None = None) -> ReviewState:
        """The state of the whole log, or of the item `item` names."""
        items = engine.items
        only = items.resolve(item) if item is not None else None
        # One item: its own entry, from its own events (a member of a bundle is its
        # own entry then, as the flattened list below gives it anyway).
        pending = [
            e
            for entry in items.reviews(only=only)
            for e in (entry, *entry.members)
            if only in (None, e.item_id)
        ]
        urgent = [
            e
            for e in items.reviews(overdue=True, only=only)
            if only in (None, e.item_id)
        ]
        scheduled = frozenset(s.item_id for s in engine.scheduled(item))
        return cls(pending, urgent, scheduled)

    def of(self, item_id: UUID) -> dict[str, Any] | None:
        """The item's version under review or urgent release, for `status --json`."""
        for entry in (*self.pending, *self.urgent):
            if entry.item_id == item_id:
                return {
                    "state": entry.state,
                    "version": entry.version,
                    "awaiting": entry.awaiting,
                    "overdue": entry.overdue,
                }
        return None

    def lines(self) -> list[str]:
        """The lines `status` prints (none when nothing waits)."""
        lines = []
        if self.pending:
            by_level: dict[str, int] = {}
            for e in self.pending:
                if e.awaiting is not None:
                    by_level[e.awaiting] = by_level.get(e.awaiting, 0) + 1
            parts = [f"{count} awaiting {level}" for level, count in by_level.items()]
            if returned := sum(e.state == "returned" for e in self.pending):
                parts.append(f"{returned} returned to the author")
            approved = [e for e in self.pending if e.state == "approved"]
            if timed := sum(e.item_id in self.scheduled for e in approved):
                parts.append(
                    f"{timed} approved, waiting for their release time (待发布)"
                )
            if waiting := len(approved) - timed:
                parts.append(
                    f"{waiting} approved, waiting for the items released with them"
                )
            lines.append(
                f"review: {len(self.pending)} version(s) not released yet "
                f"({', '.join(parts)}); see `syndicate review list`"
            )
        if self.urgent:
            overdue = sum(e.overdue for e in self.urgent)
            lines.append(
                f"urgent: {len(self.urgent)} release(s) without review await approval "
                "afterwards"
                + (f", {overdue} OVERDUE" if overdue else "")
                + "; see `syndicate review list --overdue`"
            )
        return lines


# -- helpers ------------------------------------------------------------------------


def _levels(policy: ReviewPolicy) -> list[str]:
    """Every level name the policy knows (the default's, then the overrides')."""
    names = list(policy.rules.names)
    for override in (*policy.agencies.values(), *policy.areas.values()):
        for level in override.levels or ():
            if level.name not in names:
                names.append(level.name)
    return names


def _who(actor: str | None) -> str:
    from syndicate.domain.items import check_line

    return check_line("--actor", resolve_actor(actor), 100)


def _quote(word: str) -> str:
    """`word` for a shell: as it is when safe (Chinese too), else quoted."""
    if word and all(c.isalnum() or c in "@%+=:,./-_" for c in word):
        return word
    return shlex.quote(word)


def _command(*words: str) -> str:
    """A command line to copy."""
    return "syndicate " + " ".join(_quote(w) for w in words)


def _next_step(entry: ReviewEntry) -> list[str]:
    """What to run next for an entry, as commands to copy."""
    ref = entry.ref
    if entry.state == "pending" and entry.awaiting:
        return [
            "to approve it, after reading it: "
            + _command(
                "review",
                "approve",
                ref,
                "--level",
                entry.awaiting,
                "--hash",
                entry.review_hash,
            ),
            "to send it back: " + _command("review", "return", ref, "--comment", "…"),
        ]
    if entry.state == "urgent" and entry.awaiting:
        return [
            "to approve it afterwards: "
            + _command(
                "review",
                "approve-afterwards",
                ref,
                "--level",
                entry.awaiting,
                "--hash",
                entry.review_hash,
            )
        ]
    if entry.state == "returned":
        return [
            "the author corrects it: "
            + _command("items", "revise", ref, "FILE", "--reason", "…"),
            "or submits it again unchanged: " + _command("review", "resubmit", ref),
        ]
    return []


def _state_text(entry: ReviewEntry) -> str:
    if entry.state == "pending":
        return f"pending: awaiting {entry.awaiting}"
    if entry.state == "returned" and entry.returned is not None:
        r = entry.returned
        return (
            f"returned to the author at {r.level} by {r.reviewer} "
            f"({format_time(r.at)}): {r.comment}"
        )
    if entry.state == "approved":
        return "approved at every level; waits for the items released with it"
    if entry.state == "urgent":
        due = f"due {format_time(entry.due)}" if entry.due else ""
        flag = ", OVERDUE" if entry.overdue else ""
        return (
            f"released urgently without review; approval afterwards awaits "
            f"{entry.awaiting} ({due}{flag})"
        )
    return entry.state


def _proposal(detail: ReviewDetail) -> str:
    entry = detail.entry
    if entry.kind == "withdraw":
        note = f"; public note: {detail.public_note}" if detail.public_note else ""
        return f"withdraw it from every outlet (version {entry.version}){note}"
    if entry.kind == "revise":
        return f"a new version of a released item (version {entry.version})"
    return f"its first public version (version {entry.version})"


def _show_text(detail: ReviewDetail) -> str:
    entry = detail.entry
    lines = [f"{entry.ref}  (item {entry.item_id})", entry.title, ""]
    fields: list[tuple[str, str]] = [
        ("state", _state_text(entry)),
        ("proposes", _proposal(detail)),
        (
            "submitted",
            f"{format_time(entry.submitted_at)} by {entry.submitted_by}"
            if entry.state != "urgent"
            else f"released {format_time(entry.submitted_at)} by {entry.submitted_by}",
        ),
        ("levels", " → ".join(entry.levels)),
    ]
    if entry.reason:
        fields.append(("reason", entry.reason))
    fields += [
        (
            "approved",
            f"{a.level} by {a.reviewer} at {format_time(a.at)}"
            + (f": {a.comment}" if a.comment else ""),
        )
        for a in entry.approvals
    ]
    fields.append(("content hash", entry.content_hash))
    if entry.review_hash != entry.content_hash:
        # A revision or a withdrawal: the approval covers its 更正说明 or note too.
        fields.append(("review hash", entry.review_hash))
    fields += [("released with", f"{m.ref}  ({_state_text(m)})") for m in entry.members]
    label = max(width(name) for name, _ in fields)
    lines += [
        f"{name}:{' ' * (label - width(name) + 1)}{value}" for name, value in fields
    ]
    steps = _next_step(entry)
    if steps:
        lines += ["", *steps]
    lines.append("")
    if entry.kind == "withdraw":
        lines.append(
            "what changes: the item is taken down from every outlet"
            + (
                f"; in its place: {detail.public_note}"
                if detail.public_note
                else " (no public note)"
            )
        )
    elif detail.live is None:
        lines.append("nothing of it is public yet; every line is new:")
        lines.append(detail.diff)
    else:
        lines.append("what changes against the version outlets show now:")
        lines.append(detail.diff or "(no difference)")
    return "\n".join(lines)


def _list_rows(entries: Sequence[ReviewEntry], *, overdue: bool) -> list[list[str]]:
    rows = []
    for entry in entries:
        for member, e in ((False, entry), *((True, m) for m in entry.members)):
            state = {
                "pending": "pending",
                "returned": "returned",
                "approved": "approved, waits",
                "urgent": "OVERDUE" if e.overdue else "urgent",
            }.get(e.state, e.state)
            when = e.due if overdue and e.due else e.submitted_at
            rows.append(
                [
                    ("+ " if member else "") + str(e.item_id)[:8],
                    state,
                    e.kind,
                    f"v{e.version}",
                    e.awaiting or "-",
                    format_time(when),
                    e.submitted_by,
                    e.ref,
                    (e.reason or "") if overdue else e.title,
                ]
            )
    return rows


# -- commands -----------------------------------------------------------------------


@app.command("list")
def list_reviews(
    ctx: typer.Context,
    level: Annotated[
        str | None,
        typer.Option("--level", help="Only versions awaiting this level."),
    ] = None,
    overdue: Annotated[
        bool,
        typer.Option(
            "--overdue",
            help="Instead: urgent releases awaiting approval afterwards; those past "
            "[review] urgent_review_hours are marked OVERDUE.",
        ),
    ] = False,
    agency: Annotated[
        str | None, typer.Option("--agency", help="Only this agency (exact name).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the versions under review, oldest submission first.

    A policy and the 解读 released with it are one entry, the 解读 on a row of its own
    marked "+" below it. STATE: pending (awaiting the level shown), returned (to its
    author), "approved, waits" (approved at every level, released with the rest of
    its bundle), urgent / OVERDUE (with --overdue).

    Example: syndicate review list --level 分管领导审签 --json
    """
    from syndicate.domain.items import check_line

    with cli_errors(), open_engine(ctx) as engine:
        policy = engine.project.review
        if warning := review_off_warning(policy):
            typer.echo(warning, err=True)
        if level is not None:
            level = check_line("--level", level, 50)
        entries = engine.items.reviews(level=level, overdue=overdue, agency=agency)
        # A level no longer configured is still one while versions wait for it.
        if level is not None and not entries and level not in _levels(policy):
            known = ", ".join(_levels(policy)) or "none, review is off"
            raise InputError(
                [
                    Problem(
                        "--level", f"{level!r} is not a review level (levels: {known})"
                    )
                ]
            )
        if as_json:
            echo_json([e.as_json() for e in entries])
            return
        if not entries:
            typer.echo(
                "no urgent release awaits approval afterwards"
                if overdue
                else "nothing awaits review",
                err=True,
            )
            return
        headers = [
            "ITEM",
            "STATE",
            "KIND",
            "VER",
            "AWAITING",
            "DUE (UTC+8)" if overdue else "SINCE (UTC+8)",
            "BY",
            "REF",
            "REASON" if overdue else "TITLE",
        ]
        typer.echo(table(headers, _list_rows(entries, overdue=overdue)))
        if any(e.members for e in entries):
            typer.echo(
                "\n+: released together with the entry above it (a policy and its "
                "解读), once all of them are approved"
            )
        typer.echo(
            "\n`syndicate review show REF` shows a version, its diff and the command "
            "to approve it"
        )


@app.command()
def show(ctx: typer.Context, ref: RefArgument, as_json: JsonOption = False) -> None:
    """Show the version of an item under review: its state, content hash, the items
    released with it, the command to approve it, and a readable diff against the
    version outlets show now.

    Exit 1 if nothing of the item is under review. With --json: the version's entry
    as `review list --json` prints it, with `live` and `proposed` (the content
    versions), `diff`, `public_note` and `next` (the commands to run next).

    Example: syndicate review show 临溪县民政局/11330100MB0000006R/2026-00019
    """
    with cli_errors(), open_engine(ctx) as engine:
        detail = engine.items.review(ref)
        if as_json:
            record = detail.as_json()
            record["next"] = _next_step(detail.entry)
            echo_json(record)
            return
        typer.echo(_show_text(detail))


def _pending_hash(detail: ReviewDetail, given: str | None, *, urgent: bool) -> str:
    """The hash to approve: the one given, or the version under review's (for an
    urgent release, the release's, even while a newer version is under review)."""
    entry = detail.urgent if urgent and detail.urgent is not None else detail.entry
    if urgent and entry.state != "urgent":
        raise ReviewRefused(
            f"{entry.ref} was not released urgently: it is under review "
            f"({_state_text(entry)}); approve it with "
            + _command("review", "approve", entry.ref, "--level", entry.awaiting or "…")
        )
    if not urgent and entry.state == "urgent":
        raise ReviewRefused(
            f"{entry.ref} was released urgently, without review; approve it "
            "afterwards with "
            + _command(
                "review",
                "approve-afterwards",
                entry.ref,
                "--level",
                entry.awaiting or "…",
            )
        )
    return entry.review_hash if given is None else given


@app.command()
def approve(
    ctx: typer.Context,
    ref: RefArgument,
    level: LevelOption,
    content_hash: HashOption = None,
    comment: CommentOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve the version under review at your level; after the last level it is
    released (`syndicate sync` then delivers it).

    The approval names the content hash approved: with --hash, the one you read
    (`review show` prints it); without, the version under review as read just before.
    Either way a version that changes in between is refused, never approved. Refused
    too: a level out of order, one you may not act at ([review.reviewers]), your own
    submission, or a second level of one version. A 解读 and the policy it interprets
    are released together once both are approved.

    Example: syndicate review approve 临溪县民政局/11330100MB0000006R/2026-00019
    --level 审核 --actor 李四
    """
    from syndicate.domain.items import check_line

    with cli_errors(), option_names(_OPTIONS), open_engine(ctx) as engine:
        who = _who(actor)
        level = check_line("--level", level, 50)
        before = engine.items.review(ref)
        digest = _pending_hash(before, content_hash, urgent=False)
        change = engine.items.approve(
            before.entry.item_id,
            level=level,
            content_hash=digest,
            actor=who,
            comment=comment,
        )
        members: Sequence[ReviewEntry] = before.entry.members
        if not change.released and change.awaiting is None:
            members = engine.items.review(change.item_id).entry.members
        if as_json:
            echo_json({**change_json(change), "bundle": [m.ref for m in members]})
            return
        if change.released:
            typer.echo(
                f"approved {change.ref} at {level}: released (version "
                f"{change.version}); `syndicate sync` delivers it"
            )
            if members:
                together = ", ".join(m.ref for m in members)
                typer.echo(f"released together with {together}")
        elif change.awaiting is not None:
            typer.echo(
                f"approved {change.ref} at {level}; awaiting {change.awaiting} next"
            )
        else:
            waiting = "; ".join(f"{m.ref} ({_state_text(m)})" for m in members)
            typer.echo(
                f"approved {change.ref} at {level}, its last level; it is released "
                f"together with the items of its bundle once they are approved too: "
                f"{waiting or 'none left'}"
            )


@app.command("return")
def return_to_author(
    ctx: typer.Context,
    ref: RefArgument,
    comment: Annotated[
        str | None,
        typer.Option(
            "--comment",
            help="What the author must change (required; recorded and shown to them).",
            show_default=False,
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="The level you act at (default: the one awaited now); refused if it "
            "is not the awaited one.",
            show_default=False,
        ),
    ] = None,
    content_hash: Annotated[
        str | None,
        typer.Option(
            "--hash",
            metavar="SHA256",
            help="The content hash you read: refused if the version changed since.",
            show_default=False,
        ),
    ] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send the version under review back to its author, saying why (退回).

    Nothing is released; the author revises the item (`items revise`) or submits the
    same version again (`review resubmit`), and review starts again at the first level.

    Example: syndicate review return 3f2a9c1e --comment "第3户人口数有误" --actor 李四
    """
    with cli_errors(), option_names(_OPTIONS), open_engine(ctx) as engine:
        who = _who(actor)
        if comment is None or not comment.strip():
            raise InputError(
                [
                    Problem(
                        "--comment",
                        "required: say what the author must change",
                    )
                ]
            )
        change = engine.items.return_to_author(
            ref, comment=comment, actor=who, level=level, content_hash=content_hash
        )
        if as_json:
            echo_json(change_json(change))
            return
        typer.echo(
            f"returned {change.ref} to its author (version {change.version}); nothing "
            "was released"
        )


@app.command()
def resubmit(
    ctx: typer.Context,
    ref: RefArgument,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit a returned version again, unchanged; review starts at the first level.

    To change it first, use `syndicate items revise` instead (that submits the new
    version).

    Example: syndicate review resubmit 3f2a9c1e --actor 张三
    """
    with cli_errors(), option_names(_OPTIONS), open_engine(ctx) as engine:
        change = engine.items.resubmit(ref, actor=_who(actor))
        if as_json:
            echo_json(change_json(change))
            return
        typer.echo(
            f"submitted {change.ref} for review again (version {change.version}; "
            f"awaiting {change.awaiting})"
        )


@app.command()
def release(
    ctx: typer.Context,
    ref: RefArgument,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Release a version approved at every level that was waiting for its bundle.

    The last approval normally releases. A policy approved at every level waits for
    the 解读 under review with it; if that 解读's draft is withdrawn (`syndicate items
    withdraw`), nothing is left to wait for, and this releases the policy alone. Refused
    while a member of its bundle is still under review.

    Example: syndicate review release 3f2a9c1e --actor 王五
    """
    with cli_errors(), option_names(_OPTIONS), open_engine(ctx) as engine:
        change = engine.items.release(ref, actor=_who(actor))
        if as_json:
            echo_json(change_json(change))
            return
        typer.echo(
            f"released {change.ref} (version {change.version}); it goes out with the "
            "next `syndicate sync`"
        )


@app.command("approve-afterwards")
def approve_afterwards(
    ctx: typer.Context,
    ref: RefArgument,
    level: LevelOption,
    content_hash: HashOption = None,
    comment: CommentOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve an urgent release afterwards, at each level in order (补审).

    The same rules as `review approve`: the content hash that was released, levels in
    order, no self- or double approval. Until the last level has approved, the release
    stays on `review list --overdue`, in `status` and in `audit report`.

    Example: syndicate review approve-afterwards 3f2a9c1e --level 审核 --actor 李四
    """
    from syndicate.domain.items import check_line

    with cli_errors(), option_names(_OPTIONS), open_engine(ctx) as engine:
        who = _who(actor)
        level = check_line("--level", level, 50)
        before = engine.items.review(ref)
        digest = _pending_hash(before, content_hash, urgent=True)
        change = engine.items.approve_afterwards(
            before.entry.item_id,
            level=level,
            content_hash=digest,
            actor=who,
            comment=comment,
        )
        urgent = engine.items.get(change.item_id).urgent
        awaiting = urgent.next_level if urgent is not None else None
        if as_json:
            echo_json({**change_json(change), "awaiting": awaiting})
            return
        typer.echo(
            f"approved the urgent release of {change.ref} afterwards at {level}"
            + (
                f"; awaiting {awaiting} next"
                if awaiting
                else "; it is approved at every level"
            )
        )


@app.command("release-urgently")
def release_urgently(
    ctx: typer.Context,
    ref: RefArgument,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Why it cannot wait for review (required; recorded, and shown in "
            "`review list --overdue` and the audit report).",
            show_default=False,
        ),
    ] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Release the version under review now, without (the rest of) its review.

    For what cannot wait (汛情预警): it goes out with the next `syndicate sync`, is
    recorded as released urgently, and must be approved afterwards at every level
    (`review approve-afterwards`) within [review] urgent_review_hours. A policy and
    its 解读 under review together cannot be split this way.

    Example: syndicate review release-urgently 3f2a9c1e --reason "汛情预警" --actor 张三
    """
    with cli_errors(), option_names(_OPTIONS), open_engine(ctx) as engine:
        who = _who(actor)
        if reason is None:
            raise InputError(
                [
                    Problem(
                        "--reason",
                        "required: say why it cannot wait for review",
                    )
                ]
            )
        change = engine.items.release_urgently(ref, reason=reason, actor=who)
        urgent = engine.items.get(change.item_id).urgent
        if as_json:
            echo_json(change_json(change))
            return
        typer.echo(
            f"released {change.ref} urgently, without review (version "
            f"{change.version}); `syndicate sync` delivers it"
        )
        if urgent is not None and urgent.next_level is not None:
            typer.echo(
                f"approve it afterwards by {format_time(urgent.due)}: "
                + _command(
                    "review",
                    "approve-afterwards",
                    change.ref,
                    "--level",
                    urgent.next_level,
                )
            )
