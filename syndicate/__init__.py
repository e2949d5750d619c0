"""syndicate: publish a government disclosure item once; project it to every outlet; prove it.

The public API is small and stable: the items log (`Disclosures`), the content model
(`ItemContent`), a home on disk (`Project`), and the errors. See docs/concepts.md.
"""

from syndicate.application import Change, Disclosures
from syndicate.domain.catalogue import AREAS, Attribute, ChannelCategory, Stage
from syndicate.domain.content import Attachment, ItemContent, NoticePeriod, item_id
from syndicate.domain.items import DisclosureItem, ItemStatus
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
    StoreError,
    SyndicateError,
)
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
    "DisclosureItem",
    "Disclosures",
    "DomainError",
    "InputError",
    "InterpretedItemMissing",
    "ItemContent",
    "ItemNotFound",
    "ItemStatus",
    "ItemWithdrawn",
    "NothingChanged",
    "NoticePeriod",
    "Project",
    "Stage",
    "StoreError",
    "SyndicateError",
    "item_id",
]
