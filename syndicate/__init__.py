"""syndicate: publish a government disclosure item once; project it to every outlet; prove it.

The public API is small and stable: the engine (`Engine`: every operation the command line
offers, as typed calls), the items log (`Disclosures`), the content model (`ItemContent`,
`PreparedAttachment`), review before release (`Disclosures.approve` and friends,
`ReviewEntry`, `ReviewDetail`, `ReviewPolicy`), the guard before release
(`Disclosures.check`, `GuardReport`, `GuardOverride`, `GuardRefused`, `check_paths`) and
erasure of sealed attachments (`Disclosures.erase`), time (`release_at`, `NoticePolicy`,
`NoticeRefused`, `Validity`, `Disclosures.repeal`, `Disclosures.advance`), a
home on disk (`Project`), and the errors. See docs/api.md; the
engine's result types are in `syndicate.engine`.
"""

from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from syndicate.application import Change, Disclosures, ReviewDetail, ReviewEntry
    from syndicate.attachments import PreparedAttachment
    from syndicate.domain.catalogue import (
        AREAS,
        Attribute,
        ChannelCategory,
        Stage,
        Validity,
    )
    from syndicate.domain.content import Attachment, ItemContent, NoticePeriod, item_id
    from syndicate.domain.guard import (
        GuardFinding,
        GuardOverride,
        GuardPolicy,
        GuardRefused,
        GuardReport,
    )
    from syndicate.domain.items import DisclosureItem, ItemStatus
    from syndicate.domain.lifecycle import NoticePolicy, NoticeRefused
    from syndicate.domain.review import ReviewPolicy
    from syndicate.engine import DeliveryState, Engine, StatusRow, SyncResult
    from syndicate.errors import (
        AlreadyPublished,
        ConfigurationError,
        ConflictError,
        DomainError,
        InputError,
        InterpretedItemMissing,
        ItemNotFound,
        ItemWithdrawn,
        NothingChanged,
        Problem,
        ReviewRefused,
        StoreError,
        SyndicateError,
    )
    from syndicate.guardfiles import check_paths
    from syndicate.project import Project

__all__ = [
    "AREAS",
    "AlreadyPublished",
    "Attachment",
    "Attribute",
    "Change",
    "ChannelCategory",
    "ConfigurationError",
    "ConflictError",
    "DeliveryState",
    "DisclosureItem",
    "Disclosures",
    "DomainError",
    "Engine",
    "GuardFinding",
    "GuardOverride",
    "GuardPolicy",
    "GuardRefused",
    "GuardReport",
    "InputError",
    "InterpretedItemMissing",
    "ItemContent",
    "ItemNotFound",
    "ItemStatus",
    "ItemWithdrawn",
    "NothingChanged",
    "NoticePeriod",
    "NoticePolicy",
    "NoticeRefused",
    "PreparedAttachment",
    "Problem",
    "Project",
    "ReviewDetail",
    "ReviewEntry",
    "ReviewPolicy",
    "ReviewRefused",
    "Stage",
    "StatusRow",
    "StoreError",
    "SyncResult",
    "SyndicateError",
    "Validity",
    "check_paths",
    "item_id",
]

# Where each public name lives. They are imported on first use (PEP 562), so that
# `import syndicate.errors` (and the command line's `--help`) does not import the
# whole library, the event store and the adapters with it.
_HOMES: dict[str, str] = {
    "AREAS": "syndicate.domain.catalogue",
    "AlreadyPublished": "syndicate.errors",
    "Attachment": "syndicate.domain.content",
    "Attribute": "syndicate.domain.catalogue",
    "Change": "syndicate.application",
    "ChannelCategory": "syndicate.domain.catalogue",
    "ConfigurationError": "syndicate.errors",
    "ConflictError": "syndicate.errors",
    "DeliveryState": "syndicate.engine",
    "DisclosureItem": "syndicate.domain.items",
    "Disclosures": "syndicate.application",
    "DomainError": "syndicate.errors",
    "Engine": "syndicate.engine",
    "GuardFinding": "syndicate.domain.guard",
    "GuardOverride": "syndicate.domain.guard",
    "GuardPolicy": "syndicate.domain.guard",
    "GuardRefused": "syndicate.domain.guard",
    "GuardReport": "syndicate.domain.guard",
    "InputError": "syndicate.errors",
    "InterpretedItemMissing": "syndicate.errors",
    "ItemContent": "syndicate.domain.content",
    "ItemNotFound": "syndicate.errors",
    "ItemStatus": "syndicate.domain.items",
    "ItemWithdrawn": "syndicate.errors",
    "NothingChanged": "syndicate.errors",
    "NoticePeriod": "syndicate.domain.content",
    "NoticePolicy": "syndicate.domain.lifecycle",
    "NoticeRefused": "syndicate.domain.lifecycle",
    "PreparedAttachment": "syndicate.attachments",
    "Problem": "syndicate.errors",
    "Project": "syndicate.project",
    "ReviewDetail": "syndicate.application",
    "ReviewEntry": "syndicate.application",
    "ReviewPolicy": "syndicate.domain.review",
    "ReviewRefused": "syndicate.errors",
    "Stage": "syndicate.domain.catalogue",
    "StatusRow": "syndicate.engine",
    "StoreError": "syndicate.errors",
    "SyncResult": "syndicate.engine",
    "SyndicateError": "syndicate.errors",
    "Validity": "syndicate.domain.catalogue",
    "check_paths": "syndicate.guardfiles",
    "item_id": "syndicate.domain.content",
}


def __getattr__(name: str) -> _Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
