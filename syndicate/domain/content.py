"""The content of one version of a disclosure item: the standard-catalogue elements.

`ItemContent` is validated at the boundary (item files, the library API) and stored inside
`Published` and `Revised` events. Validators normalise what people write (Chinese names,
stray whitespace, decomposed Unicode) to one canonical form, so the content hash of the
same content is the same wherever it was typed.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Self
from uuid import UUID, uuid5

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from syndicate.domain.catalogue import (
    Attribute,
    ChannelCategory,
    Stage,
    parse_area,
    parse_attribute,
    parse_channel,
    parse_stage,
)
from syndicate.errors import Problem

__all__ = [
    "ITEM_NAMESPACE",
    "Attachment",
    "ItemContent",
    "NoticePeriod",
    "canonical_json",
    "content_hash",
    "content_rules",
    "item_id",
    "parse_item_ref",
    "problems_from_validation_error",
]

# Namespace of item ids. Never change it: ids derived from it are in every stored event.
ITEM_NAMESPACE = UUID("5b0f3a4e-7d0c-5e51-9a8f-2c6a1d9e0b11")

# C0 and C1 controls; in one-line fields also tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Invisible or layout-changing characters in one-line fields would let two items look the
# same (a zero-width space after an index number) or reorder what a reader sees (U+202E).
_INVISIBLE = {"Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def item_id(agency: str, index_no: str) -> UUID:
    """The item's id: uuid5 of (agency, index_no), so an item can be published only once."""
    agency = _nfc(agency).strip()
    index_no = unicodedata.normalize("NFKC", index_no).strip()
    # A newline can appear in neither part, so the name is unambiguous.
    return uuid5(ITEM_NAMESPACE, f"{agency}\n{index_no}")


def parse_item_ref(ref: str) -> UUID | tuple[str, str]:
    """Split a REF into an item id or an (agency, index_no) pair.

    A REF is an item id (a UUID) or `AGENCY/INDEX_NO`. Index numbers often contain a slash
    themselves (`000014349/2026-00123`); agencies never may, so the first slash splits.
    """
    _check_encodable(ref)
    text = _nfc(ref).strip()
    try:
        return UUID(text)
    except ValueError:
        pass
    agency, sep, index_no = text.partition("/")
    if not sep or not agency.strip() or not index_no.strip():
        raise ValueError(
            f"{ref!r} is neither an item id nor AGENCY/INDEX_NO "
            "(for example 某县人民政府办公室/000014349/2026-00012)"
        )
    return agency.strip(), index_no.strip()


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _check_encodable(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "contains bytes that are not valid UTF-8 text; re-save it as UTF-8"
        ) from None


def _line(value: Any) -> Any:
    """A one-line text field: NFC, trimmed, no control or invisible characters."""
    if not isinstance(value, str):
        return value
    _check_encodable(value)
    value = _nfc(value).strip()
    if _LINE_CONTROL.search(value):
        raise ValueError("must be a single line without control characters")
    hidden = [ch for ch in value if unicodedata.category(ch) in _INVISIBLE]
    if hidden:
        names = ", ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(hidden))
        raise ValueError(
            f"contains invisible or layout characters ({names}); remove them"
        )
    return value


def _multiline(value: Any) -> Any:
    """A text block: NFC, LF line ends, trailing blanks removed, no control characters."""
    if not isinstance(value, str):
        return value
    _check_encodable(value)
    value = _nfc(value).replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\u2028", "\n").replace("\u2029", "\n\n")
    value = "\n".join(line.rstrip() for line in value.split("\n")).strip("\n")
    if _CONTROL.search(value):
        raise ValueError("contains control characters; remove them")
    return value


def _index_no(value: Any) -> Any:
    """Index numbers: full-width digits and letters folded (NFKC), as people type them."""
    value = _line(value)
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def _plain_date(value: Any) -> Any:
    """Accept a date or an ISO `YYYY-MM-DD` string; refuse numbers and date-times."""
    if isinstance(value, datetime):
        raise ValueError(
            f"expected a date like 2026-03-01, not a date and time ({value})"
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"invalid date {value!r}; expected YYYY-MM-DD, e.g. 2026-03-01"
            ) from None
    raise ValueError(f"expected a date like 2026-03-01, got {type(value).__name__}")


def _str_or(parser: Any) -> Any:
    def parse(value: Any) -> Any:
        return parser(value) if isinstance(value, str) else value

    return parse


Line = Annotated[str, BeforeValidator(_line)]
PlainDate = Annotated[date, BeforeValidator(_plain_date)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Attachment(_Model):
    """An attachment (附件) as the log records it; the bytes live content-addressed."""

    name: Annotated[Line, Field(min_length=1, max_length=255)]
    media_type: Annotated[Line, Field(pattern=r"^[\w.+-]+/[\w.+-]+$")]
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in {".", ".."}:
            raise ValueError("must be a plain file name without directories")
        return value


class NoticePeriod(_Model):
    """公示期: the public-notice window, inclusive dates."""

    start: PlainDate
    end: PlainDate

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


def _interprets(value: Any) -> Any:
    if isinstance(value, str):
        ref = parse_item_ref(value)
        return ref if isinstance(ref, UUID) else item_id(*ref)
    return value


def _channels(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        if not all(isinstance(v, str | ChannelCategory) for v in value):
            raise ValueError(
                'must be a list of channel names, e.g. ["portal", "group"]'
            )
        parsed = [parse_channel(v) if isinstance(v, str) else v for v in value]
        if not parsed:
            raise ValueError("must name at least one channel (or leave it out for all)")
        # One canonical order, so the content hash does not depend on how it was typed.
        order = list(ChannelCategory)
        return tuple(sorted(set(parsed), key=order.index))
    return value


def content_rules(
    *,
    attribute: Attribute | None,
    attribute_basis: str | None,
    interprets: UUID | None,
    own_id: UUID | None,
    attachment_names: list[str],
) -> list[Problem]:
    """The rules that span fields, every one broken (not just the first).

    `ItemContent` applies them once its fields are valid; item files also apply them
    to fields that are, so a file with a bad field and a broken rule hears of both.
    """
    problems = []
    if attribute is Attribute.NOT_DISCLOSED and not attribute_basis:
        problems.append(
            Problem(
                "attribute_basis",
                "required when attribute is not_disclosed (不予公开); "
                "give the legal basis for not disclosing",
            )
        )
    if interprets is not None and interprets == own_id:
        problems.append(Problem("interprets", "an item cannot interpret itself"))
    if len(attachment_names) != len(set(attachment_names)):
        problems.append(Problem("attachments", "two attachments have the same name"))
    return problems


class ItemContent(_Model):
    """One version of a disclosure item, with the standard-catalogue elements."""

    agency: Annotated[Line, Field(min_length=1, max_length=100)]
    index_no: Annotated[
        str, BeforeValidator(_index_no), Field(min_length=1, max_length=64)
    ]
    doc_no: Annotated[Line, Field(min_length=1, max_length=100)] | None = None
    title: Annotated[Line, Field(min_length=1, max_length=200)]
    body: Annotated[
        str, BeforeValidator(_multiline), Field(min_length=1, max_length=1_000_000)
    ]
    area: Annotated[str, BeforeValidator(_str_or(parse_area))]
    stage: Annotated[Stage, BeforeValidator(_str_or(parse_stage))]
    category: Annotated[Line, Field(min_length=1, max_length=100)] | None = None
    basis: Annotated[Line, Field(min_length=1, max_length=500)]
    audience: Annotated[Line, Field(min_length=1, max_length=100)] = "全社会"
    attribute: Annotated[Attribute, BeforeValidator(_str_or(parse_attribute))] = (
        Attribute.PROACTIVE
    )
    attribute_basis: Annotated[Line, Field(min_length=1, max_length=500)] | None = None
    formed_on: PlainDate
    notice_period: NoticePeriod | None = None
    interprets: Annotated[UUID, BeforeValidator(_interprets)] | None = None
    channels: Annotated[
        tuple[ChannelCategory, ...], BeforeValidator(_channels), AfterValidator(tuple)
    ] = tuple(ChannelCategory)
    attachments: tuple[Attachment, ...] = ()

    @field_validator("agency")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("must not contain '/' (REFs are written AGENCY/INDEX_NO)")
        return value

    @field_validator("index_no")
    @classmethod
    def _no_space(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("must not contain spaces")
        return value

    @model_validator(mode="after")
    def _rules(self) -> Self:
        problems = content_rules(
            attribute=self.attribute,
            attribute_basis=self.attribute_basis,
            interprets=self.interprets,
            own_id=self.id,
            attachment_names=[a.name for a in self.attachments],
        )
        if problems:
            # One line per rule; `problems_from_validation_error` splits them again.
            raise ValueError("\n".join(str(p) for p in problems))
        return self

    @property
    def id(self) -> UUID:
        """The item id this content belongs to."""
        return item_id(self.agency, self.index_no)

    @property
    def ref(self) -> str:
        """`AGENCY/INDEX_NO`, the human form of the id."""
        return f"{self.agency}/{self.index_no}"

    @property
    def is_public(self) -> bool:
        """Whether this version may ever appear on a public outlet."""
        return self.attribute.is_public


def canonical_json(data: Any) -> bytes:
    """Sorted keys, compact separators, UTF-8: the bytes a content hash is taken over."""
    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def content_hash(content: ItemContent) -> str:
    """sha256 (hex) of the canonical JSON of a content version."""
    return hashlib.sha256(canonical_json(content.model_dump(mode="json"))).hexdigest()


def problems_from_validation_error(exc: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into one `Problem` per field, worded for operators."""
    problems = []
    for err in exc.errors(include_url=False):
        path = ""
        for part in err["loc"]:
            path += (
                f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
            )
        kind = err["type"]
        message = err["msg"]
        if kind == "missing":
            message = "required field is missing"
        elif kind == "extra_forbidden":
            message = (
                "unknown field (check the spelling; docs/items.md lists the fields)"
            )
        elif kind in ("string_too_short", "too_short"):
            message = "must not be empty"
        elif kind in ("string_too_long", "too_long"):
            limit = (err.get("ctx") or {}).get("max_length")
            message = f"is longer than {limit} characters" if limit else "is too long"
        elif message.startswith(("Value error, ", "Assertion failed, ")):
            message = message.split(", ", 1)[1]
        if path:
            problems.append(Problem(path, message))
            continue
        # Model-level rules: one per line, each naming its own field first.
        for line in message.split("\n"):
            field = ""
            if ": " in line and line.split(": ", 1)[0].isidentifier():
                field, line = line.split(": ", 1)
            problems.append(Problem(field, line))
    return problems
