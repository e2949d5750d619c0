"""`syndicate catalogue …` and `syndicate audit coverage`: the standard catalogue (标准目录)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from syndicate.audit.coverage import CoverageReport
    from syndicate.domain.standard import CatalogueChange, CatalogueVersion

from syndicate.cli.output import cli_errors, echo_json, format_time, table
from syndicate.cli.state import (
    ActorOption,
    JsonOption,
    open_engine,
    resolve_actor,
)

__all__ = ["app", "register_audit"]

app = typer.Typer(
    help=(
        "The standard catalogue (标准目录) of what the office must disclose: import it "
        "from the office's spreadsheet, see its 事项 and versions, export it. Items "
        "name the 事项 they fulfil with catalogue_item and take its 依据, 对象, 方式, "
        "渠道, 时限 and 监督投诉 (docs/catalogue.md)."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

VersionOption = Annotated[
    int | None,
    typer.Option(
        "--version",
        metavar="N",
        min=1,
        help="A past version (default: the one in force).",
        show_default=False,
    ),
]


def _change_json(change: CatalogueChange) -> dict[str, object]:
    return {
        "added": [e.code for e in change.added],
        "removed": list(change.removed),
        "changed": [e.code for e in change.changed],
    }


def _version_json(version: CatalogueVersion, *, entries: bool) -> dict[str, object]:
    data: dict[str, object] = {
        "version": version.version,
        "source": version.source,
        "sha256": version.sha256,
        "actor": version.actor,
        "at": version.at.isoformat(),
        "count": len(version.entries),
        "change": _change_json(version.change),
    }
    if entries:
        data["entries"] = [e.model_dump(mode="json") for e in version.entries]
    return data


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="The catalogue: .xlsx (merged cells as offices write them) or .csv "
            "(UTF-8 or GBK).",
        ),
    ],
    actor: ActorOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the file and show what would change."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import the standard catalogue: the first version, or the next one (动态调整).

    The header row names the columns in Chinese: 一级事项, 二级事项, 公开内容, 公开依据,
    公开时限, 公开主体, 公开渠道和载体, 公开对象, 公开方式, 公开层级 (and 事项编码,
    事项类别, 监督投诉 where the catalogue has them); a second header row may split
    公开对象, 公开方式 or 公开层级 into columns marked √. A re-import records the 事项
    added, removed and changed; the earlier versions stay in the log. Any problem is
    named by sheet, row and column and nothing is recorded (exit 2).

    Example: syndicate catalogue import 临溪县社会救助标准目录.xlsx --actor 张三
    """
    with cli_errors(), open_engine(ctx) as engine:
        result = engine.import_catalogue(
            file, actor=resolve_actor(actor), dry_run=dry_run
        )
        change = result.change
        if as_json:
            echo_json(
                {
                    "recorded": result.recorded,
                    "dry_run": dry_run,
                    "version": result.version.version,
                    "sheets": list(result.sheets),
                    **_change_json(change),
                }
            )
            return
        counts = (
            f"{len(change.added)} added, {len(change.removed)} removed, "
            f"{len(change.changed)} changed"
        )
        if dry_run:
            typer.echo(
                f"{result.source}: would record {counts}; nothing recorded (dry run)"
            )
        elif not result.recorded:
            typer.echo(
                f"{result.source} changes nothing: version {result.version.version} "
                "stays in force"
            )
        else:
            typer.echo(
                f"catalogue version {result.version.version} recorded from "
                f"{result.source}: {len(result.version.entries)} 事项 ({counts})"
            )
        for label, codes in (
            ("added", [e.path for e in change.added]),
            ("removed", list(change.removed)),
            ("changed", [e.path for e in change.changed]),
        ):
            for code in codes:
                typer.echo(f"  {label:<8}{code}")


@app.command()
def show(
    ctx: typer.Context,
    version: VersionOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the 事项 of the catalogue in force (or of a past version).

    Example: syndicate catalogue show --json
    """
    with cli_errors(), open_engine(ctx) as engine:
        found = engine.catalogue(version)
        if as_json:
            echo_json(_version_json(found, entries=True))
            return
        typer.echo(
            f"standard catalogue version {found.version} ({found.source}, "
            f"{format_time(found.at)}, {found.actor}): {len(found.entries)} 事项"
        )
        typer.echo(
            table(
                ["CODE", "事项", "主体", "时限", "渠道"],
                [
                    [
                        e.code if e.code != e.path else "-",
                        e.path,
                        e.agency,
                        e.time_limit,
                        "、".join(c.label for c in e.channels),
                    ]
                    for e in found.entries
                ],
            )
        )


@app.command()
def history(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every version of the catalogue: when, by whom, from which file, what changed.

    Example: syndicate catalogue history
    """
    with cli_errors(), open_engine(ctx) as engine:
        versions = engine.catalogue_versions()
        if as_json:
            echo_json([_version_json(v, entries=False) for v in versions])
            return
        if not versions:
            typer.echo(
                "no standard catalogue yet; import one with `syndicate catalogue import FILE`"
            )
            return
        typer.echo(
            table(
                [
                    "VERSION",
                    "AT",
                    "ACTOR",
                    "SOURCE",
                    "事项",
                    "ADDED",
                    "REMOVED",
                    "CHANGED",
                ],
                [
                    [
                        str(v.version),
                        format_time(v.at),
                        v.actor,
                        v.source,
                        str(len(v.entries)),
                        str(len(v.change.added)),
                        str(len(v.change.removed)),
                        str(len(v.change.changed)),
                    ]
                    for v in versions
                ],
            )
        )


@app.command()
def export(
    ctx: typer.Context,
    version: VersionOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write the CSV here (default: standard output).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the catalogue as CSV in the usual column layout (UTF-8 with a BOM, so
    Excel opens it). Attach it to an item with page_kind = "catalogue" to publish
    the catalogue itself (向社会公开): the portal shows it as a table.

    Example: syndicate catalogue export --out 标准目录.csv
    """
    from syndicate.engine.catalogue import catalogue_csv

    with cli_errors(), open_engine(ctx) as engine:
        text = catalogue_csv(engine.catalogue(version))
        if out is None:
            sys.stdout.write(text)
            return
        out.write_text("\ufeff" + text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def _coverage_text(report: CoverageReport) -> str:
    lines = [
        f"coverage of catalogue version {report.catalogue_version} for "
        f"{report.quarter} (as of {report.today.isoformat()})"
    ]
    lines.append(
        table(
            ["STATE", "事项", "主体", "时限", "THIS QUARTER", "MISSING"],
            [
                [
                    r.state.label,
                    r.entry.path,
                    r.entry.agency,
                    r.entry.time_limit,
                    str(len(r.in_quarter)),
                    "、".join(r.missing) or "-",
                ]
                for r in sorted(
                    report.rows,
                    key=lambda r: (
                        r.state.value != "blank",
                        r.state.value != "missing",
                    ),
                )
            ],
        )
    )
    blanks = report.blanks
    lines.append(
        f"{len(report.rows)} 事项: {len(blanks)} blank or missing this quarter"
        if blanks
        else f"{len(report.rows)} 事项: none blank or missing this quarter"
    )
    for code, refs in report.orphans:
        lines.append(
            f"note: {len(refs)} item(s) name 事项 {code!r}, which this catalogue no "
            f"longer lists: {'、'.join(refs)}"
        )
    return "\n".join(lines)


def register_audit(audit: typer.Typer) -> None:
    """Add `coverage` to `syndicate audit`."""

    @audit.command()
    def coverage(
        ctx: typer.Context,
        quarter: Annotated[
            str | None,
            typer.Option(
                "--quarter",
                metavar="YYYYQn",
                help="The quarter, e.g. 2026Q2 (default: this quarter, China time).",
                show_default=False,
            ),
        ] = None,
        agency: Annotated[
            str | None,
            typer.Option(
                "--agency",
                metavar="AGENCY",
                help="Only the 事项 whose 公开主体 is this agency.",
                show_default=False,
            ),
        ] = None,
        as_json: JsonOption = False,
        as_csv: Annotated[
            bool, typer.Option("--csv", help="Print CSV (one row per 事项).")
        ] = False,
    ) -> None:
        """Each 事项 of the standard catalogue with what was published for it, and
        the blanks an inspector would find.

        空白 (blank): nothing public for the 事项 at all. 本期未更新 (missing): its
        时限 says 每月 / 每季度 / 每半年 / 每年 and a period that ended in the quarter
        has nothing. 本期待公开 (open): the period is not over and has nothing yet.
        Read-only.

        Example: syndicate audit coverage --quarter 2026Q2 --agency 临溪县民政局
        """
        from syndicate.audit.coverage import coverage_csv

        with cli_errors(), open_engine(ctx) as engine:
            report = engine.coverage(quarter=quarter, agency=agency)
            if as_json:
                echo_json(report.as_json())
            elif as_csv:
                sys.stdout.write(coverage_csv(report))
            else:
                typer.echo(_coverage_text(report))
