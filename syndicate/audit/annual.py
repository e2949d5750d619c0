"""The 政府信息公开工作年度报告 (年报) in the national format (国办公开办函〔2021〕30号).

Six parts, as the national format orders them:

- 一、总体情况, 五、存在的主要问题及改进情况, 六、其他需要报告的事项: the office's own
  text, from a Markdown file (`parse_text`), rendered as a safe subset (`render_markdown`).
- 二、主动公开政府信息情况: computed from the items log (`proactive_figures`), every figure
  with the list of events it counts (items-log position, item ref, event name).
- 三、收到和处理政府信息公开申请情况 and 四、政府信息公开行政复议、行政诉讼情况: syndicate
  does not hold requests, reviews or suits; they come from a CSV (`parse_requests_csv`).

Counting rules (docs/annual-report.md says the same to operators):

- The year runs in China time, from 1 January 00:00 to 1 January of the next year; the
  log is read as it stood at the year's end (or now, for a year not over yet): later
  events change nothing of the year's figures.
- Only items made public (released) and 主动公开 count, classified by the version public
  at the cut-off (its `doc_type`, `attribute`, `decisions`, `fee_wan`: a correction of a
  figure in the year counts as corrected).
- An item withdrawn (撤回) before the cut-off counts nowhere: withdrawal takes down what
  was published in error, it is not 废止. Such items are listed as excluded.
- 本年制发件数: 规章 / 行政规范性文件 whose first release (`Published`, `Released`,
  `UrgentlyReleased`, or a draft's `Revised`) falls in the year.
- 本年废止件数: those whose force ended in the year: a `Repealed` or `Expired` event, or a
  released revision changing `validity` to repealed or expired (the first of these per
  item). Expiry counts with repeal so that last year's 现行有效 + 制发 - 废止 gives this
  year's 现行有效. A document released already marked repealed or expired counts in
  neither 废止 nor 现行有效.
- 现行有效件数: those released by the cut-off whose force has not ended by it.
- 行政许可, 行政处罚, 行政强制 本年处理决定数量: the sum of `decisions` (None: 1) of the items
  first released in the year; 行政事业性收费 本年收费金额（万元）: the exact decimal sum of
  `fee_wan` of the fee items first released in the year.

Everything here is pure but for reading the items log: no clock (the caller passes the
cut-off and the generation time) and no writing.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

from syndicate.application import CHINA_TZ, Disclosures
from syndicate.audit.facts import item_events
from syndicate.domain.catalogue import Attribute, DocType, Validity
from syndicate.domain.content import ItemContent
from syndicate.domain.items import DisclosureItem
from syndicate.domain.review import ProposalKind
from syndicate.errors import ConfigurationError, InputError, Problem
from syndicate.views import ReviewTracker

__all__ = [
    "REQUEST_COLUMNS",
    "REQUEST_ROWS",
    "REVIEW_COLUMNS",
    "REVIEW_ROWS",
    "TEXT_SECTIONS",
    "AnnualReport",
    "CountedEvent",
    "Excluded",
    "Figure",
    "RequestTables",
    "annual_json",
    "parse_requests_csv",
    "parse_text",
    "proactive_figures",
    "render_html",
    "render_markdown",
    "render_pdf",
    "report_title",
]

# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class CountedEvent:
    """One event a figure counts: where it is in the items log and what it adds.

    `value`: what this event adds to a sum (处理决定 or 万元; None for a count of items);
    `value_position`: the position of the released version that gave `value`, when it is
    not this event's (a later correction of the figure)."""

    position: int
    ref: str
    title: str
    event: str
    at: datetime
    value: str | None = None
    value_position: int | None = None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "position": self.position,
            "ref": self.ref,
            "title": self.title,
            "event": self.event,
            "at": self.at.astimezone(CHINA_TZ).isoformat(),
        }
        if self.value is not None:
            data["value"] = self.value
        if self.value_position is not None:
            data["value_position"] = self.value_position
        return data


@dataclass(frozen=True)
class Figure:
    """One cell of table 二: its value and the events behind it."""

    key: str  # e.g. "regulation.issued"
    clause: str  # 第二十条第（一）项
    row: str  # 规章
    column: str  # 本年制发件数
    value: int | Decimal
    events: tuple[CountedEvent, ...]

    @property
    def shown(self) -> str:
        """The value as the table prints it (a decimal without trailing zeros)."""
        if isinstance(self.value, Decimal):
            return _decimal_text(self.value)
        return str(self.value)

    @property
    def anchor(self) -> str:
        return "f-" + self.key.replace(".", "-")

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "clause": self.clause,
            "row": self.row,
            "column": self.column,
            "value": self.shown if isinstance(self.value, Decimal) else self.value,
            "events": [e.as_json() for e in self.events],
        }


@dataclass(frozen=True)
class Excluded:
    """An item that would have counted but was withdrawn (撤回) before the cut-off."""

    ref: str
    title: str
    doc_type: str
    released: CountedEvent
    withdrawn: CountedEvent

    def as_json(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "title": self.title,
            "doc_type": self.doc_type,
            "released": self.released.as_json(),
            "withdrawn": self.withdrawn.as_json(),
        }


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class _Moment:
    position: int
    event: str
    at: datetime


@dataclass
class _Item:
    id: UUID
    ref: str
    agency: str
    title: str
    content: ItemContent | None = None  # the public version's (None: never released)
    content_position: int = 0
    release: _Moment | None = None
    withdrawn: _Moment | None = None
    ceased: _Moment | None = None
    born_ceased: bool = False  # released already marked repealed or expired


def _ended(content: ItemContent | None) -> bool:
    return content is not None and content.validity in (
        Validity.REPEALED,
        Validity.EXPIRED,
    )


def _fold(
    events: Iterable[tuple[int, DisclosureItem.Event]], cutoff: datetime
) -> dict[UUID, _Item]:
    """Every item as it stood at `cutoff` (events at or after it are skipped)."""
    found: dict[UUID, _Item] = {}
    reviews = ReviewTracker()
    for position, event in events:
        if event.timestamp >= cutoff:
            continue
        id_ = event.originator_id
        pending = reviews.proposal(id_)
        released = reviews.apply(event)
        name = type(event).__name__
        moment = _Moment(position, name, event.timestamp)
        if isinstance(event, DisclosureItem.Published | DisclosureItem.Drafted):
            c = event.content
            item = _Item(id=id_, ref=c.ref, agency=c.agency, title=c.title)
            found[id_] = item
            if isinstance(event, DisclosureItem.Published):
                _show(item, c, moment)
            continue
        item_or_none = found.get(id_)
        if item_or_none is None:
            continue
        item = item_or_none
        if isinstance(event, DisclosureItem.Revised):
            _show(item, event.content, moment)
        elif isinstance(
            event, DisclosureItem.Released | DisclosureItem.UrgentlyReleased
        ):
            if released is ProposalKind.WITHDRAW:
                item.withdrawn = moment
            elif pending is not None and pending[1] is not None:
                _show(item, pending[1], moment)
        elif isinstance(event, DisclosureItem.Withdrawn):
            if item.release is not None:
                item.withdrawn = moment
        elif (
            isinstance(event, DisclosureItem.Repealed | DisclosureItem.Expired)
            and item.ceased is None
            and not item.born_ceased
        ):
            item.ceased = moment
    return found


def _show(item: _Item, content: ItemContent, moment: _Moment) -> None:
    """A version of `item` became public at `moment`."""
    before = item.content
    item.content = content
    item.content_position = moment.position
    item.title = content.title
    if item.release is None:
        item.release = moment
        item.born_ceased = _ended(content)
    elif _ended(content) and not _ended(before) and item.ceased is None:
        item.ceased = moment


CLAUSE_DOCUMENTS = "第二十条第（一）项"
CLAUSE_LICENCE = "第二十条第（五）项"
CLAUSE_ENFORCEMENT = "第二十条第（六）项"
CLAUSE_FEE = "第二十条第（八）项"
ISSUED, REPEALED, IN_FORCE = "本年制发件数", "本年废止件数", "现行有效件数"
DECISIONS = "本年处理决定数量"
FEE_AMOUNT = "本年收费金额（单位：万元）"

# (key, clause, doc type, column), in the national table's order.
FIGURES: tuple[tuple[str, str, DocType, str], ...] = (
    ("regulation.issued", CLAUSE_DOCUMENTS, DocType.REGULATION, ISSUED),
    ("regulation.repealed", CLAUSE_DOCUMENTS, DocType.REGULATION, REPEALED),
    ("regulation.in_force", CLAUSE_DOCUMENTS, DocType.REGULATION, IN_FORCE),
    ("normative.issued", CLAUSE_DOCUMENTS, DocType.NORMATIVE, ISSUED),
    ("normative.repealed", CLAUSE_DOCUMENTS, DocType.NORMATIVE, REPEALED),
    ("normative.in_force", CLAUSE_DOCUMENTS, DocType.NORMATIVE, IN_FORCE),
    ("licence.decisions", CLAUSE_LICENCE, DocType.LICENCE, DECISIONS),
    ("penalty.decisions", CLAUSE_ENFORCEMENT, DocType.PENALTY, DECISIONS),
    ("coercion.decisions", CLAUSE_ENFORCEMENT, DocType.COERCION, DECISIONS),
    ("fee.amount", CLAUSE_FEE, DocType.FEE, FEE_AMOUNT),
)


def _counted(item: _Item, moment: _Moment, **extra: Any) -> CountedEvent:
    return CountedEvent(
        position=moment.position,
        ref=item.ref,
        title=item.title,
        event=moment.event,
        at=moment.at,
        **extra,
    )


@dataclass
class ProactiveFacts:
    """What `proactive_figures` found: the figures, the items left out, warnings, and
    the agencies seen among released items."""

    figures: tuple[Figure, ...]
    excluded: tuple[Excluded, ...]
    warnings: tuple[str, ...]
    agencies: tuple[str, ...]


def proactive_figures(
    items: Disclosures,
    *,
    year: int,
    cutoff: datetime,
    agency: str | None = None,
    stop: int | None = None,
) -> ProactiveFacts:
    """Table 二 for `year`, as the log stood at `cutoff` (module notes), for `agency`
    (None: every agency). `stop`: read the log up to this position."""
    start = datetime(year, 1, 1, tzinfo=CHINA_TZ)
    folded = _fold(item_events(items, stop=stop), cutoff)
    lists: dict[str, list[CountedEvent]] = {key: [] for key, *_ in FIGURES}
    sums: dict[str, int | Decimal] = {}
    excluded: list[Excluded] = []
    notes: list[str] = []
    agencies: set[str] = set()
    for item in folded.values():
        content, release = item.content, item.release
        if content is None or release is None:
            continue
        agencies.add(item.agency)
        if agency is not None and item.agency != agency:
            continue
        doc_type = content.doc_type
        if doc_type is None or content.attribute is not Attribute.PROACTIVE:
            continue
        if item.withdrawn is not None:
            excluded.append(
                Excluded(
                    item.ref,
                    item.title,
                    doc_type.label,
                    _counted(item, release),
                    _counted(item, item.withdrawn),
                )
            )
            continue
        this_year = release.at >= start
        kind = doc_type.value
        if doc_type.is_document:
            if this_year:
                lists[f"{kind}.issued"].append(_counted(item, release))
            ceased = item.ceased
            if ceased is not None and ceased.at >= start:
                lists[f"{kind}.repealed"].append(_counted(item, ceased))
            if ceased is None and not item.born_ceased:
                lists[f"{kind}.in_force"].append(_counted(item, release))
                until = content.valid_until
                if until is not None and until < cutoff.astimezone(CHINA_TZ).date():
                    notes.append(
                        f"{item.ref}: valid_until {until} has passed but no Expired "
                        "event is recorded (run `syndicate sync`); it counts as 现行有效"
                    )
            continue
        if not this_year:
            continue
        source = (
            item.content_position if item.content_position != release.position else None
        )
        if doc_type.counts_decisions:
            n = content.decisions or 1
            lists[f"{kind}.decisions"].append(
                _counted(item, release, value=str(n), value_position=source)
            )
            sums[f"{kind}.decisions"] = int(sums.get(f"{kind}.decisions", 0)) + n
        elif doc_type is DocType.FEE:
            if content.fee_wan is None:
                notes.append(
                    f"{item.ref}: a 行政事业性收费 item without fee_wan adds 0"
                )
            amount = Decimal(content.fee_wan or "0")
            lists["fee.amount"].append(
                _counted(
                    item, release, value=_decimal_text(amount), value_position=source
                )
            )
            sums["fee.amount"] = Decimal(sums.get("fee.amount", Decimal(0))) + amount
    figures = []
    for key, clause, doc_type, column in FIGURES:
        found = sorted(lists[key], key=lambda e: (e.position, e.ref))
        value: int | Decimal
        if key == "fee.amount":
            value = Decimal(sums.get(key, Decimal(0)))
        elif key.endswith(".decisions"):
            value = int(sums.get(key, 0))
        else:
            value = len(found)
        figures.append(Figure(key, clause, doc_type.label, column, value, tuple(found)))
    excluded.sort(key=lambda x: (x.released.position, x.ref))
    return ProactiveFacts(
        tuple(figures), tuple(excluded), tuple(notes), tuple(sorted(agencies))
    )


# --------------------------------------------------------------------------- CSV

REQUEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("natural", "自然人"),
    ("business", "商业企业"),
    ("research", "科研机构"),
    ("charity", "社会公益组织"),
    ("legal", "法律服务机构"),
    ("other", "其他"),
    ("total", "总计"),
)
_PARTS = tuple(label for _k, label in REQUEST_COLUMNS[:-1])


@dataclass(frozen=True)
class RowSpec:
    """One line of a national table: its name in the CSV and how the table shows it."""

    name: str  # the CSV's row name, e.g. "（三）不予公开/1.属于国家秘密"
    label: str  # the table's own words for the line
    group: str | None = None  # the heading it sits under (（三）不予公开)
    aliases: tuple[str, ...] = ()


_REFUSED = (
    ("（三）不予公开", ("属于国家秘密", "其他法律行政法规禁止公开", "危及“三安全一稳定”",
        "保护第三方合法权益", "属于三类内部事务信息", "属于四类过程性信息",
        "属于行政执法案卷", "属于行政查询事项")),
    ("（四）无法提供", ("本机关不掌握相关政府信息", "没有现成信息需要另行制作",
        "补正后申请内容仍不明确")),
    ("（五）不予处理", ("信访举报投诉类申请", "重复申请", "要求提供公开出版物",
        "无正当理由大量反复申请", "要求行政机关确认或重新出具已获取信息")),
    ("（六）其他处理", (
        "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        "其他")),
)  # fmt: skip

NEW, CARRIED_IN = "一、本年新收政府信息公开申请数量", "二、上年结转政府信息公开申请数量"
RESULTS = "三、本年度办理结果"
RESULT_TOTAL, CARRIED_OUT = "（七）总计", "四、结转下年度继续办理"


def _request_rows() -> tuple[RowSpec, ...]:
    rows = [
        RowSpec(NEW, NEW),
        RowSpec(CARRIED_IN, CARRIED_IN),
        RowSpec("（一）予以公开", "（一）予以公开", RESULTS),
        RowSpec(
            "（二）部分公开",
            "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
            RESULTS,
            ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）",),
        ),
    ]
    for group, labels in _REFUSED:
        for number, label in enumerate(labels, 1):
            rows.append(
                RowSpec(f"{group}/{number}.{label}", f"{number}.{label}", group)
            )
    rows.append(RowSpec(RESULT_TOTAL, RESULT_TOTAL, RESULTS))
    rows.append(RowSpec(CARRIED_OUT, CARRIED_OUT))
    return tuple(rows)


REQUEST_ROWS: tuple[RowSpec, ...] = _request_rows()
# The lines 三（七）总计 adds up: every result line.
_RESULT_PARTS = tuple(
    r.name for r in REQUEST_ROWS if r.group is not None and r.name != RESULT_TOTAL
)

REVIEW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("upheld", "结果维持"),
    ("corrected", "结果纠正"),
    ("other", "其他结果"),
    ("pending", "尚未审结"),
    ("total", "总计"),
)
REVIEW_ROWS: tuple[RowSpec, ...] = (
    RowSpec("行政复议", "行政复议"),
    RowSpec(
        "行政诉讼/未经复议直接起诉",
        "未经复议直接起诉",
        "行政诉讼",
        ("未经复议直接起诉",),
    ),
    RowSpec("行政诉讼/复议后起诉", "复议后起诉", "行政诉讼", ("复议后起诉",)),
)

SECTION_REQUESTS, SECTION_REVIEWS = "三", "四"
_SECTION_NAMES = {
    SECTION_REQUESTS: (
        "三",
        "三、收到和处理政府信息公开申请情况",
        "收到和处理政府信息公开申请情况",
    ),
    SECTION_REVIEWS: (
        "四",
        "四、政府信息公开行政复议、行政诉讼情况",
        "政府信息公开行政复议、行政诉讼情况",
    ),
}


def _norm(text: str) -> str:
    """A row, column or section name compared loosely: full- and half-width alike
    (（三） and (三)), no spaces or quotes, “1、” as “1.”."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[\s\"“”'\u2018\u2019]", "", text)
    return re.sub(r"(\d)、", r"\1.", text)


def _names(rows: Sequence[RowSpec], prefixes: Sequence[str]) -> dict[str, str]:
    """Accepted (normalised) names → canonical row name; ambiguous short names dropped."""
    found: dict[str, str] = {}
    clash: set[str] = set()
    for row in rows:
        candidates = {row.name, row.label, *row.aliases}
        if row.group is not None:
            candidates.add(f"{row.group}/{row.label}")
        for prefix in prefixes:
            candidates |= {f"{prefix}/{c}" for c in list(candidates)}
        for candidate in candidates:
            key = _norm(candidate)
            if key in found and found[key] != row.name:
                clash.add(key)
            found[key] = row.name
    return {k: v for k, v in found.items() if k not in clash}


_REQUEST_NAMES = _names(REQUEST_ROWS, (RESULTS,))
_REVIEW_NAMES = _names(REVIEW_ROWS, ())
_REQUEST_COLUMN_NAMES = {
    **{_norm(label): label for _k, label in REQUEST_COLUMNS},
    **{_norm(f"法人或其他组织/{label}"): label for label in _PARTS[1:]},
    **{_norm(f"申请人情况/{label}"): label for _k, label in REQUEST_COLUMNS},
}
_REVIEW_COLUMN_NAMES = {_norm(label): label for _k, label in REVIEW_COLUMNS}
_HEADINGS = {_norm(group) for group, _ in _REFUSED} | {_norm(RESULTS)}
HEADER = ("section", "row", "column", "value")
MAX_VALUE = 10**9


@dataclass(frozen=True)
class RequestTables:
    """Tables 三 and 四 as imported: every cell (each row and column of the national tables,
    by their CSV names), totals computed where the CSV left them out; `lines`: the CSV
    line each given cell came from."""

    source: str
    requests: Mapping[tuple[str, str], int]
    reviews: Mapping[tuple[str, str], int]
    lines: Mapping[tuple[str, str, str], int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            SECTION_REQUESTS: {
                r.name: {c: self.requests[(r.name, c)] for _k, c in REQUEST_COLUMNS}
                for r in REQUEST_ROWS
            },
            SECTION_REVIEWS: {
                r.name: {c: self.reviews[(r.name, c)] for _k, c in REVIEW_COLUMNS}
                for r in REVIEW_ROWS
            },
        }


def parse_requests_csv(data: bytes, source: str) -> RequestTables:
    """Tables 三 and 四 from a CSV `section,row,column,value` (docs/annual-report.md).

    Cells not listed are 0; a 总计 listed must equal its parts, one left out is
    computed. Raises `InputError` naming the CSV line and column of every problem
    (`source`: the file's name)."""
    problems: list[Problem] = []

    def bad(line: int, column: str, message: str) -> None:
        problems.append(Problem(f"line {line}, column {column}", message))

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            [
                Problem(
                    "", f"is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV"
                )
            ],
            source=source,
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    given: dict[tuple[str, str, str], tuple[int, int]] = {}  # cell → (value, line)
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip().lower() for h in header) != HEADER:
            raise InputError(
                [
                    Problem(
                        "line 1",
                        "the header must be section,row,column,value (found "
                        f"{','.join(header)[:200]!r})"
                        if header
                        else "the header must be section,row,column,value (found "
                        "nothing)",
                    )
                ],
                source=source,
            )
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(HEADER):
                bad(
                    line,
                    "-",
                    f"has {len(cells)} fields; expected 4 ({','.join(HEADER)})",
                )
                continue
            section_text, row_text, column_text, value_text = (c.strip() for c in cells)
            section = _section(section_text)
            if section is None:
                bad(line, "section", f"unknown section {section_text!r}; use 三 or 四")
                continue
            rows = _REQUEST_NAMES if section == SECTION_REQUESTS else _REVIEW_NAMES
            columns = (
                _REQUEST_COLUMN_NAMES
                if section == SECTION_REQUESTS
                else _REVIEW_COLUMN_NAMES
            )
            row = rows.get(_norm(row_text))
            column = columns.get(_norm(column_text))
            if row is None:
                if section == SECTION_REQUESTS and _norm(row_text) in _HEADINGS:
                    message = (
                        f"{row_text!r} is a heading of table 三; give its numbered "
                        "lines (e.g. （三）不予公开/1.属于国家秘密)"
                    )
                else:
                    message = (
                        f"unknown row {row_text!r} of table {section} "
                        "(docs/annual-report.md lists the rows)"
                    )
                bad(line, "row", message)
            if column is None:
                known = "、".join(
                    label
                    for _k, label in (
                        REQUEST_COLUMNS
                        if section == SECTION_REQUESTS
                        else REVIEW_COLUMNS
                    )
                )
                bad(
                    line,
                    "column",
                    f"unknown column {column_text!r}; use one of {known}",
                )
            value = _count(value_text)
            if isinstance(value, str):
                bad(line, "value", value)
            if row is None or column is None or isinstance(value, str):
                continue
            cell = (section, row, column)
            if cell in given:
                bad(
                    line,
                    "row",
                    f"{row} / {column} of table {section} is given twice (also on "
                    f"line {given[cell][1]})",
                )
                continue
            given[cell] = (value, line)
    except csv.Error as exc:
        raise InputError(
            [Problem(f"line {reader.line_num}", f"is not valid CSV ({exc})")],
            source=source,
        ) from None
    if problems:
        raise InputError(problems, source=source)
    requests, reviews, totals = _complete(given)
    if totals:
        raise InputError(totals, source=source)
    lines = {cell: line for cell, (_v, line) in given.items()}
    return RequestTables(source, requests, reviews, lines)


def _section(text: str) -> str | None:
    key = unicodedata.normalize("NFKC", text).strip()
    for section, names in _SECTION_NAMES.items():
        if key in names or _norm(key) in {_norm(n) for n in names[1:]}:
            return section
    return None


def _count(text: str) -> int | str:
    """A cell's value, or what is wrong with it."""
    plain = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"-\s*\d+", plain):
        return f"{text!r} is negative; a count is 0 or more"
    if not re.fullmatch(r"\d+", plain):
        return f"{text!r} is not a whole number"
    if len(plain.lstrip("0")) > len(str(MAX_VALUE)):
        return f"{text[:20]!r}… is too large"
    value = int(plain)
    if value > MAX_VALUE:
        return f"{text!r} is too large"
    return value


def _complete(
    given: Mapping[tuple[str, str, str], tuple[int, int]],
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int], list[Problem]]:
    """Fill every cell (0 when not given), compute the totals left out, and check the
    totals given and the 勾稽关系 (一 + 二 = 三（七）+ 四, column by column)."""
    problems: list[Problem] = []

    def value(section: str, row: str, column: str) -> int:
        return given.get((section, row, column), (0, 0))[0]

    def check(section: str, row: str, column: str, parts: int, what: str) -> int:
        found = given.get((section, row, column))
        if found is not None and found[0] != parts:
            problems.append(
                Problem(
                    f"line {found[1]}, column value",
                    f"{row} / {column} is {found[0]} but {what} add up to {parts}",
                )
            )
        return parts if found is None else found[0]

    requests: dict[tuple[str, str], int] = {}
    for row in REQUEST_ROWS:
        for label in _PARTS:
            requests[(row.name, label)] = value(SECTION_REQUESTS, row.name, label)
    for label in (*_PARTS, "总计"):
        if label != "总计":
            parts = sum(requests[(r, label)] for r in _RESULT_PARTS)
            requests[(RESULT_TOTAL, label)] = check(
                SECTION_REQUESTS, RESULT_TOTAL, label, parts, "（一）to（六）"
            )
    for row in REQUEST_ROWS:
        parts = sum(requests[(row.name, label)] for label in _PARTS)
        requests[(row.name, "总计")] = check(
            SECTION_REQUESTS, row.name, "总计", parts, "自然人 and 法人或其他组织"
        )
    for label in (*_PARTS, "总计"):
        left = requests[(NEW, label)] + requests[(CARRIED_IN, label)]
        right = requests[(RESULT_TOTAL, label)] + requests[(CARRIED_OUT, label)]
        if left != right:
            where = ", ".join(
                f"line {given[(SECTION_REQUESTS, r, label)][1]}"
                for r in (NEW, CARRIED_IN, RESULT_TOTAL, CARRIED_OUT)
                if (SECTION_REQUESTS, r, label) in given
            )
            problems.append(
                Problem(
                    f"{where or 'lines -'}, column value",
                    f"table 三, {label}: 一 + 二 = {left} but 三（七）总计 + 四 = "
                    f"{right}; the national format requires them equal",
                )
            )
    reviews: dict[tuple[str, str], int] = {}
    parts_labels = [label for _k, label in REVIEW_COLUMNS[:-1]]
    for row in REVIEW_ROWS:
        for label in parts_labels:
            reviews[(row.name, label)] = value(SECTION_REVIEWS, row.name, label)
        parts = sum(reviews[(row.name, label)] for label in parts_labels)
        reviews[(row.name, "总计")] = check(
            SECTION_REVIEWS, row.name, "总计", parts, "维持、纠正、其他结果、尚未审结"
        )
    return requests, reviews, problems


# --------------------------------------------------------------------------- text

TEXT_SECTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "一",
        "一、总体情况",
        "本年度政府信息公开工作的总体情况：主动公开、依申请公开、政府信息管理、"
        "平台建设、监督保障等方面的主要做法和成效。",
    ),
    (
        "五",
        "五、存在的主要问题及改进情况",
        "上一年度年报所列问题的改进情况，本年度工作存在的主要问题和下一步改进措施。",
    ),
    (
        "六",
        "六、其他需要报告的事项",
        "依据《政府信息公开信息处理费管理办法》收取信息处理费的情况，落实上级年度政务"
        "公开工作要点的情况，人大代表建议和政协提案办理结果公开情况，以及其他需要报告"
        "的事项（没有的写“无”）。",
    ),
)


def parse_text(text: str, source: str) -> dict[str, str]:
    """Sections 一, 五 and 六 from Markdown: each under its `## ` heading (`## 一、总体
    情况`, or the name alone). A `# ` title line before them is ignored. Raises
    `InputError` naming the line for text outside a section, a heading that is not one
    of the three, or a section given twice."""
    wanted = {_norm(h): number for number, h, _ in TEXT_SECTIONS}
    wanted |= {_norm(h.split("、", 1)[1]): number for number, h, _ in TEXT_SECTIONS}
    wanted |= {number: number for number, _h, _ in TEXT_SECTIONS}
    found: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    current: str | None = None
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), 1):
        heading = re.match(r"^##(?!#)\s*(.*?)\s*#*\s*$", line)
        if heading:
            name = heading.group(1)
            key = wanted.get(_norm(name)) or wanted.get(name.strip().rstrip("、"))
            if key is None:
                problems.append(
                    Problem(
                        f"line {number}",
                        f"unknown section {name!r}; the text holds only "
                        + "、".join(h for _n, h, _ in TEXT_SECTIONS)
                        + " (二、三、四 come from the log and the CSV)",
                    )
                )
                current = None
                continue
            if key in found:
                problems.append(
                    Problem(
                        f"line {number}",
                        f"section {key} is given twice (also on line {first_line[key]})",
                    )
                )
                current = None
                continue
            found[key] = []
            first_line[key] = number
            current = key
            continue
        if current is None:
            if line.strip() and not re.match(r"^#(?!#)", line) and not problems:
                problems.append(
                    Problem(
                        f"line {number}",
                        "text before the first section heading (## 一、总体情况)",
                    )
                )
            continue
        found[current].append(line)
    if problems:
        raise InputError(problems, source=source)
    return {k: "\n".join(v).strip("\n") for k, v in found.items()}


_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


def _inline(text: str) -> str:
    """Escape `text`, then mark **strong**, *emphasis* and `code`."""
    out = html.escape(text, quote=True)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?![*\w])", r"<em>\1</em>", out)
    return out


def _join(lines: Sequence[str]) -> str:
    """Lines of one paragraph as one: no space between Chinese characters."""
    text = ""
    for line in lines:
        line = line.strip()
        if text and not (_CJK.match(text[-1]) or _CJK.match(line[:1])):
            text += " "
        text += line
    return text


def render_markdown(text: str) -> str:
    """A safe subset of Markdown as HTML: paragraphs, `###`/`####` headings, `-`/`*`
    and `1.` lists, **strong**, *emphasis*, `code`. Everything else is text: HTML in it
    is escaped, never passed through."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    kind: str | None = None  # "ul" or "ol" while a list is open

    def close() -> None:
        nonlocal kind
        if paragraph:
            blocks.append(f"<p>{_inline(_join(paragraph))}</p>")
            paragraph.clear()
        if items and kind is not None:
            lis = "".join(f"<li>{_inline(_join([i]))}</li>" for i in items)
            blocks.append(f"<{kind}>{lis}</{kind}>")
            items.clear()
        kind = None

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            close()
            continue
        heading = re.match(r"^(#{3,4})\s+(.*?)\s*#*$", stripped)
        bullet = re.match(r"^[-*+]\s+(.*)$", stripped)
        numbered = re.match(r"^\d{1,3}[.)]\s+(.*)$", stripped)
        if heading:
            close()
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            wanted = "ul" if bullet else "ol"
            if paragraph or (kind is not None and kind != wanted):
                close()
            kind = wanted
            items.append((bullet or numbered).group(1))  # type: ignore[union-attr]
        elif items and line[:1].isspace():
            items[-1] = _join([items[-1], stripped])  # a list item's next line
        else:
            if items:
                close()
            paragraph.append(stripped)
    close()
    return "\n".join(blocks)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class AnnualReport:
    """Everything the 年报 shows: computed, imported and written by the office."""

    year: int
    agency: str | None
    title: str
    generated_at: datetime
    cutoff: datetime  # the log as it stood then: the year's end, or now
    complete: bool  # the year is over
    log_position: int  # the items log was read up to this position
    figures: tuple[Figure, ...]
    excluded: tuple[Excluded, ...]
    requests: RequestTables | None
    texts: Mapping[
        str, str
    ]  # section number (一, 五, 六) → Markdown; absent: not given
    warnings: tuple[str, ...] = ()

    def figure(self, key: str) -> Figure:
        """The figure with this key (e.g. "normative.repealed")."""
        for found in self.figures:
            if found.key == key:
                return found
        raise KeyError(key)


def report_title(agency: str | None, year: int) -> str:
    """临溪县民政局2026年政府信息公开工作年度报告."""
    return f"{agency or ''}{year}年政府信息公开工作年度报告"


def annual_json(report: AnnualReport, files: Sequence[Path] = ()) -> dict[str, object]:
    """The report as `annual-report.json` holds it (and `--json` prints it)."""
    return {
        "year": report.year,
        "agency": report.agency,
        "title": report.title,
        "generated_at": report.generated_at.astimezone(CHINA_TZ).isoformat(),
        "cutoff": report.cutoff.astimezone(CHINA_TZ).isoformat(),
        "complete": report.complete,
        "log_position": report.log_position,
        "proactive": [f.as_json() for f in report.figures],
        "excluded": [x.as_json() for x in report.excluded],
        "requests": report.requests.as_json() if report.requests else None,
        "text": {number: number in report.texts for number, _h, _ in TEXT_SECTIONS},
        "warnings": list(report.warnings),
        "files": [str(p) for p in files],
    }


def _css() -> str:
    folder = resources.files(__package__).joinpath("annual_assets")
    return folder.joinpath("annual.css").read_text("utf-8")


def _figure_cell(f: Figure, colspan: int = 1) -> str:
    span = f' colspan="{colspan}"' if colspan > 1 else ""
    return (
        f'<td class="n"{span}><a class="figure" href="#{f.anchor}" '
        f'title="统计依据：{len(f.events)}条记录">{html.escape(f.shown)}</a></td>'
    )


def _table_two(report: AnnualReport) -> str:
    f = {x.key: x for x in report.figures}
    rows = [
        f'<tr><th colspan="4">{CLAUSE_DOCUMENTS}</th></tr>',
        f"<tr><th>信息内容</th><th>{ISSUED}</th><th>{REPEALED}</th>"
        f"<th>{IN_FORCE}</th></tr>",
    ]
    for kind in ("regulation", "normative"):
        cells = "".join(
            _figure_cell(f[f"{kind}.{c}"]) for c in ("issued", "repealed", "in_force")
        )
        rows.append(f'<tr><th class="row">{f[kind + ".issued"].row}</th>{cells}</tr>')
    for clause, keys, column in (
        (CLAUSE_LICENCE, ("licence.decisions",), DECISIONS),
        (CLAUSE_ENFORCEMENT, ("penalty.decisions", "coercion.decisions"), DECISIONS),
        (CLAUSE_FEE, ("fee.amount",), FEE_AMOUNT),
    ):
        rows.append(f'<tr><th colspan="4">{clause}</th></tr>')
        rows.append(f'<tr><th>信息内容</th><th colspan="3">{column}</th></tr>')
        for key in keys:
            rows.append(
                f'<tr><th class="row">{f[key].row}</th>{_figure_cell(f[key], 3)}</tr>'
            )
    return f'<table class="proactive">{"".join(rows)}</table>'


def _n(tables: RequestTables | None, cells: Mapping[tuple[str, str], int], row: str,
       column: str) -> str:  # fmt: skip
    if tables is None:
        return '<td class="n">—</td>'
    return f'<td class="n">{cells[(row, column)]}</td>'


def _not_imported(what: str) -> str:
    return (
        f'<p class="note missing">未导入：本表数据未导入（{what}），表中“—”表示没有'
        "数据，不是零。请以 --requests 导入依申请公开、行政复议和行政诉讼情况"
        "（docs/annual-report.md）。</p>"
    )


def _table_three(tables: RequestTables | None) -> str:
    cells = tables.requests if tables is not None else {}
    labels = [label for _k, label in REQUEST_COLUMNS]

    def line(row: RowSpec) -> str:
        return "".join(_n(tables, cells, row.name, c) for c in labels)

    head = (
        '<tr><th colspan="3" rowspan="3">（本列数据的勾稽关系为：第一项加第二项之和，'
        '等于第三项加第四项之和）</th><th colspan="7">申请人情况</th></tr>'
        '<tr><th rowspan="2">自然人</th><th colspan="5">法人或其他组织</th>'
        '<th rowspan="2">总计</th></tr><tr>'
        + "".join(f"<th>{p}</th>" for p in _PARTS[1:])
        + "</tr>"
    )
    body = []
    by_name = {r.name: r for r in REQUEST_ROWS}
    for name in (NEW, CARRIED_IN):
        body.append(
            f'<tr><th class="row" colspan="3">{name}</th>{line(by_name[name])}</tr>'
        )
    result_rows = [r for r in REQUEST_ROWS if r.group is not None]
    first = True
    done_groups: set[str] = set()
    for row in result_rows:
        lead = (
            f'<th class="row" rowspan="{len(result_rows)}">{RESULTS}</th>'
            if first
            else ""
        )
        first = False
        if row.group == RESULTS:
            label = html.escape(row.label)
            body.append(
                f'<tr>{lead}<th class="row" colspan="2">{label}</th>{line(row)}</tr>'
            )
            continue
        group = row.group or ""
        group_cell = ""
        if group not in done_groups:
            done_groups.add(group)
            size = sum(1 for r in result_rows if r.group == group)
            group_cell = f'<th class="row" rowspan="{size}">{group}</th>'
        body.append(
            f'<tr>{lead}{group_cell}<th class="row">{html.escape(row.label)}</th>'
            f"{line(row)}</tr>"
        )
    body.append(
        f'<tr><th class="row" colspan="3">{CARRIED_OUT}</th>{line(by_name[CARRIED_OUT])}</tr>'
    )
    note = _not_imported("三") if tables is None else ""
    return f'{note}<table class="requests">{head}{"".join(body)}</table>'


def _table_four(tables: RequestTables | None) -> str:
    cells = tables.reviews if tables is not None else {}
    labels = [label for _k, label in REVIEW_COLUMNS]
    head = (
        '<tr><th colspan="5">行政复议</th><th colspan="10">行政诉讼</th></tr><tr>'
        + "".join(f'<th rowspan="2">{c}</th>' for c in labels)
        + '<th colspan="5">未经复议直接起诉</th><th colspan="5">复议后起诉</th></tr><tr>'
        + "".join(f"<th>{c}</th>" for c in labels * 2)
        + "</tr>"
    )
    values = "".join(
        _n(tables, cells, row.name, c) for row in REVIEW_ROWS for c in labels
    )
    note = _not_imported("四") if tables is None else ""
    return f'{note}<table class="reviews">{head}<tr>{values}</tr></table>'


def _text_section(report: AnnualReport, number: str, heading: str, hint: str) -> str:
    text = report.texts.get(number)
    if text is None or not text.strip():
        body = (
            f'<p class="placeholder">（待填写）本部分应写明：{html.escape(hint)}'
            f"在 --text 文件的“## {html.escape(heading)}”下填写。</p>"
        )
    else:
        body = render_markdown(text)
    return f'<section id="s{number}"><h2>{html.escape(heading)}</h2>{body}</section>'


def _when(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _evidence(report: AnnualReport) -> str:
    parts = [
        '<section class="evidence" id="evidence"><h2>附：主动公开数据的统计依据</h2>'
        '<p class="note">每个数字所计入的发布记录：事项日志位置、事项（索引号）、事件。'
        "核查某一事项的全过程：<code>syndicate audit trail 事项</code>。"
        f"统计截至{_when(report.cutoff)}（北京时间），事项日志读至第"
        f"{report.log_position}条。</p>"
    ]
    for f in report.figures:
        head = f"{f.clause} {f.row} {f.column}：{f.shown}"
        if not f.events:
            rows = '<tr><td colspan="6">无</td></tr>'
        else:
            rows = "".join(
                f"<tr><td>{e.position}</td><td>{html.escape(e.ref)}</td>"
                f"<td>{html.escape(e.title)}</td><td>{e.event}</td>"
                f"<td>{_when(e.at)}</td><td>{html.escape(e.value or '')}"
                + (f"（取自第{e.value_position}条）" if e.value_position else "")
                + "</td></tr>"
                for e in f.events
            )
        parts.append(
            f'<h3 id="{f.anchor}">{html.escape(head)}</h3><table class="events">'
            "<tr><th>日志位置</th><th>事项</th><th>标题</th><th>事件</th>"
            f"<th>时间</th><th>计入数值</th></tr>{rows}</table>"
        )
    if report.excluded:
        rows = "".join(
            f"<tr><td>{html.escape(x.ref)}</td><td>{html.escape(x.title)}</td>"
            f"<td>{x.doc_type}</td><td>{x.released.position} {x.released.event}</td>"
            f"<td>{x.withdrawn.position} {x.withdrawn.event}（{_when(x.withdrawn.at)}）"
            "</td></tr>"
            for x in report.excluded
        )
        parts.append(
            '<h3 id="excluded">已撤回、不计入统计的事项</h3><table class="events">'
            "<tr><th>事项</th><th>标题</th><th>类型</th><th>发布</th><th>撤回</th></tr>"
            f"{rows}</table>"
        )
    return "".join(parts) + "</section>"


def render_html(report: AnnualReport) -> str:
    """The report's `index.html`: self-contained (inline CSS, no scripts, nothing
    loaded from elsewhere), print-ready."""
    title = html.escape(report.title)
    first, *rest = TEXT_SECTIONS
    cut = (
        ""
        if report.complete
        else f"本年度尚未结束，数据截至{_when(report.cutoff)}（北京时间）。"
    )
    intro = (
        f'<p class="intro">本报告依据《中华人民共和国政府信息公开条例》和国务院办公厅政府'
        "信息公开办公室关于政府信息公开工作年度报告格式的要求编制。第二部分数据由政务"
        "公开发布系统的事项日志统计生成，每个数字链接到所计入的发布记录（见附）。"
        f"{cut}</p>"
    )
    requests_source = (
        f'<p class="note">数据来源：{html.escape(Path(report.requests.source).name)}</p>'
        if report.requests is not None
        else ""
    )
    body = (
        f"<h1>{title}</h1>{intro}"
        + _text_section(report, *first)
        + '<section id="s二"><h2>二、主动公开政府信息情况</h2>'
        + _table_two(report)
        + "</section>"
        + '<section id="s三"><h2>三、收到和处理政府信息公开申请情况</h2>'
        + _table_three(report.requests)
        + requests_source
        + "</section>"
        + '<section id="s四"><h2>四、政府信息公开行政复议、行政诉讼情况</h2>'
        + _table_four(report.requests)
        + "</section>"
        + "".join(_text_section(report, *section) for section in rest)
        + _evidence(report)
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_css()}</style></head>"
        f"<body>{body}</body></html>\n"
    )


# --------------------------------------------------------------------------- PDF

FONT_PACKAGE = "pylopdf_fonts_zh_cn"
_FONT_FILES = (
    ("Annual Serif SC", "NotoSerifSC-Regular.otf"),
    ("Annual Sans SC", "NotoSansSC-Regular.otf"),
)
# What WeasyPrint draws that is not in the document: the page counter, list markers.
_GENERATED = "— 0123456789.•◦▪"
_STYLE_OR_TITLE = re.compile(r"<(style|title)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


class _QuietSubset(logging.Filter):
    """WeasyPrint says, per font, that it subsets with fontTools when the system has no
    HarfBuzz-Subset library: our fonts come cut to size already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "HarfBuzz-Subset" not in record.getMessage()


_QUIET = _QuietSubset()


def _font(name: str) -> tuple[bytes, frozenset[int]]:
    """A bundled font's bytes and the characters it has (`pylopdf-fonts-zh-cn`, a data
    package: read with importlib.resources, never imported)."""
    import uharfbuzz as hb

    try:
        data = resources.files(FONT_PACKAGE).joinpath(name).read_bytes()
    except (ModuleNotFoundError, OSError) as exc:
        raise ConfigurationError(
            "the annual report's PDF needs the font package pylopdf-fonts-zh-cn (one "
            f"of syndicate's dependencies: reinstall syndicate) ({exc})"
        ) from None
    return data, frozenset(hb.Face(hb.Blob(data)).unicodes)


def _subset(data: bytes, text: str) -> bytes:
    import uharfbuzz as hb

    spec = hb.SubsetInput()
    spec.unicode_set.update(sorted({ord(ch) for ch in text}))
    cut = hb.subset(hb.Face(hb.Blob(data)), spec)
    return data if cut is None else bytes(cut.blob.data)


def render_pdf(document: str) -> bytes:
    """PDF bytes of the report's HTML, in the bundled Noto Serif SC and Noto Sans SC
    (embedded cut to the report's characters), whatever fonts the system has (none in
    a minimal container).

    Raises `InputError` (field "pdf") if the text has characters neither font can draw,
    `ConfigurationError` without WeasyPrint's system libraries (Pango) or if the PDF
    would use any other font."""
    text = html.unescape(_TAG.sub(" ", _STYLE_OR_TITLE.sub(" ", document))) + _GENERATED
    fonts = [(family, *_font(name)) for family, name in _FONT_FILES]
    have = frozenset().union(*(f[2] for f in fonts))
    missing = list(
        dict.fromkeys(
            ch
            for ch in text
            if ch.isprintable() and not ch.isspace() and ord(ch) not in have
        )
    )
    if missing:
        shown = "、".join(f"{ch} (U+{ord(ch):04X})" for ch in missing[:10])
        raise InputError(
            [
                Problem(
                    "pdf",
                    f"no bundled font can print {shown}; remove them from the text",
                )
            ]
        )
    faces = "\n".join(
        f'@font-face {{ font-family: "{family}"; src: url("data:font/otf;base64,'
        f'{base64.b64encode(_subset(data, text)).decode("ascii")}"); }}'
        for family, data, _ in fonts
    )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*HarfBuzz-Subset")
            warnings.filterwarnings("ignore", message=".*Expect ugly output")
            from weasyprint import CSS, HTML
            from weasyprint.text.fonts import FontConfiguration
            from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigurationError(
            "the annual report's PDF needs the Pango library (on Debian or Ubuntu: "
            f"apt-get install libpango-1.0-0 libpangoft2-1.0-0) ({first})"
        ) from None
    logging.getLogger("weasyprint").addFilter(_QUIET)
    fetcher = URLFetcher(allowed_protocols={"data"})  # the fonts only: no disk, no net
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Expect ugly output")
        config = FontConfiguration()
        sheet = CSS(string=faces, font_config=config, url_fetcher=fetcher)
        rendered = HTML(string=document, url_fetcher=fetcher).render(
            stylesheets=[sheet], font_config=config
        )
        pdf: bytes = rendered.write_pdf(pdf_identifier=False)
    ours = {family.replace(" ", "-") for family, _name in _FONT_FILES}
    used = {
        bytes(font.name).decode("ascii", "replace").split("+")[-1]
        for font in rendered.fonts.values()
    }
    # Ours, or ours drawn bold or slanted (WeasyPrint names those `FAMILY-Bold`).
    strangers = sorted(
        u for u in used if not any(u == o or u.startswith(o + "-") for o in ours)
    )
    if not used or strangers:
        raise ConfigurationError(
            "the annual report's PDF would use fonts syndicate did not choose: "
            + (", ".join(strangers) or "none")
        )
    return pdf
