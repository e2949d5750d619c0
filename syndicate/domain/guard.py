"""The guard before review and release: personal information and 错敏词 (pure, no I/O).

Publish-once sends a mistake to every outlet at once, and the log keeps it for ever, so
syndicate checks what it is given before anything is stored: every 身份证号, mobile number
and bank card number (`syndicate.domain.pii`) and every term of the operator's and the
built-in word lists (`syndicate.domain.wording`), in the title, the body, a revision's
更正说明, a withdrawal's public note, and the text of every attachment (read by
`syndicate.attachment_text`; one that cannot be read is *unchecked*, never clean).

`check_item` turns all of that into a `GuardReport`: findings with their place
(`attachments[0] 第3行 第2列`), the masked form proposed, and whether each blocks. What
blocks (personal information, 严重 wording, unchecked attachments) stops publishing
unless the operator gives a `GuardOverride` with its legal basis, which the log records.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from syndicate.domain.content import ItemContent
from syndicate.domain.pii import Finding, PiiKind, find_pii, mask
from syndicate.domain.wording import (
    Severity,
    WordFinding,
    WordList,
    WordMatcher,
    builtin_word_list,
)
from syndicate.errors import DomainError, InputError, Problem

__all__ = [
    "DEFAULT_MASKING",
    "GuardFinding",
    "GuardOverride",
    "GuardPolicy",
    "GuardRefused",
    "GuardReport",
    "MaskRule",
    "TextBlockLike",
    "UncheckedPart",
    "check_blocks",
    "check_item",
    "check_text",
    "content_fields",
    "parse_mask_rule",
]


@dataclass(frozen=True)
class MaskRule:
    """How much of a number stays readable: the first `head` and last `tail`
    characters (separators as written are kept and not counted)."""

    head: int
    tail: int

    def __str__(self) -> str:
        return f"{self.head}+{self.tail}"

    def apply(self, written: str) -> str:
        positions = [i for i, ch in enumerate(written) if ch not in " \u00a0-"]
        keep_tail = len(positions) - self.tail
        hidden = set(positions[self.head : max(self.head, keep_tail)])
        return "".join("*" if i in hidden else ch for i, ch in enumerate(written))


# The default masking: what a published list keeps of each number. Sources in
# docs/personal-data.md (bank cards: JR/T 0171-2020 §7.1.1, first 6 and last 4; IDs and
# mobile numbers: the common practice of published 公示 lists and operator statements).
DEFAULT_MASKING: Mapping[PiiKind, MaskRule] = {
    PiiKind.ID_CARD: MaskRule(6, 4),
    PiiKind.MOBILE: MaskRule(3, 4),
    PiiKind.BANK_CARD: MaskRule(6, 4),
}

_MINIMUM_HIDDEN = {PiiKind.ID_CARD: 8, PiiKind.MOBILE: 4, PiiKind.BANK_CARD: 6}
_LENGTH = {PiiKind.ID_CARD: 18, PiiKind.MOBILE: 11, PiiKind.BANK_CARD: 16}


def parse_mask_rule(kind: PiiKind, value: object, *, field_name: str) -> MaskRule:
    """`"6+4"` → MaskRule(6, 4), refusing a rule that leaves too much readable (an ID
    must hide at least its 8 birth-date digits; a mobile number 4; a card 6)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}\+\d{1,2}", value):
        raise InputError(
            [Problem(field_name, f'must be "HEAD+TAIL", e.g. "6+4", not {value!r}')]
        )
    head, tail = (int(part) for part in value.split("+"))
    hidden = _LENGTH[kind] - head - tail
    if hidden < _MINIMUM_HIDDEN[kind]:
        raise InputError(
            [
                Problem(
                    field_name,
                    f"{value} leaves too much of a {kind.label} readable: hide at "
                    f"least {_MINIMUM_HIDDEN[kind]} of its {_LENGTH[kind]} digits",
                )
            ]
        )
    return MaskRule(head, tail)


@dataclass(frozen=True)
class GuardPolicy:
    """What the guard checks, from the home's `[guard]` table.

    `pii`: look for personal information (default on). `word_lists`: the operator's
    lists, then the built-in one (where a term is in two, the first list's rule wins). `masking`/`area_masking`: the masked form proposed,
    per kind, with overrides per 试点领域. `caution_blocks`: 提示-level words block too.
    """

    pii: bool = True
    word_lists: tuple[WordList, ...] = ()
    masking: Mapping[PiiKind, MaskRule] = field(
        default_factory=lambda: dict(DEFAULT_MASKING)
    )
    area_masking: Mapping[str, Mapping[PiiKind, MaskRule]] = field(default_factory=dict)
    caution_blocks: bool = False
    # An attachment the guard cannot read (a scan, an image) stops publishing until
    # someone says it was checked by eye (the override); False: reported only.
    unreadable_blocks: bool = True

    @classmethod
    def default(cls) -> GuardPolicy:
        """Personal information and the built-in word list; default masking."""
        return cls(word_lists=(builtin_word_list(),))

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matcher", WordMatcher(self.word_lists))

    @property
    def matcher(self) -> WordMatcher:
        matcher: WordMatcher = self.__dict__["_matcher"]
        return matcher

    def mask_rule(self, kind: PiiKind, area: str | None) -> MaskRule:
        if area is not None and kind in self.area_masking.get(area, {}):
            return self.area_masking[area][kind]
        return self.masking.get(kind, DEFAULT_MASKING[kind])


class GuardKind(StrEnum):
    ID_CARD = "id_card"
    MOBILE = "mobile"
    BANK_CARD = "bank_card"
    WORD = "word"

    @property
    def label(self) -> str:
        return "错敏词" if self is GuardKind.WORD else PiiKind(self.value).label

    @property
    def personal(self) -> bool:
        return self is not GuardKind.WORD


@dataclass(frozen=True)
class GuardFinding:
    """One finding: where (`part`, `place`), what (`kind`), the text proposed in its
    place (`suggestion`: the masked number, or the word list's replacement), and
    whether it blocks publishing.

    `cell` (block, row, cell of an attachment's text, or None for a text field) and
    `start`/`end` (offsets in that cell or field) locate it for `--fix`; the finding
    never holds the number itself.
    """

    part: str
    place: str
    kind: GuardKind
    suggestion: str
    blocks: bool
    severity: Severity = Severity.SERIOUS
    term: str = ""
    source: str = ""
    cell: tuple[int, int, int] | None = None
    start: int = 0
    end: int = 0

    @property
    def where(self) -> str:
        return f"{self.part} {self.place}" if self.place else self.part

    @property
    def message(self) -> str:
        if self.kind is GuardKind.WORD:
            advice = f"；建议改为「{self.suggestion}」" if self.suggestion else ""
            return (
                f"{self.where}: 错敏词「{self.term}」（{self.severity.label}{advice}；"
                f"依据：{self.source}）"
            )
        return f"{self.where}: {self.kind.label}未去标识化 (应为 {self.suggestion})"

    def as_json(self) -> dict[str, object]:
        return {
            "part": self.part,
            "place": self.place,
            "kind": self.kind.value,
            "label": self.kind.label,
            "suggestion": self.suggestion,
            "blocks": self.blocks,
            "severity": self.severity.value,
            "term": self.term or None,
            "source": self.source or None,
            "message": self.message,
        }


@dataclass(frozen=True)
class UncheckedPart:
    """An attachment whose text could not be read: never reported as clean."""

    part: str
    name: str
    reason: str
    blocks: bool = True

    @property
    def message(self) -> str:
        return f"{self.part} ({self.name}): unchecked: {self.reason}"

    def as_json(self) -> dict[str, object]:
        return {
            "part": self.part,
            "name": self.name,
            "reason": self.reason,
            "blocks": self.blocks,
        }


@dataclass(frozen=True)
class GuardOverride:
    """The operator's decision to publish despite findings, with its legal basis
    (e.g. 失信惩戒公示, where the law requires the data): `pii` covers personal
    information and unchecked attachments, `wording` covers 严重 words."""

    basis: str
    pii: bool = True
    wording: bool = False


@dataclass(frozen=True)
class GuardReport:
    """Everything the guard found in one item (or one file of `items check`)."""

    findings: tuple[GuardFinding, ...] = ()
    unchecked: tuple[UncheckedPart, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.findings and not self.unchecked

    def blocking(self, override: GuardOverride | None = None) -> GuardReport:
        """What still blocks after `override`."""
        allow_pii = override is not None and override.pii
        allow_words = override is not None and override.wording
        return GuardReport(
            tuple(
                f
                for f in self.findings
                if f.blocks and not (allow_pii if f.kind.personal else allow_words)
            ),
            () if allow_pii else tuple(u for u in self.unchecked if u.blocks),
        )

    @property
    def blocks(self) -> bool:
        still = self.blocking()
        return bool(still.findings or still.unchecked)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind.value] = out.get(f.kind.value, 0) + 1
        if self.unchecked:
            out["unchecked"] = len(self.unchecked)
        return out

    def lines(self) -> list[str]:
        return [f.message for f in self.findings] + [u.message for u in self.unchecked]

    def as_json(self) -> dict[str, object]:
        return {
            "clean": self.clean,
            "blocks": self.blocks,
            "findings": [f.as_json() for f in self.findings],
            "unchecked": [u.as_json() for u in self.unchecked],
        }


class GuardRefused(DomainError):
    """The guard found personal information, 严重 wording or an unchecked attachment:
    nothing was stored. `report` holds what blocks (never the numbers themselves)."""

    def __init__(self, ref: str, report: GuardReport) -> None:
        self.report = report
        lines = report.lines()
        shown = lines[:20]
        more = f"\n  … and {len(lines) - 20} more" if len(lines) > 20 else ""
        hint = []
        if any(f.kind.personal for f in report.findings) or report.unchecked:
            hint.append(
                "mask them (`syndicate items check FILE --fix OUT` writes a masked "
                'copy), or publish with --allow-pii --basis "…" where the law '
                "requires the data"
            )
        if any(not f.kind.personal for f in report.findings):
            hint.append('fix the wording, or give --allow-wording --basis "…"')
        super().__init__(
            f"{mask(ref)}: the guard stopped it before review and release; nothing was "
            "stored:\n  "
            + "\n  ".join(shown)
            + more
            + ("\n" + "; ".join(hint) if hint else "")
        )


class TextBlockLike(Protocol):
    """What `check_item` needs of an attachment's text (`attachment_text.TextBlock`)."""

    @property
    def label(self) -> str: ...

    @property
    def rows(self) -> tuple[tuple[str, ...], ...]: ...

    @property
    def table(self) -> bool: ...


def _pii_finding(
    part: str,
    place: str,
    found: Finding,
    policy: GuardPolicy,
    area: str | None,
    cell: tuple[int, int, int] | None,
    start: int,
) -> GuardFinding:
    rule = policy.mask_rule(found.kind, area)
    return GuardFinding(
        part=part,
        place=place,
        kind=GuardKind(found.kind.value),
        suggestion=rule.apply(found.text),
        blocks=True,
        cell=cell,
        start=start,
        end=start + len(found.text),
    )


def _word_finding(
    part: str,
    place: str,
    found: WordFinding,
    policy: GuardPolicy,
    cell: tuple[int, int, int] | None,
    start: int,
) -> GuardFinding:
    rule = found.rule
    return GuardFinding(
        part=part,
        place=place,
        kind=GuardKind.WORD,
        suggestion=rule.replacement,
        blocks=rule.severity is Severity.SERIOUS or policy.caution_blocks,
        severity=rule.severity,
        term=rule.term,
        source=rule.source if found.list_name == "内置" else found.list_name,
        cell=cell,
        start=start,
        end=start + (found.end - found.start),
    )


def check_text(
    part: str, text: str, policy: GuardPolicy, *, area: str | None = None
) -> list[GuardFinding]:
    """Findings in one text field (`title`, `body`, `reason`…), placed by line and
    column; in order of where they start."""
    found: list[GuardFinding] = []
    if policy.pii:
        for f in find_pii(text):
            found.append(_pii_finding(part, f.place, f, policy, area, None, f.start))
    for w in policy.matcher.find(text):
        found.append(_word_finding(part, w.place, w, policy, None, w.start))
    return sorted(found, key=lambda f: f.start)


def _block_place(label: str, row: int, column: int | None, line: int = 1) -> str:
    where = f"{label} " if label else ""
    place = f"{where}第{row}行"
    if column is not None:
        place += f" 第{column}列"
    elif line > 1:
        place += f" (第{line}行)"
    return place


# A cell of digits only (with the separators people write): half of a number split
# across two neighbouring cells, possibly. Looked for where a digit meets a digit across
# the tab between two cells of a block's joined text.
_FRAGMENT = re.compile(r"[\d\uff10-\uff19][\d\uff10-\uff19 \u00a0\-]*[Xx\uff38\uff58]?")
_DIGIT_TAB_DIGIT = re.compile(
    r"[\d\uff10-\uff19][ \u00a0]*\t[ \u00a0]*[\d\uff10-\uff19]"
)


class _Joined:
    """A block's cells joined into one text (tabs between the cells of a row, newlines
    between rows), so the detectors run once per block, in C, rather than once per cell;
    an offset maps back to (row, cell, offset in the cell)."""

    def __init__(self, rows: tuple[tuple[str, ...], ...]) -> None:
        lines = ["\t".join(row) for row in rows]
        self.text = "\n".join(lines)
        self.row_starts = list(
            itertools.accumulate((len(x) + 1 for x in lines), initial=0)
        )
        self.rows = rows

    def locate(self, offset: int) -> tuple[int, int, int, int]:
        """(row, cell, offset in the cell, line in the cell) of a text offset."""
        r = bisect.bisect_right(self.row_starts, offset) - 1
        inside = offset - self.row_starts[r]
        row = self.rows[r]
        for c, cell in enumerate(row):
            if inside <= len(cell) or c == len(row) - 1:
                return r, c, inside, cell.count("\n", 0, inside) + 1
            inside -= len(cell) + 1
        raise ValueError(f"offset {offset} is in no cell")


def check_blocks(
    part: str,
    blocks: Sequence[TextBlockLike],
    policy: GuardPolicy,
    *,
    area: str | None = None,
) -> list[GuardFinding]:
    """Findings in an attachment's text: each cell on its own, and, for a number
    split across two neighbouring cells of a table row (`410102` | `19900307006X`),
    the two joined. Places count rows and columns from 1 (`第3行 第2列`)."""
    found: list[GuardFinding] = []
    for b, block in enumerate(blocks):
        joined = _Joined(block.rows)
        hits: set[tuple[int, int]] = set()

        def place(r: int, c: int, line: int, block: TextBlockLike = block) -> str:
            column = c + 1 if block.table else None
            return _block_place(block.label, r + 1, column, line)

        for f in find_pii(joined.text) if policy.pii else ():
            r, c, inside, line = joined.locate(f.start)
            hits.add((r, c))
            found.append(
                _pii_finding(
                    part, place(r, c, line), f, policy, area, (b, r, c), inside
                )
            )
        for w in policy.matcher.find(joined.text):
            r, c, inside, line = joined.locate(w.start)
            found.append(
                _word_finding(part, place(r, c, line), w, policy, (b, r, c), inside)
            )
        if policy.pii:  # tables, and HTML table rows read as tab-separated lines
            found.extend(_split_numbers(part, b, block, joined, hits, policy, area))
    found.sort(key=lambda f: (f.cell or (0, 0, 0), f.start))
    return found


def _split_numbers(
    part: str,
    b: int,
    block: TextBlockLike,
    joined: _Joined,
    hits: set[tuple[int, int]],
    policy: GuardPolicy,
    area: str | None,
) -> list[GuardFinding]:
    """Numbers written across two neighbouring cells of a row, neither of which holds a
    finding of its own. Only the places where a digit meets a digit across a tab are
    looked at (rare in a list), not every cell."""
    found: list[GuardFinding] = []
    seen: set[tuple[int, int, int]] = set()
    for match in _DIGIT_TAB_DIGIT.finditer(joined.text):
        tab = joined.text.index("\t", match.start())
        r, c, inside, _ = joined.locate(tab - 1)
        row = block.rows[r]
        if inside + 1 == len(row[c]):  # the tab between two cells
            if c + 1 >= len(row):
                continue
            left, right = row[c], row[c + 1]
        else:  # a tab inside a cell's text (an HTML table row read as a line)
            k = row[c].count("\t", 0, inside + 1)  # tabs before this one
            pieces = row[c].split("\t")
            left, right = pieces[k], pieces[k + 1]
        if (r, c, tab) in seen:
            continue
        seen.add((r, c, tab))
        if (r, c) in hits or (r, c + 1) in hits:
            continue
        left, right = left.strip(), right.strip()
        if not (_FRAGMENT.fullmatch(left) and _FRAGMENT.fullmatch(right)):
            continue
        number = f"{left} {right}"
        for f in find_pii(number):
            if f.start == 0 and f.end == len(number):
                rule = policy.mask_rule(f.kind, area)
                found.append(
                    GuardFinding(
                        part=part,
                        place=_block_place(block.label, r + 1, c + 1) + f"至第{c + 2}列"
                        if block.table
                        else _block_place(block.label, r + 1, None),
                        kind=GuardKind(f.kind.value),
                        suggestion=rule.apply(number),
                        blocks=True,
                        cell=None,  # split across cells: fixed by hand
                    )
                )
                hits.update(((r, c), (r, c + 1)))
    return found


def content_fields(content: ItemContent) -> list[tuple[str, str]]:
    """The text fields of a content version the guard reads, as (part, text)."""
    return [
        ("agency", content.agency),
        ("index_no", content.index_no),
        ("title", content.title),
        ("body", content.body),
        ("category", content.category or ""),
        ("doc_no", content.doc_no or ""),
        ("basis", content.basis or ""),
        ("attribute_basis", content.attribute_basis or ""),
        ("audience", content.audience),
        ("supervision", content.supervision or ""),
    ]


def check_item(
    fields: Sequence[tuple[str, str]],
    attachments: Sequence[tuple[str, Sequence[TextBlockLike] | str]],
    policy: GuardPolicy,
    *,
    area: str | None = None,
) -> GuardReport:
    """The guard over a whole item: `fields` are (part, text) pairs (`title`,
    `body`…); `attachments` are (name, blocks) pairs in the item's order, or (name,
    reason) for one that could not be read."""
    findings: list[GuardFinding] = []
    unchecked: list[UncheckedPart] = []
    for part, text in fields:
        if text:
            findings.extend(check_text(part, text, policy, area=area))
    for index, (name, blocks) in enumerate(attachments):
        part = f"attachments[{index}]"
        if isinstance(blocks, str):
            unchecked.append(
                UncheckedPart(part, name, blocks, blocks=policy.unreadable_blocks)
            )
        else:
            findings.extend(check_blocks(part, blocks, policy, area=area))
    return GuardReport(tuple(findings), tuple(unchecked))
