"""Personal information in disclosure text: 身份证号, mobile numbers and bank card numbers.

A pure module (no I/O): `find_pii(text)` returns every finding with its place in the text
as given and the masked form proposed; `mask(text)` returns the text with every finding
masked. It is the detector issue 16's guard runs on publish, revise and submit; this module
is its first part (see docs/personal-data.md for what is detected and what is not).

What it recognises, as people write it in 公示 lists:

- **身份证号** (GB 11643-1999): 18 characters, the last a check digit (0 to 9 or X) computed with
  ISO 7064 MOD 11-2 over the first 17; a plausible region (the first two digits name a
  province-level division) and a real birth date (1900 to 2099). Also the old 15-digit form
  (region, YYMMDD in the 1900s, 3 digits), which has no check digit. Full-width digits
  (U+FF10 to U+FF19, and X) and spaces or hyphens between groups of digits are read as digits.
- **Mobile numbers**: 11 digits starting 13 to 19, optionally written with `+86`/`86`/`0086` in
  front and spaces or hyphens between the groups (138 1234 5678, 138-1234-5678).
- **Bank card numbers**: 16 to 19 digits passing the Luhn check and starting as the card
  schemes used in China do (UnionPay 62, Visa 4, Mastercard 51 to 55 and 2221 to 2720, JCB 35;
  Visa and Mastercard with 16 digits). An 18-digit number shaped like a 身份证号
  (province, birth date) is never taken for a card.
  The prefix rule keeps random 16 to 19 digit numbers (order numbers, invoice numbers), one in
  ten of which passes Luhn by chance, from being reported.

A digit run longer than any of these (a 20-digit invoice number) is not searched inside, and
a run that is part of a longer code with letters (统一社会信用代码, 18 characters with letters)
is not a number: matches must stand alone, not touching other digits or ASCII letters.

Masking (the default; the guard makes it configurable per area): an ID keeps its first 6 and
last 4 characters (410102********123X), a mobile number its first 3 and last 4
(138****5678), a bank card its first 6 and last 4; separators as written are kept.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

__all__ = [
    "Finding",
    "PiiKind",
    "find_pii",
    "id_check_digit",
    "luhn_valid",
    "mask",
]


class PiiKind(StrEnum):
    """What kind of personal information a finding is."""

    ID_CARD = "id_card"  # 身份证号
    MOBILE = "mobile"  # 手机号码
    BANK_CARD = "bank_card"  # 银行卡号

    @property
    def label(self) -> str:
        """The kind in Chinese, as reports show it."""
        return {"id_card": "身份证号", "mobile": "手机号码", "bank_card": "银行卡号"}[
            self.value
        ]


@dataclass(frozen=True)
class Finding:
    """One piece of personal information: where it is in the text, and its masked form.

    `start` and `end` index the text as given (full-width digits and separators
    included); `line` and `column` count from 1 (`column` in characters).
    """

    kind: PiiKind
    start: int
    end: int
    text: str
    masked: str
    line: int
    column: int

    @property
    def place(self) -> str:
        """Where it is, as an operator reads it (`第3行 第12列`)."""
        return f"第{self.line}行 第{self.column}列"


# Province-level division codes (GB/T 2260): the first two digits of a 身份证号.
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

# Full-width digits and X (U+FF10..U+FF19, U+FF38, U+FF58) read as their ASCII forms.
_FULL_WIDTH = (
    {0xFF10 + n: ord("0") + n for n in range(10)}
    | {0xFF38: ord("X")}
    | {0xFF58: ord("x")}
)
# A run of digits, possibly with single spaces or hyphens between groups, and an X at the
# end (an ID's check digit). Separators count only between digits.
_WIDE = re.compile("[\uff10-\uff19\uff38\uff58]")
# Only runs of 11 digits or more: every kind has at least 11, and the short runs of
# ordinary text (dates, counts, amounts) are skipped by the regex engine, not in Python.
# A run starts only at the first digit of a digit run (`(?<!\d\d)` after the first
# digit: the digit before it is not one), so a short run is tried once, not once per
# digit; the leading `\d` keeps the regex engine's fast scan for a first character.
_RUN = re.compile(r"\d(?<!\d\d)(?:[ \u00a0\-]?\d){10,}(?:[ \u00a0\-]?[Xx])?")
_PREFIX = re.compile(r"(?:\+\s?86|0086|86)[ \u00a0\-]?$")


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a 身份证号."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (ISO/IEC 7812)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return 1900 <= year <= 2099


def _is_id18(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False
    if int(value[:2]) not in _PROVINCES:
        return False
    if not _real_date(int(value[6:10]), int(value[10:12]), int(value[12:14])):
        return False
    return id_check_digit(value[:17]) == value[17].upper()


def _is_id15(value: str) -> bool:
    if len(value) != 15 or not value.isdigit():
        return False
    if int(value[:2]) not in _PROVINCES:
        return False
    return _real_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))


def _is_mobile(value: str) -> bool:
    return len(value) == 11 and value[0] == "1" and value[1] in "3456789"


def _id_shaped(value: str) -> bool:
    """18 digits with a province and a birth date where an ID has them (an ID with a
    mistyped check digit): never taken for a card number."""
    return (
        len(value) == 18
        and int(value[:2]) in _PROVINCES
        and _real_date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    )


def _is_card(value: str) -> bool:
    if not 16 <= len(value) <= 19 or not value.isdigit() or _id_shaped(value):
        return False
    sixteen = len(value) == 16
    scheme = (
        value.startswith("62")  # UnionPay: 16 to 19 digits
        or value.startswith("35")  # JCB: 16 to 19
        or (sixteen and value.startswith("4"))  # Visa
        or (sixteen and (51 <= int(value[:2]) <= 55 or 2221 <= int(value[:4]) <= 2720))
    )
    return scheme and luhn_valid(value)


def _classify(digits: str) -> PiiKind | None:
    if _is_id18(digits) or _is_id15(digits):
        return PiiKind.ID_CARD
    if _is_mobile(digits):
        return PiiKind.MOBILE
    if _is_card(digits):
        return PiiKind.BANK_CARD
    return None


_KEEP = {PiiKind.ID_CARD: (6, 4), PiiKind.MOBILE: (3, 4), PiiKind.BANK_CARD: (6, 4)}


def _masked(written: str, kind: PiiKind) -> str:
    """`written` with its characters between the kept head and tail replaced by `*`;
    separators stay as written."""
    head, tail = _KEEP[kind]
    positions = [i for i, ch in enumerate(written) if ch not in " \u00a0-"]
    hidden = set(positions[head : len(positions) - tail])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(written))


def _clear_before(text: str, start: int) -> bool:
    """No digit or ASCII letter right before `start`."""
    before = text[start - 1] if start > 0 else ""
    return not (before.isdigit() or (before.isascii() and before.isalpha()))


def _standalone(text: str, start: int, end: int) -> bool:
    """Not touching another digit or an ASCII letter (a longer code) on either side."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return not any(
        ch and (ch.isdigit() or (ch.isascii() and ch.isalpha()))
        for ch in (before, after)
    )


def _groups(folded: str, start: int, end: int) -> list[tuple[int, int]]:
    """The spans of the digit groups of a run (split at its separators)."""
    return [
        (start + m.start(), start + m.end())
        for m in re.finditer(r"[0-9Xx]+", folded[start:end])
    ]


def find_pii(text: str) -> list[Finding]:
    """Every 身份证号, mobile number and bank card number in `text`, in order.

    A run of digit groups written with single spaces or hyphens between them may hold
    several numbers (a table row: an ID, then a phone): from each group, the longest
    sequence of whole groups that is a number is taken, then the search goes on after it.
    """
    folded = text.translate(_FULL_WIDTH) if _WIDE.search(text) else text
    found: list[Finding] = []
    lines = _Lines(text)
    for match in _RUN.finditer(folded):
        run_start, run_end = match.span()
        if not _standalone(folded, run_start, run_end):
            continue
        groups = _groups(folded, run_start, run_end)
        i = 0
        while i < len(groups):
            for j in range(len(groups) - 1, i - 1, -1):
                start, end = groups[i][0], groups[j][1]
                digits = "".join(folded[a:b] for a, b in groups[i : j + 1])
                kind = _classify(digits)
                if kind is not None:
                    found.append(_finding(text, folded, start, end, kind, lines))
                    i = j + 1
                    break
            else:
                i += 1
    return found


class _Lines:
    """Line starts of a text, to turn offsets into (line, column) in O(log n); found
    on the first finding only (most texts have none)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] | None = None

    def place(self, offset: int) -> tuple[int, int]:
        if self.starts is None:
            self.starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def _finding(
    text: str, folded: str, start: int, end: int, kind: PiiKind, lines: _Lines
) -> Finding:
    masked = _masked(text[start:end], kind)
    if kind is PiiKind.MOBILE:
        # "+86 138…": the country code belongs to the finding, and stays readable.
        prefix = _PREFIX.search(folded, max(0, start - 6), start)
        if prefix is not None and _clear_before(folded, prefix.start()):
            masked = text[prefix.start() : start] + masked
            start = prefix.start()
    line, column = lines.place(start)
    return Finding(kind, start, end, text[start:end], masked, line, column)


def mask(text: str, findings: list[Finding] | None = None) -> str:
    """`text` with every finding (by default: every one `find_pii` makes) masked."""
    findings = find_pii(text) if findings is None else findings
    out: list[str] = []
    at = 0
    for f in sorted(findings, key=lambda f: f.start):
        out.append(text[at : f.start])
        out.append(f.masked)
        at = f.end
    out.append(text[at:])
    return "".join(out)
