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
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID, uuid5

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from syndicate.domain.catalogue import (
    DEFAULT_CHANNELS,
    Attribute,
    ChannelCategory,
    DocType,
    PageKind,
    Stage,
    Validity,
    parse_area,
    parse_attribute,
    parse_channels,
    parse_doc_type,
    parse_page_kind,
    parse_stage,
    parse_validity,
)
from syndicate.errors import InputError, Problem

__all__ = [
    "ART_26_DAYS",
    "EARLIEST_DATE",
    "ITEM_NAMESPACE",
    "MAX_NOTICE_DAYS",
    "MAX_NOTICE_LEAD_DAYS",
    "MAX_REF_LENGTH",
    "Admission",
    "Attachment",
    "ItemContent",
    "NoticePeriod",
    "admission_problems",
    "canonical_json",
    "catalogue_rules",
    "content_hash",
    "content_rules",
    "item_id",
    "missing_basis",
    "parse_item_ref",
    "problems_from_validation_error",
    "time_rules",
    "valid_content",
]

# Namespace of item ids. Never change it: ids derived from it are in every stored event.
ITEM_NAMESPACE = UUID("5b0f3a4e-7d0c-5e51-9a8f-2c6a1d9e0b11")

# C0 and C1 controls; in one-line fields also tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Invisible or layout-changing characters in one-line fields would let two items look the
# same (a zero-width space after an index number) or reorder what a reader sees (U+202E).
_INVISIBLE = {"Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


# Plausibility bounds, checked when content is admitted (an item file, `publish`, `revise`),
# never when stored events are read back: a rule added later must not make the log
# unreadable. No information of a PRC government body was formed before the PRC existed.
EARLIEST_DATE = date(1949, 10, 1)
# 公示期 are days or weeks (5 working days, 7, 15, 30 days); a year is already generous.
MAX_NOTICE_DAYS = 366
# How far ahead of today a notice period may start (a notice is prepared, not planned years
# ahead; `9999-12-31` is a placeholder, not a date).
MAX_NOTICE_LEAD_DAYS = 366
# The latest `valid_until` taken: later ones are placeholders (9999-12-31), not dates.
LATEST_VALID_UNTIL = date(2199, 12, 31)
# AGENCY (100) + '/' + INDEX_NO (64), with room for what NFKC folds away; ids are 36.
MAX_REF_LENGTH = 400


@dataclass(frozen=True)
class Admission:
    """Validation context that turns on the plausibility rules (see `admission_problems`).

    `today` (China) adds the rules relative to the clock; without it only the fixed ones
    apply. Pass it as `ItemContent.model_validate(data, context={"admission": ...})`.
    """

    today: date | None = None


def _admission(info: ValidationInfo) -> Admission | None:
    context = info.context
    if isinstance(context, dict):
        found = context.get("admission")
        if isinstance(found, Admission):
            return found
    return None


def _name_problem(value: str) -> str | None:
    """Why a name (agency, index number, title) is not plausible, or None."""
    if not any(unicodedata.category(ch)[0] in "LN" for ch in value):
        return (
            f"{value!r} has no letter or digit; give the real name or number"
            if value
            else None
        )
    return None


def _date_problem(value: date) -> str | None:
    if value < EARLIEST_DATE:
        return (
            f"{value} is before {EARLIEST_DATE}; no information of a government body "
            "in this catalogue is that old (a placeholder date?)"
        )
    return None


def _formed_on_problem(value: date, today: date | None) -> str | None:
    if (problem := _date_problem(value)) is not None:
        return problem
    if today is not None and value > today:
        return (
            f"{value} is in the future (today is {today} in China); give the date the "
            "information was formed or changed"
        )
    return None


def _notice_problems(start: date, end: date, today: date | None) -> list[str]:
    problems = [
        f"{name}: {problem}"
        for name, day in (("start", start), ("end", end))
        if (problem := _date_problem(day)) is not None
    ]
    days = (end - start).days + 1
    if not problems and days > MAX_NOTICE_DAYS:
        problems.append(
            f"{start} to {end} is {days} days; a notice period is at most "
            f"{MAX_NOTICE_DAYS} days (leave it out for an item that stays up)"
        )
    if today is not None and start > today + timedelta(days=MAX_NOTICE_LEAD_DAYS):
        problems.append(
            f"start: {start} is more than {MAX_NOTICE_LEAD_DAYS} days after today "
            f"({today} in China); publish the notice closer to its period"
        )
    return problems


def admission_problems(
    content: ItemContent, *, today: date | None = None
) -> list[Problem]:
    """The plausibility rules a new version must pass, every one broken.

    Names (`agency`, `index_no`, `title`) need a letter or digit; dates are not before
    `EARLIEST_DATE`; `formed_on` is not after `today`; a notice period is at most
    `MAX_NOTICE_DAYS` long and starts at most `MAX_NOTICE_LEAD_DAYS` after `today`.
    Stored events are never checked against these: they were admitted when written.
    """
    problems = [
        Problem(field, problem)
        for field in ("agency", "index_no", "title")
        if (problem := _name_problem(getattr(content, field))) is not None
    ]
    if (problem := _formed_on_problem(content.formed_on, today)) is not None:
        problems.append(Problem("formed_on", problem))
    if content.notice_period is not None:
        period = content.notice_period
        for line in _notice_problems(period.start, period.end, today):
            field, sep, rest = line.partition(": ")
            if sep and field in ("start", "end"):
                problems.append(Problem(f"notice_period.{field}", rest))
            else:
                problems.append(Problem("notice_period", line))
    return problems


@lru_cache(maxsize=4096)
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
    if len(text) > MAX_REF_LENGTH:
        raise ValueError(
            f"is {len(text)} characters long; no item has a reference longer than "
            f"{MAX_REF_LENGTH}"
        )
    if _LINE_CONTROL.search(text) or any(
        unicodedata.category(ch) in _INVISIBLE for ch in text
    ):
        # Never echo such a REF back: an escape sequence would reach the terminal.
        raise ValueError("contains control or invisible characters")
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


if TYPE_CHECKING:
    _RefusingModel = type
else:

    class _RefusingModel(type(BaseModel)):
        """Building the model directly (`ItemContent(...)`) refuses bad content with
        `InputError`, one `Problem` per field worded for operators, instead of pydantic's
        `ValidationError`.

        On the metaclass, not in `__init__`: pydantic validates a model with its own
        `__init__` through it (dropping the validation context that the admission
        rules need) and a nested one too; the metaclass's `__call__` runs only for a
        direct call."""

        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().__call__(*args, **kwargs)
            except ValidationError as exc:
                raise InputError(_problems(exc, kwargs)) from None


class Attachment(_Model):
    """An attachment (附件) as the log records it; the bytes live content-addressed.

    `sealed`: it holds personal data public for a limited time (a 公示 list); it is
    stored encrypted with its item's key (`syndicate.sealing`), `size` and `sha256`
    are the sealed blob's, and erasing the item destroys the key. Left out of the
    stored form when false, so content hashes of unsealed attachments never change.
    """

    name: Annotated[Line, Field(min_length=1, max_length=255)]
    media_type: Annotated[Line, Field(pattern=r"^[\w.+-]+/[\w.+-]+$")]
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    sealed: Annotated[bool, Field(strict=True)] = False

    @model_serializer(mode="wrap")
    def _without_default_seal(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if isinstance(data, dict) and not self.sealed:
            data.pop("sealed", None)
        return data

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
    def _ordered(self, info: ValidationInfo) -> Self:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        admission = _admission(info)
        if admission is not None:
            problems = _notice_problems(self.start, self.end, admission.today)
            if problems:
                raise ValueError("; ".join(problems))
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
        parsed = [
            c
            for v in value
            for c in (parse_channels(v) if isinstance(v, str) else (v,))
        ]
        if not parsed:
            raise ValueError("must name at least one channel (or leave it out for all)")
        # One canonical order, so the content hash does not depend on how it was typed.
        order = list(ChannelCategory)
        return tuple(sorted(set(parsed), key=order.index))
    return value


# Optional fields added after logs were first written (omitted from the canonical JSON
# while None, see `ItemContent._without_unset_time`).
_LATER_FIELDS = (
    "changed_on",
    "validity",
    "valid_until",
    "basis",
    "catalogue_item",
    "catalogue_path",
    "time_limit_days",
    "supervision",
    "doc_type",
    "decisions",
    "fee_wan",
    "page_kind",
)
# Working days a 时限 may say (自形成或变更之日起N个工作日内); longer is not a 时限.
MAX_TIME_LIMIT_DAYS = 366
# Art. 26 of the Regulations: within 20 working days of being formed or changed, unless
# a law or regulation sets another limit (which a catalogue 事项 then records).
ART_26_DAYS = 20


def time_rules(
    *,
    formed_on: date,
    changed_on: date | None,
    valid_until: date | None,
    validity: Validity | None,
) -> list[Problem]:
    """The rules between an item's dates and its validity, every one broken."""
    problems = []
    if changed_on is not None and changed_on < formed_on:
        problems.append(
            Problem(
                "changed_on",
                f"{changed_on} is before formed_on {formed_on}; information changes "
                "after it is formed",
            )
        )
    if valid_until is not None and valid_until > LATEST_VALID_UNTIL:
        problems.append(
            Problem(
                "valid_until",
                f"{valid_until} is after {LATEST_VALID_UNTIL}; a placeholder, not a "
                "date (leave valid_until out for a document with no end)",
            )
        )
    if valid_until is not None and valid_until < formed_on:
        problems.append(
            Problem(
                "valid_until",
                f"{valid_until} is before formed_on {formed_on}; a document cannot "
                "lapse before it exists",
            )
        )
    if valid_until is not None and validity in (Validity.REPEALED, Validity.EXPIRED):
        problems.append(
            Problem(
                "valid_until",
                f"a document whose validity is {validity.label} has no valid_until; "
                "leave one of them out",
            )
        )
    return problems


def catalogue_rules(
    *,
    basis: str | None,
    catalogue_item: str | None,
    doc_type: DocType | None,
    decisions: int | None,
    fee_wan: str | None,
    time_limit_days: int | None = None,
) -> list[Problem]:
    """The rules of the catalogue and 年报 elements, every one broken."""
    problems = []
    if (
        time_limit_days is not None
        and catalogue_item is None
        and time_limit_days > ART_26_DAYS
    ):
        problems.append(
            Problem(
                "time_limit_days",
                f"{time_limit_days} working days is longer than Art. 26 allows "
                f"({ART_26_DAYS}); only a catalogue 事项 whose 依据 sets another "
                "limit may (name it with catalogue_item)",
            )
        )
    if basis is None and catalogue_item is None:
        problems.append(
            Problem(
                "basis",
                # As for every other missing field; docs/items.md says that a
                # catalogue_item gives the 依据 instead.
                "required field is missing",
            )
        )
    if decisions is not None and (doc_type is None or not doc_type.counts_decisions):
        problems.append(
            Problem(
                "decisions",
                "only for doc_type 行政许可, 行政处罚 or 行政强制 (the number of "
                "处理决定 the item publishes)",
            )
        )
    if fee_wan is not None and doc_type is not DocType.FEE:
        problems.append(
            Problem("fee_wan", "only for doc_type 行政事业性收费 (the amount, 万元)")
        )
    return problems


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


class ItemContent(_Model, metaclass=_RefusingModel):
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
    # 依据: required, unless the item names a `catalogue_item`, whose 依据 it takes
    # when admitted (`syndicate.domain.standard.inherit`).
    basis: Annotated[Line, Field(min_length=1, max_length=500)] | None = None
    audience: Annotated[Line, Field(min_length=1, max_length=100)] = "全社会"
    attribute: Annotated[Attribute, BeforeValidator(_str_or(parse_attribute))] = (
        Attribute.PROACTIVE
    )
    attribute_basis: Annotated[Line, Field(min_length=1, max_length=500)] | None = None
    formed_on: PlainDate
    # 信息变更: the day the information last changed, when a revision records a change
    # of the information itself (the Art. 26 clock starts again from it).
    changed_on: PlainDate | None = None
    notice_period: NoticePeriod | None = None
    # 时效 (规章, 规范性文件): the validity the document declares, and the last day it is
    # in force (`Expired` is recorded by itself the day after; docs/lifecycle.md).
    validity: Annotated[Validity, BeforeValidator(_str_or(parse_validity))] | None = (
        None
    )
    valid_until: PlainDate | None = None
    interprets: Annotated[UUID, BeforeValidator(_interprets)] | None = None
    channels: Annotated[
        tuple[ChannelCategory, ...], BeforeValidator(_channels), AfterValidator(tuple)
    ] = DEFAULT_CHANNELS
    attachments: tuple[Attachment, ...] = ()
    # The 事项 of the standard catalogue the item fulfils: given as its code or its
    # path (一级/二级/公开内容), stored as the code, with the path as it stood when
    # the item was admitted (`catalogue_path`) and what the item took from it: the
    # 时限 in working days and the 监督投诉 contact (docs/catalogue.md).
    catalogue_item: Annotated[Line, Field(min_length=1, max_length=300)] | None = None
    catalogue_path: Annotated[Line, Field(min_length=1, max_length=300)] | None = None
    time_limit_days: (
        Annotated[int, Field(strict=True, ge=1, le=MAX_TIME_LIMIT_DAYS)] | None
    ) = None
    supervision: Annotated[Line, Field(min_length=1, max_length=300)] | None = None
    # 文件类型, what the 年报 counts; `decisions` (处理决定 in a 许可/处罚/强制 item,
    # default 1) and `fee_wan` (收费金额, 万元) go with it.
    doc_type: Annotated[DocType, BeforeValidator(_str_or(parse_doc_type))] | None = None
    decisions: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] | None = None
    fee_wan: (
        Annotated[str, Field(pattern=r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,4})?$")] | None
    ) = None
    # A page of the portal's 政府信息公开 section (指南, 制度, 年报, 标准目录).
    page_kind: Annotated[PageKind, BeforeValidator(_str_or(parse_page_kind))] | None = (
        None
    )

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Self:
        """A copy with `update` applied, validated as new content is (`InputError` if
        the result is not valid content); pydantic's own copy would skip validation."""
        if not update:
            return super().model_copy(deep=deep)
        # Only the fields given (`model_fields_set`) and the update: a field left to its
        # default stays "not given", so a 事项 still fills it in (`inherit`).
        return type(self).model_validate(
            {**self.model_dump(exclude_unset=True), **update}
        )

    # Refuse bad content with `InputError` (see `_RefusingModel`) from model_validate
    # too; hidden from mypy, which sees pydantic's signatures.
    if not TYPE_CHECKING:

        @classmethod
        def model_validate(cls, obj: Any, **options: Any) -> Self:
            try:
                return super().model_validate(obj, **options)
            except ValidationError as exc:
                raise InputError(_problems(exc, obj)) from None

        @classmethod
        def model_validate_json(cls, json_data: Any, **options: Any) -> Self:
            try:
                return super().model_validate_json(json_data, **options)
            except ValidationError as exc:
                raise InputError(problems_from_validation_error(exc)) from None

    @field_validator("agency")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("must not contain '/' (REFs are written AGENCY/INDEX_NO)")
        return value

    @field_validator("agency", "index_no", "title")
    @classmethod
    def _plausible_name(cls, value: str, info: ValidationInfo) -> str:
        if _admission(info) is not None and (problem := _name_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("formed_on")
    @classmethod
    def _plausible_formed_on(cls, value: date, info: ValidationInfo) -> date:
        admission = _admission(info)
        if admission is not None:
            problem = _formed_on_problem(value, admission.today)
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("index_no")
    @classmethod
    def _no_space(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("must not contain spaces")
        return value

    @model_serializer(mode="wrap")
    def _without_unset_time(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        # Fields added later are left out while unset, so the content hash of every
        # version stored before they existed stays what it was.
        data = handler(self)
        if isinstance(data, dict):
            for key in _LATER_FIELDS:
                if data.get(key) is None:
                    data.pop(key, None)
        return data

    @field_validator("changed_on")
    @classmethod
    def _plausible_changed_on(
        cls, value: date | None, info: ValidationInfo
    ) -> date | None:
        admission = _admission(info)
        if value is not None and admission is not None:
            problem = _formed_on_problem(value, admission.today)
            if problem is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _rules(self) -> Self:
        problems = (
            content_rules(
                attribute=self.attribute,
                attribute_basis=self.attribute_basis,
                interprets=self.interprets,
                own_id=self.id,
                attachment_names=[a.name for a in self.attachments],
            )
            + catalogue_rules(
                basis=self.basis,
                catalogue_item=self.catalogue_item,
                doc_type=self.doc_type,
                decisions=self.decisions,
                fee_wan=self.fee_wan,
                time_limit_days=self.time_limit_days,
            )
            + time_rules(
                formed_on=self.formed_on,
                changed_on=self.changed_on,
                valid_until=self.valid_until,
                validity=self.validity,
            )
        )
        if problems:
            # One line per rule; `problems_from_validation_error` splits them again.
            raise ValueError("\n".join(str(p) for p in problems))
        # The last check passed: remember this very object as validated (see
        # `valid_content`). pydantic runs no validator for `model_construct` or its
        # own `model_copy`, so their results are never remembered.
        _VALIDATED[id(self)] = self
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


def _kind_of(value: Any) -> str:
    """What was written instead of text, in an operator's words (never the value: it
    may be a number Python refuses to print)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, date):
        return "a date"
    return type(value).__name__


def missing_basis(data: object) -> list[Problem]:
    """The 依据 rule over raw fields (`catalogue_rules` runs only once every field is
    valid): a `basis` problem when `data` gives neither `basis` nor `catalogue_item`."""
    if (
        isinstance(data, Mapping)
        and data.get("basis") is None
        and data.get("catalogue_item") is None
    ):
        return catalogue_rules(
            basis=None,
            catalogue_item=None,
            doc_type=None,
            decisions=None,
            fee_wan=None,
        )
    return []


def _problems(exc: ValidationError, data: object) -> list[Problem]:
    problems = problems_from_validation_error(exc)
    if any(p.field == "basis" for p in problems):
        return problems
    extra = missing_basis(data)
    return problems + [p for p in extra if str(p) not in {str(q) for q in problems}]


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
        elif kind == "string_type":
            message = f"must be text in quotes, not {_kind_of(err.get('input'))}"
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


# Content objects that passed validation, by identity (weakly: they leave with their
# last reference). Identity, not equality: a copy made around validation is a new object.
_VALIDATED: weakref.WeakValueDictionary[int, ItemContent] = (
    weakref.WeakValueDictionary()
)


def valid_content(content: ItemContent) -> ItemContent:
    """`content` if it is an object validation built, else validated again from its
    fields: what the log writes is valid whatever built it (`model_construct`,
    pydantic's `BaseModel.model_copy`), so no event can make the log unreadable.
    `InputError` names the fields if not. (Content changed in place with
    `object.__setattr__` on the frozen model is not detected.)"""
    if not isinstance(content, ItemContent):
        raise InputError([Problem("content", "must be an ItemContent")])
    if _VALIDATED.get(id(content)) is content:
        return content
    return ItemContent.model_validate(content.model_dump(exclude_unset=True))
