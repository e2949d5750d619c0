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
