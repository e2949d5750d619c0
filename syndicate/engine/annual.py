"""Engine operations: the 政府信息公开工作年度报告 (年报) from the log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from syndicate.application import CHINA_TZ
from syndicate.audit.annual import (
    AnnualReport,
    Figure,
    annual_json,
    parse_requests_csv,
    parse_text,
    proactive_figures,
    render_html,
    render_pdf,
    report_title,
)
from syndicate.engine._base import EngineBase, store_errors
from syndicate.errors import InputError, Problem
from syndicate.fsutil import write_atomically

__all__ = ["AnnualOps", "AnnualReportResult"]

MAX_INPUT = 16 * 1024 * 1024  # a CSV or Markdown file larger than this is not a 年报's


@dataclass(frozen=True)
class AnnualReportResult:
    """What `annual_report` computed and wrote: the report (every figure with the
    events it counts), and the paths of index.html, the PDF and annual-report.json."""

    report: AnnualReport
    html: Path
    pdf: Path
    json: Path

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.html, self.pdf, self.json)

    @property
    def figures(self) -> tuple[Figure, ...]:
        return self.report.figures

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.report.warnings

    def as_json(self) -> dict[str, object]:
        """What `annual-report.json` holds, with the files written."""
        return annual_json(self.report, self.files)


def _read(path: Path, option: str) -> bytes:
    try:
        if not path.is_file():
            raise InputError([Problem(option, f"{path} is not a file")])
        if path.stat().st_size > MAX_INPUT:
            raise InputError([Problem(option, f"{path} is larger than 16 MiB")])
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            [Problem(option, f"cannot read {path}: {exc.strerror or exc}")]
        ) from None


class AnnualOps(EngineBase):
    """Engine operations: the 政府信息公开工作年度报告 (年报) from the log."""

    def annual_report(
        self,
        year: int,
        *,
        agency: str | None = None,
        requests_csv: Path | None = None,
        text_md: Path | None = None,
        out: Path,
    ) -> AnnualReportResult:
        """Write the 年报 for `year` in the national format (国办公开办函〔2021〕30号)
        into `out` (created if needed; files of the same names replaced): `index.html`,
        `年报-YEAR.pdf` and `annual-report.json`. Only reads the log.

        Part 二 is counted from the items log as it stood at the year's end (or now,
        for the current year), for `agency` (None: every agency); parts 三 and 四 come
        from `requests_csv`, parts 一, 五 and 六 from `text_md` (docs/annual-report.md).
        `InputError` (nothing written) for a year not begun, a bad CSV or Markdown file
        (naming its line and column), or an `out` that is not a directory."""
        now = self.clock()
        if (
            not isinstance(year, int)
            or year < 1970
            or year > now.astimezone(CHINA_TZ).year
        ):
            raise InputError(
                [Problem("year", f"{year} is not a year that has begun (1970 to now)")]
            )
        if agency is not None:
            agency = agency.strip()
            if not agency:
                raise InputError([Problem("agency", "must not be empty")])
        if out.exists() and not out.is_dir():
            raise InputError([Problem("out", f"{out} exists and is not a directory")])
        tables = None
        if requests_csv is not None:
            data = _read(requests_csv, "requests")
            tables = parse_requests_csv(data, str(requests_csv))
        texts: dict[str, str] = {}
        if text_md is not None:
            raw = _read(text_md, "text")
            try:
                decoded = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InputError(
                    [Problem("text", f"{text_md} is not UTF-8 text")]
                ) from None
            texts = parse_text(decoded, str(text_md))
        end = datetime(year + 1, 1, 1, tzinfo=CHINA_TZ)
        cutoff = min(end, now + timedelta(microseconds=1))
        with store_errors():
            position = self.items.position()
            facts = proactive_figures(
                self.items, year=year, cutoff=cutoff, agency=agency, stop=position
            )
        notes = list(facts.warnings)
        shown_agency = agency
        if agency is not None and agency not in facts.agencies:
            notes.append(
                f"no released item of agency {agency!r} in the log: every figure of "
                "part 二 is 0 (check the name)"
            )
        if agency is None:
            if len(facts.agencies) == 1:
                shown_agency = facts.agencies[0]
            elif len(facts.agencies) > 1:
                notes.append(
                    f"the log holds items of {len(facts.agencies)} agencies, all "
                    "counted; give --agency for one agency's report"
                )
        if tables is None:
            notes.append("no --requests CSV: parts 三 and 四 are marked 未导入")
        for number in ("一", "五", "六"):
            if not texts.get(number, "").strip():
                notes.append(
                    f"part {number} has no text: a placeholder says what to write"
                )
        report = AnnualReport(
            year=year,
            agency=shown_agency,
            title=report_title(shown_agency, year),
            generated_at=now,
            cutoff=min(end, now),
            complete=now >= end,
            log_position=position,
            figures=facts.figures,
            excluded=facts.excluded,
            requests=tables,
            texts=texts,
            warnings=tuple(notes),
        )
        page = render_html(report)
        pdf = render_pdf(page)  # before anything is written: a failure writes nothing
        paths = (
            out / "index.html",
            out / f"年报-{year}.pdf",
            out / "annual-report.json",
        )
        result = AnnualReportResult(report, *paths)
        write_atomically(paths[0], page.encode("utf-8"))
        write_atomically(paths[1], pdf)
        text = json.dumps(result.as_json(), ensure_ascii=False, indent=2) + "\n"
        write_atomically(paths[2], text.encode("utf-8"))
        return result
