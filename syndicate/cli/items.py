"""`syndicate items …`: publish, revise, withdraw, show and list disclosure items."""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from syndicate.domain.status import ItemStatus

if TYPE_CHECKING:
    from syndicate.application import Change
    from syndicate.domain.guard import GuardOverride
    from syndicate.domain.items import DisclosureItem
    from syndicate.itemfiles import LoadedItem

from syndicate.cli.output import (
    change_json,
    cli_errors,
    echo_json,
    format_time,
    iso_china,
    option_names,
    report,
    table,
)
from syndicate.cli.state import (
    ActorOption,
    JsonOption,
    open_engine,
    resolve_actor,
    state_of,
)
from syndicate.errors import (
    AlreadyPublished,
    DomainError,
    InputError,
    Problem,
    SyndicateError,
)

__all__ = ["app", "item_json"]

app = typer.Typer(
    help="Publish, revise, withdraw and inspect disclosure items.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

RefArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="Item id (or a unique prefix of it), or AGENCY/INDEX_NO.",
        show_default=False,
    ),
]
UrgentOption = Annotated[
    str | None,
    typer.Option(
        "--urgent",
        metavar="REASON",
        help="Release at once, without review (先审后发 skipped), for what cannot wait; "
        "REASON (e.g. 汛情预警) is recorded, and the release must be approved "
        "afterwards at every level (`syndicate review approve-afterwards`). Only "
        "when review is on.",
        show_default=False,
    ),
]
AllowPiiOption = Annotated[
    bool,
    typer.Option(
        "--allow-pii",
        help="Publish although the guard found personal information (身份证号, mobile "
        "or bank card numbers) or could not read an attachment, where the law requires "
        "the data (e.g. 失信惩戒公示); needs --basis. Recorded in the log "
        "(GuardOverridden) and listed by `syndicate audit report`.",
    ),
]
AllowWordingOption = Annotated[
    bool,
    typer.Option(
        "--allow-wording",
        help="Publish although the guard found 严重 错敏词 (a false alarm in context); "
        "needs --basis, recorded like --allow-pii.",
    ),
]
BasisOption = Annotated[
    str | None,
    typer.Option(
        "--basis",
        metavar="BASIS",
        help="Why --allow-pii / --allow-wording is lawful, e.g. "
        '"《失信被执行人名单信息公布办法》第七条". Recorded in the log; must not itself '
        "hold personal information.",
        show_default=False,
    ),
]
ReleaseAtOption = Annotated[
    str | None,
    typer.Option(
        "--release-at",
        metavar="TIME",
        help="定时发布: release at this time (China time, e.g. 2026-12-08T09:00), not "
        "before; review, where it is on, still approves it first. `syndicate status` "
        "shows it as 待发布; `items schedule` moves or cancels it. A 公示 whose window "
        "starts later waits for its start by itself.",
        show_default=False,
    ),
]
LateReasonOption = Annotated[
    str | None,
    typer.Option(
        "--late-reason",
        metavar="REASON",
        help="Publish a 公示 although its window has ended, is shorter than [notice] "
        "minimum_working_days or started before it can be released (e.g. "
        '"补录：已于4月在村公示栏张贴"); recorded (NoticeExcepted) and listed by '
        "`syndicate audit report`.",
        show_default=False,
    ),
]
# Library parameter → the option an operator typed.
_OPTIONS = {
    "urgent": "--urgent",
    "reason": "--reason",
    "actor": "--actor",
    "basis": "--basis",
    "release_at": "--release-at",
    "late_reason": "--late-reason",
    "replaced_by": "--replaced-by",
    "public_note": "--note",
}


def _release_at(value: str | None) -> datetime | None:
    """--release-at as a time (China time unless it names its zone)."""
    from syndicate.domain.lifecycle import parse_time

    return None if value is None else parse_time("--release-at", value)


# Commands with a public note (withdraw, erase): the library's public_note is --note.
_NOTE_OPTIONS = {**_OPTIONS, "public_note": "--note"}


def _override(
    allow_pii: bool, allow_wording: bool, basis: str | None
) -> GuardOverride | None:
    """The guard override the options ask for (or None)."""
    from syndicate.domain.guard import GuardOverride
    from syndicate.domain.items import check_line

    if not (allow_pii or allow_wording):
        if basis is not None:
            raise InputError(
                [Problem("--basis", "goes with --allow-pii or --allow-wording")]
            )
        return None
    if basis is None or not basis.strip():
        raise InputError(
            [
                Problem(
                    "--basis",
                    "required with --allow-pii / --allow-wording: the legal basis for "
                    "publishing what the guard found, recorded in the log",
                )
            ]
        )
    return GuardOverride(
        basis=check_line("--basis", basis, 500), pii=allow_pii, wording=allow_wording
    )


def _urgent(reason: str | None) -> str | None:
    """The --urgent reason, checked once (it is easy to forget its value)."""
    from syndicate.domain.items import check_line

    if reason is None:
        return None
    if reason.startswith("-"):
        raise InputError(
            [
                Problem(
                    "--urgent",
                    f"takes the reason as its value, e.g. --urgent "
                    f'"汛情预警" (got {reason!r})',
                )
            ]
        )
    return check_line("--urgent", reason, 500)


def _note(note: str) -> str:
    """The --note value, checked (multi-line, at most 2000 characters)."""
    from syndicate.domain.items import check_note

    try:
        return check_note(note)
    except InputError:
        raise InputError(
            [Problem("--note", "must be text of at most 2000 characters")]
        ) from None


def _outcome(change: Change) -> str:
    """What a write did to what outlets show, in words."""
    if change.event == "Submitted":
        return f"submitted for review (awaiting {change.awaiting})"
    if change.event == "UrgentlyReleased":
        return "released urgently, without review: approve it afterwards"
    if change.release_at is not None and not change.released:
        waits = f" (awaiting {change.awaiting})" if change.awaiting else ""
        return f"待发布: scheduled for {format_time(change.release_at)}{waits}"
    return "published" if change.released else change.event


IfVersionOption = Annotated[
    int | None,
    typer.Option(
        "--if-version",
        min=1,
        help="Refuse unless the item is still at this version (guards against "
        "overwriting a change you have not seen).",
    ),
]


@app.command()
def publish(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            help="Item files (.toml, .json, .md with +++ front matter) or directories "
            "of them.",
            show_default=False,
        ),
    ],
    actor: ActorOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the files; publish nothing."),
    ] = False,
    urgent: UrgentOption = None,
    allow_pii: AllowPiiOption = False,
    allow_wording: AllowWordingOption = False,
    basis: BasisOption = None,
    release_at: ReleaseAtOption = None,
    late_reason: LateReasonOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON list of what was written (one object per item) "
            "instead of ids.",
        ),
    ] = False,
) -> None:
    """Publish new items from files; print each new item's id.

    The guard checks each item first (title, body and the text of every attachment):
    a 身份证号, mobile or bank card number, a 严重 错敏词, or an attachment it cannot
    read stops that item (exit 1) and nothing of it is stored; see `syndicate items
    check`, and --allow-pii / --allow-wording with --basis.

    Under review (先审后发, [review] levels in syndicate.toml) each item is submitted
    for review instead, and says so ("submitted for review (awaiting 审核)"): it
    reaches no public outlet until `syndicate review approve` at every level.

    Each file is checked whole: a file with problems is reported (file, field,
    problem, every one of them) and publishes nothing, while the other files go ahead.
    A file given twice counts once; a second file with the same agency and index_no
    (the same item) is refused. An item already published with the file's very
    content is counted as such, so a run cut short can be run again; a file whose item
    was published with other content is refused (use `items revise`). Exit 2 if any
    file was bad, 1 if any item was refused, 0 otherwise.

    A 公示 (notice_period) that would be late, shorter than [notice]
    minimum_working_days, or start before it can be released is refused unless
    --late-reason says why; one whose window starts later waits for its start (待发布).
    --release-at schedules the release (定时发布).

    Example: syndicate items publish notices/ extra-notice.md --actor 张三
    """
    from syndicate.domain.items import check_line
    from syndicate.itemfiles import (
        expand_paths,
        in_publish_order,
        load_item_file,
        without_duplicates,
    )

    with cli_errors():
        urgent = _urgent(urgent)
        override = _override(allow_pii, allow_wording, basis)
        when = _release_at(release_at)
        files = expand_paths(paths)
        # Once, before any file: a bad --actor is one error, not one per file.
        who = check_line("--actor", resolve_actor(actor), 100)
        loaded: list[LoadedItem] = []
        worst = 0
        seen: set[Path] = set()
        for path in files:
            if path.resolve() in seen:  # the same file again (perhaps via a folder)
                typer.echo(
                    f"note: {path}: given more than once; counted once", err=True
                )
                continue
            seen.add(path.resolve())
            try:
                loaded.append(load_item_file(path))
            except InputError as exc:
                report(exc)
                worst = 2
        loaded, duplicates = without_duplicates(loaded)
        for duplicate in duplicates:
            typer.echo(f"error: {duplicate}", err=True)
            worst = max(worst, 1)
        total = len(seen)
        identical = 0
        if dry_run:
            ok = 0
            with open_engine(ctx) as engine:
                with option_names(_OPTIONS):
                    verdicts = engine.items.check_publish(
                        [(i.content, i.attachments) for i in loaded],
                        actor=who,
                        override=override,
                        release_at=when,
                        late_reason=late_reason,
                    )
                policy = engine.project.review
            reviewed = sum(
                policy.rules_for(i.content).on
                for i, (_, problem) in zip(loaded, verdicts, strict=True)
                if problem is None
            )
            for item, (_, problem) in zip(loaded, verdicts, strict=True):
                if problem is None:
                    ok += 1
                    typer.echo(f"ok  {item.source}  {item.content.ref}")
                elif isinstance(problem, AlreadyPublished) and problem.identical:
                    identical += 1
                    typer.echo(f"note: {item.source}: {problem}", err=True)
                elif isinstance(problem, InputError):
                    report(problem.with_source(str(item.source)))
                    worst = 2
                else:
                    _refused(item, problem)
                    worst = max(worst, 1)
            same = f", {identical} already published (identical)" if identical else ""
            if reviewed and urgent is None:
                verdict = (
                    f"{ok} would be submitted for review"
                    if reviewed == ok
                    else f"{ok} would publish ({reviewed} of them submitted for review)"
                )
            else:
                verdict = f"{ok} would publish"
            typer.echo(
                f"checked {total} file(s): {verdict}{same}, "
                f"{total - ok - identical} would be refused; nothing published",
                err=True,
            )
            raise typer.Exit(worst)
        published = 0
        changes: list[Change] = []
        with open_engine(ctx) as engine:
            for item in in_publish_order(loaded):
                try:
                    with option_names(_OPTIONS):
                        change = engine.items.publish(
                            item.content,
                            actor=who,
                            attachments=item.attachments,
                            urgent=urgent,
                            override=override,
                            release_at=when,
                            late_reason=late_reason,
                        )
                except AlreadyPublished as exc:
                    if exc.identical:
                        identical += 1
                        typer.echo(f"note: {item.source}: {exc}", err=True)
                    else:
                        _refused(item, exc)
                        worst = max(worst, 1)
                    continue
                except InputError as exc:
                    report(exc.with_source(str(item.source)))
                    worst = 2
                    continue
                except DomainError as exc:
                    _refused(item, exc)
                    worst = max(worst, 1)
                    continue
                published += 1
                changes.append(change)
                if not as_json:
                    line = f"{change.item_id}  {change.ref}"
                    if change.event != "Published":
                        line += f"  {_outcome(change)}"
                    typer.echo(line)
        scheduled = [c for c in changes if c.release_at and not c.released]
        if as_json:
            echo_json([change_json(c) for c in changes])
        submitted = [c for c in changes if c.event == "Submitted"]
        if submitted and len(submitted) == published:
            levels = ", ".join(sorted({c.awaiting or "" for c in submitted}))
            summary = (
                f"submitted {published} of {total} item file(s) for review (awaiting "
                f"{levels}); nothing reaches a public outlet until approved: "
                "`syndicate review list`"
            )
        elif submitted:
            summary = (
                f"published {published} of {total} item file(s), "
                f"{len(submitted)} of them submitted for review (`syndicate review "
                "list`)"
            )
        else:
            summary = f"published {published} of {total} item file(s)"
        if scheduled:
            summary += (
                f"; {len(scheduled)} 待发布 (scheduled): `syndicate status` shows when"
            )
        if urgent is not None and published:
            summary += (
                "; released urgently, without review: approve afterwards with "
                "`syndicate review approve-afterwards`"
            )
        if identical:
            summary += f"; {identical} already published, identical"
        if refused := total - published - identical:
            summary += f"; {refused} refused"
        typer.echo(summary, err=True)
        raise typer.Exit(worst)


def _refused(item: LoadedItem, exc: SyndicateError) -> None:
    """One `error:` line naming the file; for a changed file, the command to use."""
    typer.echo(f"error: {item.source}: {exc}", err=True)
    if isinstance(exc, AlreadyPublished) and exc.revisable:
        typer.echo(
            f"  to publish {item.source} as a new version: syndicate items revise "
            f"{shlex.quote(item.content.ref)} {shlex.quote(str(item.source))} "
            '--reason "…"',
            err=True,
        )


@app.command()
def revise(
    ctx: typer.Context,
    ref: RefArgument,
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH",
            help="Item file with the complete new content.",
            show_default=False,
        ),
    ],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why it changed; shown publicly as the correction note (更正说明).",
            show_default=False,
        ),
    ],
    if_version: IfVersionOption = None,
    actor: ActorOption = None,
    urgent: UrgentOption = None,
    allow_pii: AllowPiiOption = False,
    allow_wording: AllowWordingOption = False,
    basis: BasisOption = None,
    release_at: ReleaseAtOption = None,
    late_reason: LateReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Publish a new version of an item from a file with its complete new content.

    The guard checks the new version and the --reason first, as `items publish` does.

    Under review the new version is submitted for review instead (the output says
    so), and outlets keep showing the released version until it is approved; a
    version still under review is replaced (its approvals lapse).

    Example: syndicate items revise 某县民政局/000014349/2026-00012 list.md
    --reason "更正第3户家庭人口数"
    """
    from syndicate.domain.items import check_line
    from syndicate.itemfiles import load_item_file

    with cli_errors():
        reason = check_line("--reason", reason, 500)
        who = check_line("--actor", resolve_actor(actor), 100)
        urgent = _urgent(urgent)
        override = _override(allow_pii, allow_wording, basis)
        when = _release_at(release_at)
        loaded = load_item_file(path)
        with open_engine(ctx) as engine, option_names(_OPTIONS):
            item_id = engine.items.resolve(ref)
            try:
                change = engine.items.revise(
                    item_id,
                    loaded.content,
                    reason=reason,
                    actor=who,
                    expected_version=if_version,
                    urgent=urgent,
                    attachments=loaded.attachments,
                    override=override,
                    release_at=when,
                    late_reason=late_reason,
                )
            except InputError as exc:
                if any(p.field in _OPTIONS for p in exc.problems):
                    raise
                raise exc.with_source(str(path)) from None
        if as_json:
            echo_json(change_json(change))
        elif change.release_at is not None and not change.released:
            typer.echo(
                f"version {change.version} of {change.ref}: {_outcome(change)}; "
                "outlets keep what they show until then"
            )
        elif change.event == "Submitted":
            typer.echo(
                f"submitted version {change.version} of {change.ref} for review "
                f"(awaiting {change.awaiting}); outlets keep what they show until "
                "it is approved"
            )
        elif change.event == "UrgentlyReleased":
            typer.echo(
                f"revised {change.ref} urgently, without review: now version "
                f"{change.version}; approve it afterwards with `syndicate review "
                "approve-afterwards`"
            )
        else:
            typer.echo(f"revised {change.ref}: now version {change.version}")


@app.command()
def withdraw(
    ctx: typer.Context,
    ref: RefArgument,
    reason: Annotated[
        str,
        typer.Option(
            "--reason", help="Why it is withdrawn (recorded).", show_default=False
        ),
    ],
    note: Annotated[
        str,
        typer.Option(
            "--note",
            help="Public note shown in the item's place (撤回说明).",
            show_default=False,
        ),
    ] = "",
    if_version: IfVersionOption = None,
    actor: ActorOption = None,
    urgent: UrgentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw an item from every outlet (撤回). It cannot be revised afterwards.

    Under review (and [review] withdraw_needs_review, the default) the withdrawal of
    a released item is submitted for review instead (the output says so) and the
    item stays on outlets until it is approved; --urgent takes it down at once. An
    item never released is withdrawn at once.

    Example: syndicate items withdraw 3f2a9c1e --reason "招聘会延期" --note "原通知撤回"
    """
    from syndicate.domain.items import check_line

    with cli_errors():
        reason = check_line("--reason", reason, 500)
        who = check_line("--actor", resolve_actor(actor), 100)
        urgent = _urgent(urgent)
        note = _note(note)
        with (
            open_engine(ctx) as engine,
            option_names(_NOTE_OPTIONS),
        ):
            change = engine.items.withdraw(
                ref,
                reason=reason,
                public_note=note,
                actor=who,
                expected_version=if_version,
                urgent=urgent,
            )
        if as_json:
            echo_json(change_json(change))
        elif change.event == "Submitted":
            typer.echo(
                f"submitted the withdrawal of {change.ref} for review (awaiting "
                f"{change.awaiting}); it stays on outlets until approved"
            )
        elif change.event == "UrgentlyReleased":
            typer.echo(
                f"withdrew {change.ref} urgently, without review (version "
                f"{change.version}); approve it afterwards with `syndicate review "
                "approve-afterwards`"
            )
        else:
            typer.echo(f"withdrew {change.ref} (version {change.version})")


@app.command()
def erase(
    ctx: typer.Context,
    ref: RefArgument,
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why the personal data goes now (recorded), e.g. 公示期满.",
            show_default=False,
        ),
    ],
    note: Annotated[
        str,
        typer.Option(
            "--note",
            help="Public statement shown where the sealed files were (default: "
            "本信息所附个人信息（《…》）已于…按规定删除。).",
            show_default=False,
        ),
    ] = "",
    if_version: IfVersionOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase an item's sealed attachments (个人信息删除) for good.

    Only attachments published with `sealed = true` can be erased: they were stored
    encrypted with the item's own key, which this destroys after recording `Erased`.
    Then `syndicate sync` shows the item without them (and a statement in their place)
    on the portal, kiosks and feeds, deletes the WeChat article, and prints a 撤除
    sheet for notice boards; messages already sent to groups cannot be recalled.
    `audit verify` still passes: the log keeps only the sealed blobs.

    Example: syndicate items erase 临溪县农业农村局/11330100MB0000004X/2026-00021
    --reason 公示期满
    """
    from syndicate.domain.items import check_line

    with cli_errors():
        reason = check_line("--reason", reason, 500)
        who = check_line("--actor", resolve_actor(actor), 100)
        note = _note(note)
        with (
            open_engine(ctx) as engine,
            option_names(_NOTE_OPTIONS),
        ):
            change = engine.items.erase(
                ref,
                reason=reason,
                public_note=note,
                actor=who,
                expected_version=if_version,
            )
        if as_json:
            echo_json(change_json(change))
        else:
            typer.echo(
                f"erased the sealed attachments of {change.ref} (version "
                f"{change.version}); their key is destroyed. Run `syndicate sync` to "
                "take them off every outlet."
            )


@app.command()
def schedule(
    ctx: typer.Context,
    ref: RefArgument,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="The new release time (China time, e.g. 2026-12-08T09:00).",
            show_default=False,
        ),
    ] = None,
    cancel: Annotated[
        bool,
        typer.Option(
            "--cancel",
            help="Cancel the schedule: the version waits, unreleased, until scheduled "
            "again, released (`syndicate review release`) or withdrawn.",
        ),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why (recorded).", show_default=False),
    ] = None,
    late_reason: LateReasonOption = None,
    if_version: IfVersionOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move or cancel the scheduled release (定时发布) of an item's waiting version.

    A new time is judged as publishing is: it must be after now and at most a year
    ahead, not before a 公示's window starts, and (unless --late-reason) not make the
    公示 late or short.

    Each change is an event (ReleaseScheduled, ScheduleCancelled). A schedule fires
    at the first `syndicate sync` (or worker round) at or after its time, once review
    approved the version.

    Example: syndicate items schedule 临溪县民政局/2026-00031 --at 2026-12-08T09:00
    """
    from syndicate.domain.items import check_line
    from syndicate.domain.lifecycle import parse_time

    with cli_errors():
        if (at is None) == (not cancel):
            raise InputError(
                [Problem("--at", "give either --at TIME or --cancel (one of them)")]
            )
        who = check_line("--actor", resolve_actor(actor), 100)
        when = None if cancel else parse_time("--at", at or "")
        with (
            open_engine(ctx) as engine,
            option_names({**_OPTIONS, "release_at": "--at"}),
        ):
            change = engine.items.schedule(
                ref,
                release_at=when,
                actor=who,
                reason=reason,
                late_reason=late_reason,
                expected_version=if_version,
            )
        if as_json:
            echo_json(change_json(change))
        elif change.release_at is None:
            typer.echo(
                f"cancelled the scheduled release of {change.ref}: its version waits, "
                "unreleased"
            )
        else:
            typer.echo(f"{change.ref}: {_outcome(change)}")


@app.command()
def repeal(
    ctx: typer.Context,
    ref: RefArgument,
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why (recorded), e.g. the repealing decision: 县政府令第12号.",
            show_default=False,
        ),
    ],
    replaced_by: Annotated[
        str | None,
        typer.Option(
            "--replaced-by",
            metavar="REF",
            help="The released item that replaces it; outlets link to it.",
            show_default=False,
        ),
    ] = None,
    note: Annotated[
        str,
        typer.Option(
            "--note",
            help="Public statement (default: 本文件已于…废止，由《…》替代。).",
            show_default=False,
        ),
    ] = "",
    if_version: IfVersionOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Repeal (废止) a released document: it stays public as history, marked 已废止.

    Distinct from `items withdraw` (撤回, which takes an item down): the portal shows
    a banner and a link to --replaced-by, its lists show the validity, the feeds
    carry an update, the kiosk marks it, group robots and WeChat get a 【废止】 notice,
    a notice board gets a take-down sheet, and its 解读 are marked too. Run
    `syndicate sync` to deliver.

    Example: syndicate items repeal 临溪县人民政府/2019-00003 --reason "县政府令第12号"
    --replaced-by 临溪县人民政府/2026-00031
    """
    from syndicate.domain.items import check_line

    with cli_errors():
        reason = check_line("--reason", reason, 500)
        who = check_line("--actor", resolve_actor(actor), 100)
        note = _note(note)
        with open_engine(ctx) as engine, option_names(_OPTIONS):
            change = engine.items.repeal(
                ref,
                reason=reason,
                actor=who,
                replaced_by=replaced_by,
                public_note=note,
                expected_version=if_version,
            )
        if as_json:
            echo_json(change_json(change))
        else:
            typer.echo(
                f"repealed {change.ref} (version {change.version}): it stays public, "
                "marked 已废止. Run `syndicate sync` to show it on every outlet."
            )


@app.command()
def check(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            help="Item files (checked with their attachments), documents you are "
            "about to attach (CSV, XLSX, DOCX, PDF, text), or folders of them.",
            show_default=False,
        ),
    ],
    fix: Annotated[
        Path | None,
        typer.Option(
            "--fix",
            metavar="OUT",
            help="Write a masked copy of each file under OUT (the layout kept): "
            "numbers masked by the [guard] masking rules, words replaced where the list "
            "suggests a replacement; what needs a person is listed.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check files for personal information and 错敏词 before publishing; writes
    nothing to the log.

    Lists every finding with its place (`attachments[0] 第3行 第2列`, `body 第12行`)
    and the masked form proposed, e.g. `身份证号未去标识化 (应为 330122********1234)`.
    An attachment that cannot be read (a scan, an image) is reported as unchecked,
    never as clean. Uses the home's [guard] settings (word lists, masking) when run in
    a home, the defaults otherwise. Exit 1 if anything would stop publishing, 2 if a
    file is not a valid item file, 0 otherwise.

    Example: syndicate items check 低保名单/ --fix 低保名单-已脱敏/
    """
    from syndicate.domain.guard import GuardPolicy
    from syndicate.guardfiles import check_paths, write_fixed

    with cli_errors():
        home = state_of(ctx).home
        if (home / "syndicate.toml").is_file():
            policy = state_of(ctx).project(store=False).guard
        else:
            policy = GuardPolicy.default()
        if fix is not None and fix.exists() and not fix.is_dir():
            raise InputError(
                [Problem("--fix", f"{fix} exists and is not a folder; give a folder")]
            )
        checks = check_paths(paths, policy)
        roots = {p.resolve(): p for p in paths if p.is_dir()}
        fixed: dict[Path, Any] = {}
        if fix is not None:
            for c in checks:
                if c.error is not None or c.report.clean:
                    continue
                root = next(
                    (
                        d
                        for d in roots.values()
                        if c.source.resolve().is_relative_to(d.resolve())
                    ),
                    c.source.parent,
                )
                fixed[c.source] = write_fixed(c, root, fix, policy)
        worst = 0
        for c in checks:
            if c.error is not None:
                worst = 2
            elif c.report.blocks:
                worst = max(worst, 1)
        if as_json:
            out = []
            for c in checks:
                entry = c.as_json()
                if c.source in fixed:
                    entry["fixed"] = [str(p) for p in fixed[c.source].written]
                    entry["not_fixed"] = list(fixed[c.source].not_fixed)
                out.append(entry)
            echo_json(out)
            raise typer.Exit(worst)
        clean = 0
        for c in checks:
            if c.error is not None:
                report(c.error)
                continue
            if c.report.clean:
                clean += 1
                continue
            verdict = "blocks publishing" if c.report.blocks else "does not block"
            typer.echo(f"{c.source}: {verdict}")
            for line in c.report.lines():
                typer.echo(f"  {line}")
            if c.source in fixed:
                result = fixed[c.source]
                for written in result.written:
                    typer.echo(f"  wrote {written}")
                for line in result.not_fixed:
                    typer.echo(f"  needs a person: {line}")
        blocked = sum(1 for c in checks if c.error is None and c.report.blocks)
        typer.echo(
            f"checked {len(checks)} file(s): {clean} clean, {blocked} would be stopped"
            + (
                f", {sum(c.error is not None for c in checks)} not valid"
                if worst == 2
                else ""
            )
            + ("; masked copies under " + str(fix) if fixed else "")
            + "; nothing stored",
            err=True,
        )
        raise typer.Exit(worst)


def item_json(item: DisclosureItem) -> dict[str, Any]:
    """The object `items show --json` prints."""
    withdrawal = item.withdrawal
    return {
        "id": str(item.id),
        "agency": item.content.agency,
        "index_no": item.content.index_no,
        "title": item.content.title,
        "version": item.version,
        "status": item.status.value,
        "content": item.content.model_dump(mode="json"),
        "content_hash": item.content_hash,
        "published_at": iso_china(item.created_on),
        "updated_at": iso_china(item.modified_on),
        "history": [
            {
                "version": h.version,
                "event": h.event,
                "at": iso_china(h.at),
                "actor": h.actor,
                "content_hash": h.content_hash,
                "reason": h.reason,
            }
            for h in item.history
        ],
        "release_at": iso_china(item.schedule.release_at) if item.schedule else None,
        "notice_ended": item.notice_over,
        "validity": item.validity.value if item.validity else None,
        "replaced_by": str(item.repeal.replaced_by)
        if item.repeal and item.repeal.replaced_by
        else None,
        "withdrawal": None
        if withdrawal is None
        else {
            "at": iso_china(withdrawal.timestamp),
            "actor": withdrawal.actor,
            "reason": withdrawal.reason,
            "public_note": withdrawal.public_note,
        },
    }


def _show_text(item: DisclosureItem) -> str:
    from syndicate.domain.catalogue import area_by_code

    c = item.content
    area = area_by_code(c.area)
    fields: list[tuple[str, str]] = [
        ("标题 title", c.title),
        ("状态 status", f"{item.status.value}, version {item.version}"),
        ("索引号 index_no", c.index_no),
        ("发布机构 agency", c.agency),
    ]
    if c.doc_no:
        fields.append(("发文字号 doc_no", c.doc_no))
    fields += [
        ("试点领域 area", f"{area.name} ({area.code})"),
        ("五公开 stage", f"{c.stage.label} ({c.stage.value})"),
    ]
    if c.category:
        fields.append(("主题分类 category", c.category))
    fields += [
        ("公开依据 basis", c.basis or ""),
        ("公开对象 audience", c.audience),
        ("公开属性 attribute", f"{c.attribute.label} ({c.attribute.value})"),
    ]
    if c.attribute_basis:
        fields.append(("不予公开依据 attribute_basis", c.attribute_basis))
    fields.append(("形成日期 formed_on", c.formed_on.isoformat()))
    if c.notice_period:
        fields.append(
            (
                "公示期 notice_period",
                f"{c.notice_period.start} 至 {c.notice_period.end}",
            )
        )
    if c.changed_on:
        fields.append(("变更日期 changed_on", c.changed_on.isoformat()))
    if item.notice_over:
        fields.append(("公示状态 notice", "公示期已结束"))
    if item.validity is not None:
        fields.append(
            ("时效 validity", f"{item.validity.label} ({item.validity.value})")
        )
    if c.valid_until:
        fields.append(("有效期至 valid_until", c.valid_until.isoformat()))
    path = c.catalogue_path if c.catalogue_path != c.catalogue_item else None
    for label, value in (
        ("标准目录事项 catalogue_item", c.catalogue_item),
        ("事项路径 catalogue_path", path),
        (
            "公开时限 time_limit_days",
            f"{c.time_limit_days} 个工作日" if c.time_limit_days else None,
        ),
        ("监督投诉 supervision", c.supervision),
        ("文件类型 doc_type", c.doc_type.label if c.doc_type else None),
        ("处理决定数量 decisions", str(c.decisions) if c.decisions else None),
        ("收费金额（万元） fee_wan", c.fee_wan),
        ("政府信息公开页面 page_kind", c.page_kind.label if c.page_kind else None),
    ):
        if value is not None:
            fields.append((label, value))
    if item.repeal is not None and item.repeal.replaced_by_ref:
        fields.append(("替代文件 replaced_by", item.repeal.replaced_by_ref))
    if item.schedule is not None:
        fields.append(
            ("定时发布 release_at", f"待发布 {format_time(item.schedule.release_at)}")
        )
    if c.interprets:
        fields.append(("解读对象 interprets", str(c.interprets)))
    fields.append(("公开渠道 channels", "、".join(ch.label for ch in c.channels)))
    fields += [
        (
            "附件 attachment",
            f"{a.name} ({a.media_type}, {a.size} bytes, sha256 {a.sha256})",
        )
        for a in c.attachments
    ]
    fields += [
        ("发布日期 published", format_time(item.created_on)),
        ("内容哈希 content_hash", item.content_hash),
    ]
    lines = [f"{c.ref}  (item {item.id})", ""]
    lines += table(["", ""], fields).splitlines()[1:]
    lines += ["", c.body, "", "History (UTC+8):"]
    for h in item.history:
        line = f"  v{h.version}  {h.event:<9}  {format_time(h.at)}  by {h.actor}"
        if h.reason:
            line += f"  reason: {h.reason}"
        lines.append(line)
    if item.withdrawal and item.withdrawal.public_note:
        lines.append(f"  public note: {item.withdrawal.public_note}")
    return "\n".join(lines)


@app.command()
def show(
    ctx: typer.Context,
    ref: RefArgument,
    version: Annotated[
        int | None,
        typer.Option(
            "--version", min=1, help="Show this version instead of the latest."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show one item: every catalogue element, the body and the history.

    Example: syndicate items show 某县民政局/000014349/2026-00012 --json
    """
    with cli_errors(), open_engine(ctx) as engine:
        item = engine.items.get(ref, version=version)
        if as_json:
            echo_json(item_json(item))
        else:
            typer.echo(_show_text(item))


@app.command("list")
def list_items(
    ctx: typer.Context,
    area: Annotated[
        str | None,
        typer.Option("--area", help="Only this pilot area (code or Chinese name)."),
    ] = None,
    agency: Annotated[
        str | None, typer.Option("--agency", help="Only this agency (exact name).")
    ] = None,
    status: Annotated[
        ItemStatus | None,
        typer.Option(
            "--status",
            help="Only published, only withdrawn, or only pending items (never "
            "released: under review or returned).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List items with their current version and status, oldest first.

    Example: syndicate items list --area 社会救助 --json
    """
    from syndicate.domain.catalogue import area_by_code, parse_area

    with cli_errors():
        area_code = None
        if area is not None:
            try:
                area_code = parse_area(area)
            except ValueError as exc:
                raise InputError([Problem("--area", str(exc))]) from None
        with open_engine(ctx) as engine:
            found = engine.items.items(area=area_code, agency=agency, status=status)
        if as_json:
            echo_json([s.as_json() for s in found])
            return
        if not found:
            typer.echo("no items", err=True)
            return
        rows = [
            [
                str(s.id)[:8],
                s.status.value + (f" ({s.review})" if s.review else ""),
                f"v{s.version}",
                area_by_code(s.area).name,
                s.ref,
                s.title,
            ]
            for s in found
        ]
        typer.echo(table(["ID", "STATUS", "VER", "AREA", "REF", "TITLE"], rows))
