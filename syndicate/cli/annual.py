"""`syndicate audit annual-report`: the 政府信息公开工作年度报告 (年报)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syndicate.cli.output import cli_errors, echo_json, option_names
from syndicate.cli.state import JsonOption, open_engine

__all__ = ["register"]

OPTIONS = {
    "year": "--year",
    "agency": "--agency",
    "requests": "--requests",
    "text": "--text",
    "out": "--out",
}


def annual_report(
    ctx: typer.Context,
    year: Annotated[
        int,
        typer.Option(
            "--year",
            metavar="YYYY",
            min=1970,
            max=9000,
            help="The year reported on (China time); the log as it stood at its end.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Directory for index.html, 年报-YYYY.pdf and annual-report.json "
            "(created if needed; files of the same names are replaced).",
            show_default=False,
        ),
    ],
    agency: Annotated[
        str | None,
        typer.Option(
            "--agency",
            metavar="AGENCY",
            help="Count only this agency's items (its name as items give it); it "
            "names the report.",
            show_default=False,
        ),
    ] = None,
    requests: Annotated[
        Path | None,
        typer.Option(
            "--requests",
            metavar="FILE.csv",
            help="Parts 三 (依申请公开) and 四 (行政复议、行政诉讼): a CSV "
            "section,row,column,value (docs/annual-report.md). Without it both "
            "tables say 未导入.",
            show_default=False,
        ),
    ] = None,
    text: Annotated[
        Path | None,
        typer.Option(
            "--text",
            metavar="FILE.md",
            help="Parts 一, 五 and 六: Markdown under '## 一、总体情况', "
            "'## 五、存在的主要问题及改进情况', '## 六、其他需要报告的事项'.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the 政府信息公开工作年度报告 in the national format (国办公开办函〔2021〕30号).

    Part 二 (主动公开政府信息情况) is counted from the items log: 规章 and 行政规范性文件
    issued, repealed and in force, 处理决定 of 行政许可, 行政处罚 and 行政强制, and
    行政事业性收费 (万元), each figure linked to the log events it counts (positions for
    `syndicate audit trail REF`). Parts 三 and 四 come from --requests, parts 一, 五 and
    六 from --text. Writes index.html (print-ready), 年报-YYYY.pdf (bundled Chinese fonts)
    and annual-report.json. Only reads the log. Exit status 2 for a bad CSV or Markdown
    file, naming its line and column; nothing is written then.

    Example: syndicate audit annual-report --year 2026 --agency 临溪县民政局 --requests
    requests-2026.csv --text 年报-2026.md --out 年报-2026
    """
    with cli_errors(), option_names(OPTIONS):
        with open_engine(ctx) as engine:
            result = engine.annual_report(
                year,
                agency=agency,
                requests_csv=requests,
                text_md=text,
                out=out,
            )
        if as_json:
            echo_json(result.as_json())
        else:
            for path in result.files:
                typer.echo(str(path))
            figures = "; ".join(f"{f.row} {f.column} {f.shown}" for f in result.figures)
            typer.echo(f"{result.report.title}: {figures}", err=True)
        for warning in result.warnings:
            typer.echo(f"warning: {warning}", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `syndicate audit`."""
    app.command("annual-report")(annual_report)
