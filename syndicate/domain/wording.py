"""错敏词: wrong or sensitive wording in disclosure text (pure, no I/O).

China's inspection rules for government websites (国办秘函〔2019〕19号 and the 国务院办公厅
政府网站与政务新媒体检查指标) count a 严重错别字 (a state leader's name written wrongly) or
a 严重表述错误 as a single-item veto (单项否决), so government CMSs check 错敏词 before
release. This module is that check: `WordMatcher.find(text)` reports every occurrence of
every term of some word lists, with its place; `replace_words` applies the suggested
wording (for `--fix`).

Word lists:

- the **built-in list** (`builtin_word_list()`, named "内置"): a small list of documented
  official-usage rules from public sources (`wording_builtin.toml`, package data; each rule
  names its source, the file's `[meta]` table names where it was read);
- **operator lists** (`parse_word_list(text, name=...)`): what the operator adds (leaders'
  names and titles written wrongly, local place names), one rule a line:

  ```
  # term <TAB or |> replacement <TAB or |> severity <TAB or |> note
  词语|建议|级别|说明
  台湾政府|台湾当局|严重|不使用“台湾政府”一词
  某某县人民政布|某某县人民政府
  隆重召开||提示
  ```

  Fields are separated by a TAB or by `|` (one or the other on a line); only the term is
  required; the severity is 严重 (`serious`, the default) or 提示 (`caution`). Blank lines
  and lines starting with `#` are skipped, and so is a first line whose first field is
  `词语` or `term` (a header). A bad line is an `InputError` naming the list and the line.

Matching is exact: terms and text are compared as NFC code points, full-width and
half-width forms are *not* folded (official text is what it is), and there is no
word-boundary logic (Chinese has no spaces). A rule is made context-sensitive by writing
the longer wrong phrase as its term (`台湾原住民`, not `原住民`). Where terms overlap, the
match that starts first wins and, at the same start, the longest; a later match that
overlaps it is not reported. A term in more than one list is reported with the first
list (in the order given to `WordMatcher`) that has it.

Terms are matched in the NFC form of the text. The content model normalises every field
to NFC already, so offsets are simply offsets into the text; other text (an attachment's
extracted text, which can hold CJK compatibility ideographs or decomposed accents) is
normalised piece by piece and findings are mapped back to the text as given.

Speed: a regular expression of character classes finds, in C, the positions where a term
can start (its first character followed by a possible second and third); only there does
Python look up the terms that start with those two characters, longest first. A 2 MB body
against 2,000 terms takes about 0.1 s; a contrived worst case (terms made of the most
common characters, a finding every 13 characters) about 0.8 s. One alternation of the
2,000 escaped terms took 4 to 6 s on the same texts.
"""

from __future__ import annotations

import bisect
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from syndicate.domain.pii import mask
from syndicate.errors import InputError, Problem

__all__ = [
    "BUILTIN_LIST_NAME",
    "MAX_TERM_LENGTH",
    "Severity",
    "WordFinding",
    "WordList",
    "WordMatcher",
    "WordRule",
    "builtin_word_list",
    "parse_word_list",
    "replace_words",
]

BUILTIN_LIST_NAME = "内置"
MAX_TERM_LENGTH = 50
# At most this many problems are listed for one operator list; the rest are counted.
_MAX_PROBLEMS = 20
_HEADER_TERMS = frozenset({"词语", "term"})


class Severity(StrEnum):
    """How much a finding matters."""

    SERIOUS = "serious"  # 严重: blocks publishing unless overridden
    CAUTION = "caution"  # 提示: reported, does not block

    @property
    def label(self) -> str:
        """The severity in Chinese, as reports show it."""
        return "严重" if self is Severity.SERIOUS else "提示"


_SEVERITY_WORDS = {
    "严重": Severity.SERIOUS,
    "serious": Severity.SERIOUS,
    "提示": Severity.CAUTION,
    "caution": Severity.CAUTION,
}


def _bad_character(value: str) -> str | None:
    """The first character of `value` that has no place in one line of text (a control,
    format or line/paragraph separator character), as U+XXXX; None if there is none."""
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def _term_problem(term: str) -> str | None:
    if not term:
        return "the term is empty"
    if len(term) > MAX_TERM_LENGTH:
        return f"the term is longer than {MAX_TERM_LENGTH} characters ({len(term)})"
    bad = _bad_character(term)
    if bad is not None:
        return f"the term contains a line break or control character ({bad})"
    return None


@dataclass(frozen=True)
class WordRule:
    """One term that must not appear, and what to write instead.

    `term` is exact text (NFC-normalised here; non-empty, at most 50 characters, one
    line); `replacement` is the suggested wording, "" when the term should simply be
    removed or the sentence rephrased; `source` says where the rule comes from (a
    document's title and year, or the operator's list file name); `note` is a short
    explanation in Chinese. An invalid term raises `ValueError` (operator lists are
    checked line by line by `parse_word_list` first).
    """

    term: str
    replacement: str
    severity: Severity
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        term = unicodedata.normalize("NFC", self.term)
        replacement = unicodedata.normalize("NFC", self.replacement)
        object.__setattr__(self, "term", term)
        object.__setattr__(self, "replacement", replacement)
        object.__setattr__(self, "severity", Severity(self.severity))
        problem = _term_problem(term)
        if problem is not None:
            raise ValueError(f"{problem}: {term!r}")
        bad = _bad_character(replacement)
        if bad is not None:
            raise ValueError(f"the replacement for {term!r} contains {bad}")


@dataclass(frozen=True)
class WordList:
    """A named list of rules: "内置" for the built-in list, else the file name the
    operator gave."""

    name: str
    rules: tuple[WordRule, ...]


@dataclass(frozen=True, slots=True)
class WordFinding:
    """One occurrence of a term: which rule and list, and where.

    `start` and `end` index the text as given; `line` and `column` count from 1
    (`column` in characters; lines end at "\\n").
    """

    rule: WordRule
    list_name: str
    start: int
    end: int
    line: int
    column: int

    @property
    def place(self) -> str:
        """Where it is, as an operator reads it (`第3行 第12列`)."""
        return f"第{self.line}行 第{self.column}列"


# -- the built-in list ---------------------------------------------------------------


@cache
def builtin_word_list() -> WordList:
    """The built-in list (`wording_builtin.toml`), read once."""
    # Package data, like pilot_areas.toml; not I/O in the sense the domain rule forbids.
    text = (
        resources.files(__package__).joinpath("wording_builtin.toml").read_text("utf-8")
    )
    rules = tuple(
        WordRule(
            term=row["term"],
            replacement=row["replacement"],
            severity=_SEVERITY_WORDS[row["severity"]],
            source=row["source"],
            note=row.get("note", ""),
        )
        for row in tomllib.loads(text)["rule"]
    )
    return WordList(BUILTIN_LIST_NAME, rules)


# -- operator lists ------------------------------------------------------------------


def parse_word_list(text: str, *, name: str) -> WordList:
    """An operator's word list (the format is in the module docstring).

    Raises `InputError` with one problem per bad line, each naming the list (`field` is
    `name`) and the line: `line 4: severity must be 严重 or 提示, not '高'`.
    """
    problems: list[tuple[int, str]] = []
    rules: list[WordRule] = []
    first_line: dict[str, int] = {}
    seen_content = False
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        is_first = not seen_content
        seen_content = True
        fields, problem = _split_fields(line)
        if problem is not None:
            problems.append((number, problem))
            continue
        if is_first and fields[0].lower() in _HEADER_TERMS:
            continue
        rule, problem = _rule_from_fields(fields, name)
        if problem is not None or rule is None:
            problems.append((number, f"{problem}"))
            continue
        if rule.term in first_line:
            problems.append(
                (
                    number,
                    f"the term {_shown(rule.term)} is already on line "
                    f"{first_line[rule.term]}",
                )
            )
            continue
        first_line[rule.term] = number
        rules.append(rule)
    problems.extend(_self_triggering(rules, first_line))
    if problems:
        problems.sort(key=lambda problem: problem[0])
        shown = [f"line {number}: {message}" for number, message in problems]
        if len(shown) > _MAX_PROBLEMS:
            shown[_MAX_PROBLEMS:] = [f"and {len(shown) - _MAX_PROBLEMS} more problems"]
        raise InputError([Problem(name, message) for message in shown])
    return WordList(name, tuple(rules))


def _split_fields(line: str) -> tuple[list[str], str | None]:
    tab, bar = "\t" in line, "|" in line
    if tab and bar:
        return [], "separate fields with a TAB or with |, not both on one line"
    if tab or bar:
        fields = [field.strip() for field in line.split("\t" if tab else "|")]
    else:
        fields = [line.strip()]
        if "," in line:
            return [], "separate fields with a TAB or | (not a comma)"
    while len(fields) > 1 and not fields[-1]:
        fields.pop()  # "term|replacement||" as spreadsheets export it
    if len(fields) > 4:
        return [], (
            f"{len(fields)} fields; a line has at most 4 "
            "(term, replacement, severity, note)"
        )
    return fields, None


def _rule_from_fields(
    fields: list[str], name: str
) -> tuple[WordRule | None, str | None]:
    term = unicodedata.normalize("NFC", fields[0])
    problem = _term_problem(term)
    if problem is not None:
        return None, problem
    replacement = fields[1] if len(fields) > 1 else ""
    severity_text = fields[2] if len(fields) > 2 else ""
    note = fields[3] if len(fields) > 3 else ""
    for label, value in (("replacement", replacement), ("note", note)):
        bad = _bad_character(value)
        if bad is not None:
            return None, f"the {label} contains a control character ({bad})"
    severity = (
        _SEVERITY_WORDS.get(severity_text.lower())
        if severity_text
        else Severity.SERIOUS
    )
    if severity is None:
        return None, f"severity must be 严重 or 提示, not {_shown(severity_text)}"
    if unicodedata.normalize("NFC", replacement) == term:
        return None, "the replacement is the term itself"
    return WordRule(term, replacement, severity, source=name, note=note), None


def _shown(value: str) -> str:
    """A value quoted for a message, with any personal information in it masked."""
    return repr(mask(value))


def _self_triggering(
    rules: list[WordRule], lines: dict[str, int]
) -> Iterable[tuple[int, str]]:
    """A replacement that contains a term of the same list would be flagged again after
    `--fix` (and a term inside its own replacement would grow on every run)."""
    if not any(rule.replacement for rule in rules):
        return []
    matcher = WordMatcher([WordList("", tuple(rules))])
    problems: list[tuple[int, str]] = []
    for rule in rules:
        if rule.replacement:
            hits = matcher.find(rule.replacement)
            if hits:
                other = hits[0].rule.term
                problems.append(
                    (
                        lines[rule.term],
                        f"the replacement {_shown(rule.replacement)} contains the term "
                        f"{_shown(other)} (line {lines[other]}), so the fixed text "
                        "would be flagged again",
                    )
                )
    return problems


# -- matching ------------------------------------------------------------------------


def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(re.escape(char) for char in sorted(set(chars))) + "]"


class WordMatcher:
    """Finds the terms of some word lists in a text; build once, use for many texts."""

    def __init__(self, lists: Sequence[WordList]) -> None:
        self._rules: dict[str, tuple[WordRule, str]] = {}
        for word_list in lists:
            for rule in word_list.rules:
                self._rules.setdefault(rule.term, (rule, word_list.name))
        terms = list(self._rules)
        self._single = frozenset(term for term in terms if len(term) == 1)
        # Terms of two or more characters by their first two, longest first.
        by_prefix: dict[str, list[str]] = {}
        for term in terms:
            if len(term) > 1:
                by_prefix.setdefault(term[:2], []).append(term)
        self._by_prefix = {
            prefix: tuple(sorted(group, key=len, reverse=True))
            for prefix, group in by_prefix.items()
        }
        # Where a term can start: its first character, followed by a possible second
        # (and third) one. One character is consumed, so every position is tried.
        two = [term for term in terms if len(term) == 2]
        longer = [term for term in terms if len(term) > 2]
        branches = []
        if longer:
            branches.append(
                _char_class(t[0] for t in longer)
                + f"(?={_char_class(t[1] for t in longer)}"
                + f"{_char_class(t[2] for t in longer)})"
            )
        if two:
            branches.append(
                _char_class(t[0] for t in two) + f"(?={_char_class(t[1] for t in two)})"
            )
        if self._single:
            branches.append(_char_class(self._single))
        self._starts = re.compile("|".join(branches)) if branches else None

    def find(self, text: str) -> list[WordFinding]:
        """Every occurrence of every term in `text`, in order of start.

        Terms are matched in the NFC form of `text`; offsets, lines and columns are in
        `text` as given. (Text that is not NFC, such as an attachment's extracted text,
        is normalised piece by piece; a finding in a piece that normalisation changed
        covers that whole piece of the original.)
        """
        if self._starts is None:
            return []
        offsets: _NfcOffsets | None = None
        matched = text
        if not unicodedata.is_normalized("NFC", text):
            offsets = _NfcOffsets(text)
            matched = offsets.normalised
        found: list[WordFinding] = []
        lines = _Lines(text)
        by_prefix, single, rules = self._by_prefix, self._single, self._rules
        resume = 0
        for candidate in self._starts.finditer(matched):
            start = candidate.start()
            if start < resume:
                continue
            term = None
            for option in by_prefix.get(matched[start : start + 2], ()):
                if matched.startswith(option, start):
                    term = option
                    break
            if term is None:
                if matched[start] not in single:
                    continue
                term = matched[start]
            rule, list_name = rules[term]
            resume = start + len(term)
            first, end = start, resume
            if offsets is not None:
                first, end = offsets.start(start), offsets.end(resume)
            line, column = lines.place(first)
            found.append(WordFinding(rule, list_name, first, end, line, column))
        return found


# Characters before which NFC can always split a text: no canonical decomposition, a
# combining class of 0, and never the second half of a composition (ASCII; CJK symbols
# and punctuation but the tone marks U+302A..U+302F; the unified ideographs; full-width
# and half-width forms).
_STABLE = "\x00-\x7f\u3000-\u3029\u3030-\u303f\u4e00-\u9fff\uff00-\uffef"
_UNSTABLE_RUN = re.compile(f"[^{_STABLE}]+")


class _NfcOffsets:
    """The NFC form of a text, and the way back from its offsets to the text's."""

    def __init__(self, text: str) -> None:
        pieces: list[str] = []
        # Pieces whose length NFC changed: (start and end in the normalised text, start
        # and end in the text).
        self._changed: list[tuple[int, int, int, int]] = []
        copied = 0
        shift = 0  # len(normalised so far) - len(text so far)
        for run in _UNSTABLE_RUN.finditer(text):
            begin = max(run.start() - 1, copied)
            piece = text[begin : run.end()]
            normal = unicodedata.normalize("NFC", piece)
            if normal == piece:
                continue
            # The character before a run may combine with it (e + U+0301); when it does
            # not, leave it out of the piece so that findings do not take it in.
            if begin < run.start() and normal[0] == piece[0]:
                rest = unicodedata.normalize("NFC", piece[1:])
                if rest == normal[1:]:
                    begin, piece, normal = begin + 1, piece[1:], rest
            pieces.append(text[copied:begin])
            pieces.append(normal)
            if len(normal) != len(piece) or any(
                unicodedata.normalize("NFC", a) != b
                for a, b in zip(piece, normal, strict=True)
            ):
                # Not character for character (U+F900 for U+8C48 is): a finding in
                # the piece covers all of it.
                self._changed.append(
                    (begin + shift, begin + shift + len(normal), begin, run.end())
                )
                shift += len(normal) - len(piece)
            copied = run.end()
        pieces.append(text[copied:])
        self.normalised = "".join(pieces)
        self._starts = [changed[0] for changed in self._changed]

    def start(self, offset: int) -> int:
        """Where a finding that starts at `offset` in the normalised text starts."""
        index = bisect.bisect_right(self._starts, offset) - 1
        if index < 0:
            return offset
        _, n_end, start, end = self._changed[index]
        return start if offset < n_end else offset - n_end + end

    def end(self, offset: int) -> int:
        """Where a finding that ends at `offset` in the normalised text ends."""
        index = bisect.bisect_left(self._starts, offset) - 1
        if index < 0:
            return offset
        _, n_end, _, end = self._changed[index]
        return end if offset <= n_end else offset - n_end + end


class _Lines:
    """Turns offsets into (line, column), counting from 1; built on first use."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def place(self, offset: int) -> tuple[int, int]:
        if self._starts is None:
            self._starts = [0, *(m.end() for m in re.finditer("\n", self._text))]
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def replace_words(text: str, findings: Sequence[WordFinding]) -> str:
    """`text` with each finding's term replaced by its rule's replacement; findings
    whose rule has no replacement ("") are left as written. `findings` are what
    `WordMatcher.find(text)` returned (ValueError if they overlap or do not fit)."""
    parts: list[str] = []
    copied = 0
    previous_end = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < previous_end:
            raise ValueError("findings overlap")
        written = text[finding.start : finding.end]
        if unicodedata.normalize("NFC", written) != finding.rule.term:
            raise ValueError(
                f"the text at {finding.place} is not {finding.rule.term!r}"
            )
        previous_end = finding.end
        if finding.rule.replacement:
            parts.append(text[copied : finding.start])
            parts.append(finding.rule.replacement)
            copied = finding.end
    parts.append(text[copied:])
    return "".join(parts)
