"""`rss`: RSS 2.0 and Atom 1.0 feeds (feedgen) written to a folder, plus a WebSub ping.

Feeds: the whole site (`feed.xml`, `atom.xml`) and one pair per 五公开 column
(`stage/<code>.xml|.atom`) and per pilot area (`area/<code>.xml|.atom`). Each rendition is
the whole set of feed files as of the delivery's log position, so the bytes depend only on
the log: no wall-clock time anywhere (`lastBuildDate` and `updated` are the newest event
time), entries in a fixed order.

- Every item keeps one id for its whole life (`urn:uuid:<item id>`); a revision bumps
  `updated` and starts the text with its 更正说明.
- A withdrawal becomes an Atom tombstone (RFC 6721 `at:deleted-entry`) and, in RSS, which
  has no tombstones, a withdrawal notice entry with its own id (readers show it as new),
  for `notice_days` after the withdrawal.
- Time (docs/lifecycle.md): a document no longer in force keeps its entry, titled
  `【已废止】…` / `【已失效】…` with its 时效 in the text; a 公示 removed once its window
  ended (`[notice] after_end = "remove"`) leaves the feeds as a withdrawn item does (a
  tombstone, in RSS a `[公示期已结束]` notice).
- Text is carried as text (escaped), never as HTML, so nothing in an item can become
  markup or a `javascript:` link; links are built only from the configured `site_url`.

`witness` writes `checkpoints.xml`: an Atom feed of the audit log's signed checkpoints, one
entry per checkpoint (the signed note as its text), so feed readers witness them too. The
portal publishes the same entries (`checkpoint_feed`, shared with it). `inventory` lists
the items the feed files mention (entries, RSS withdrawal notices, Atom tombstones).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote
from uuid import UUID

import requests
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from syndicate.adapter import (
    Capabilities,
    DeliveryJob,
    ExpectsFiles,
    ItemView,
    OutletFolder,
    ReadsBack,
    Receipt,
    Rendition,
    Stage,
    TakesInventory,
    WitnessedCheckpoint,
    Witnesses,
    area_by_code,
)
from syndicate.adapterkit import (
    CHINA_TZ,
    UUID_PATTERN,
    BaseAdapter,
    FolderWriter,
    PublishedCheckpoint,
    RequestFailed,
    checked_checkpoints,
    exchange,
    file_errors,
    file_set,
    file_set_rendition,
    read_file_set,
    refuse_review_notice,
    write_file,
)
from syndicate.errors import TransientDeliveryError

__all__ = [
    "CHECKPOINT_NOTES",
    "RssAdapter",
    "RssSettings",
    "checkpoint_feed",
    "checkpoint_title",
]

TOMBSTONE_NS = "http://purl.org/atompub/tombstones/1.0"
_ATOM_NS = "http://www.w3.org/2005/Atom"
# Where the portal publishes each signed note; the checkpoint feeds link entries there.
CHECKPOINT_NOTES = ".well-known/syndicate-audit/checkpoints"
_UUID = re.compile(UUID_PATTERN)


class RssSettings(BaseModel):
    """`[outlets.NAME]` settings of a feed outlet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="Folder the feed files are written to.")
    site_url: str = Field(
        pattern=r"^https?://[^\s\"'<>]+$",
        description="Public base URL of the portal; item links are built from it.",
    )
    feed_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s\"'<>]+$",
        description="Public base URL of the feed folder (default: site_url + /feeds).",
    )
    site_name: str = Field(default="政府信息公开", min_length=1, max_length=100)
    max_entries: int = Field(default=50, ge=1, le=1000)
    notice_days: int = Field(default=30, ge=1, le=3650)
    hub: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s\"'<>]+$",
        description="WebSub hub to ping after the feeds change.",
    )
    timeout: float = Field(default=15.0, gt=0, le=60)


class _Tombstones(BaseExtension):  # type: ignore[misc]
    """Appends RFC 6721 `at:deleted-entry` elements to an Atom feed."""

    def __init__(self) -> None:
        self.deleted: list[tuple[str, datetime, str]] = []

    def extend_ns(self) -> dict[str, str]:
        return {"at": TOMBSTONE_NS}

    def extend_atom(self, feed: Any) -> Any:
        for ref, when, comment in self.deleted:
            element = etree.SubElement(feed, f"{{{TOMBSTONE_NS}}}deleted-entry")
            element.set("ref", ref)
            element.set("when", when.isoformat())
            if comment:
                etree.SubElement(element, f"{{{TOMBSTONE_NS}}}comment").text = comment
        return feed


def _item_url(settings: RssSettings, item: ItemView) -> str:
    return f"{settings.site_url.rstrip('/')}/items/{item.item_id}.html"


def _lapsed(item: ItemView) -> str | None:
    """The 时效 label of a document no longer in force (已废止, 已失效), or None."""
    validity = item.content.validity
    if validity is not None and not validity.in_force:
        return validity.label
    if item.repealed is not None:
        return "已废止"
    if item.expired is not None:
        return "已失效"
    return None


def _title(item: ItemView) -> str:
    lapsed = _lapsed(item)
    return f"【{lapsed}】{item.content.title}" if lapsed else item.content.title


def _text(item: ItemView) -> str:
    content = item.content
    lines = [f"发布机构：{content.agency}", f"索引号：{content.index_no}"]
    if content.doc_no:
        lines.append(f"发文字号：{content.doc_no}")
    if content.validity is not None:
        lines.append(f"时效：{content.validity.label}")
    if content.valid_until is not None:
        lines.append(f"有效期至：{content.valid_until.isoformat()}")
    statement = item.repealed or item.expired
    if statement:
        lines.insert(0, f"{_lapsed(item) or '时效'}：{statement}")
    if item.version > 1 and item.reason:
        lines.insert(0, f"更正说明：{item.reason}")
    return "\n".join([*lines, "", content.body])


def _removed_notice(item: ItemView) -> tuple[str, str, str]:
    """The title prefix, the note's label and the note of a withdrawn item, or of a
    公示 removed once its window ended."""
    if item.withdrawn or item.notice_ended != "remove":
        return "[已撤回] ", "撤回说明", item.public_note or "该信息已撤回。"
    period = item.content.notice_period
    window = (
        f"本公示公示期为{_cn_day(period.start)}至{_cn_day(period.end)}"
        if period is not None
        else "本公示公示期"
    )
    return "[公示期已结束] ", "说明", f"{window}，现已结束，按规定不再公开。"


def _cn_day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


# -- audit checkpoints (shared with the portal) ------------------------------------------


def checkpoint_title(checkpoint: PublishedCheckpoint) -> str:
    """`审计检查点 #12：1,234 个事件`."""
    return f"审计检查点 #{checkpoint.number}：{checkpoint.size:,} 个事件"


def checkpoint_feed(
    checkpoints: Sequence[PublishedCheckpoint],
    *,
    self_url: str,
    site_url: str,
    title: str,
    author: str,
) -> bytes:
    """An Atom feed with one entry per checkpoint, newest first; deterministic bytes.

    Entry id `urn:syndicate:checkpoint:<origin>:<number>` (stable for the checkpoint's
    life), updated = the checkpoint's time, text = the signed note verbatim, link = the
    note file the portal at `site_url` publishes.
    """
    newest = max((c.at for c in checkpoints), default=None)
    if newest is None:
        raise ValueError("a checkpoint feed needs at least one checkpoint")
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(title)
    fg.author(name=author)
    fg.language("zh-CN")
    fg.link(href=self_url, rel="self")
    fg.updated(newest.astimezone(CHINA_TZ))
    base = site_url.rstrip("/")
    for c in sorted(checkpoints, key=lambda c: c.number, reverse=True):
        when = c.at.astimezone(CHINA_TZ)
        fe = fg.add_entry(order="append")
        fe.id(f"urn:syndicate:checkpoint:{quote(c.origin, safe='/:@.-_~')}:{c.number}")
        fe.title(checkpoint_title(c))
        fe.link(href=f"{base}/{CHECKPOINT_NOTES}/{c.number}.txt")
        fe.published(when)
        fe.updated(when)
        fe.content(c.note, type="text")
    data: bytes = fg.atom_str(pretty=True)
    return data


class RssAdapter(
    BaseAdapter[RssSettings], ReadsBack, TakesInventory, Witnesses, ExpectsFiles
):
    """Feed files for the whole set of live items, one rendition per log position."""

    kind: ClassVar[str] = "rss"
    label: ClassVar[str | None] = "RSS订阅"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=True,
        retracts=True,
        whole_set=True,
        deduplicates=True,  # rewriting the same files changes nothing
        reads_back=True,
    )

    # -- rendering -----------------------------------------------------------------------

    def _feed_url(self) -> str:
        return (
            self.settings.feed_url or f"{self.settings.site_url.rstrip('/')}/feeds"
        ).rstrip("/")

    def _pair(
        self,
        name: str,
        title: str,
        live: Sequence[ItemView],
        withdrawn: Sequence[ItemView],
        built: datetime,
    ) -> dict[str, str]:
        settings = self.settings
        entries = sorted(
            live, key=lambda i: (i.updated_at, str(i.item_id)), reverse=True
        )
        entries = entries[: settings.max_entries]
        recent = [
            w
            for w in withdrawn
            if built - w.updated_at <= timedelta(days=settings.notice_days)
        ]
        recent.sort(key=lambda i: (i.updated_at, str(i.item_id)), reverse=True)
        files: dict[str, str] = {}
        for kind in ("rss", "atom"):
            fg = FeedGenerator()
            tombstones = _Tombstones()
            fg.register_extension(
                "tombstone", lambda t=tombstones: t, None, atom=True, rss=False
            )
            self_url = f"{self._feed_url()}/{name}.{'xml' if kind == 'rss' else 'atom'}"
            fg.id(self_url)
            fg.title(f"{settings.site_name}：{title}")
            fg.description(f"{settings.site_name} · {title}")
            fg.language("zh-CN")
            if settings.hub:
                fg.link(href=settings.hub, rel="hub")
            fg.link(href=self_url, rel="self")
            fg.link(href=settings.site_url, rel="alternate")  # last: RSS <link> uses it
            fg.updated(built)
            fg.lastBuildDate(built)
            for item in entries:
                fe = fg.add_entry(order="append")
                fe.id(f"urn:uuid:{item.item_id}")
                fe.guid(f"urn:uuid:{item.item_id}", permalink=False)
                fe.title(_title(item))
                fe.link(href=_item_url(settings, item))
                fe.published(item.published_at.astimezone(CHINA_TZ))
                fe.updated(item.updated_at.astimezone(CHINA_TZ))
                fe.author(name=item.content.agency)
                fe.description(_text(item))
            for item in recent:
                when = item.updated_at.astimezone(CHINA_TZ)
                prefix, label, note = _removed_notice(item)
                if kind == "atom":
                    tombstones.deleted.append((f"urn:uuid:{item.item_id}", when, note))
                    continue
                fe = fg.add_entry(order="append")
                fe.id(f"urn:uuid:{item.item_id}:withdrawn")
                fe.guid(f"urn:uuid:{item.item_id}:withdrawn", permalink=False)
                fe.title(f"{prefix}{item.content.title}")
                fe.link(href=_item_url(settings, item))
                fe.published(when)
                fe.updated(when)
                fe.description(f"{label}：{note}\n发布机构：{item.content.agency}")
            body = (
                fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)
            )
            files[f"{name}.{'xml' if kind == 'rss' else 'atom'}"] = body.decode("utf-8")
        return files

    def render(self, job: DeliveryJob) -> Rendition:
        refuse_review_notice(job, self.kind)
        # A 公示 removed once its window ended is no longer live, wherever the job
        # lists it.
        live = [i for i in job.live_items if i.notice_ended != "remove"]
        withdrawn = [
            *job.withdrawn_items,
            *(i for i in job.live_items if i.notice_ended == "remove"),
        ]
        moments = [i.updated_at for i in (*live, *withdrawn)] or [job.item.updated_at]
        built = max(moments).astimezone(CHINA_TZ)
        files = self._pair("feed", "最新信息", live, withdrawn, built)
        for stage in Stage:
            files |= self._pair(
                f"stage/{stage.value}",
                stage.label,
                [i for i in live if i.content.stage is stage],
                [i for i in withdrawn if i.content.stage is stage],
                built,
            )
        for code in sorted({i.content.area for i in (*live, *withdrawn)}):
            files |= self._pair(
                f"area/{code}",
                area_by_code(code).name,
                [i for i in live if i.content.area == code],
                [i for i in withdrawn if i.content.area == code],
                built,
            )
        # Rename the site-wide pair to the conventional names.
        files["atom.xml"] = files.pop("feed.atom")
        return file_set_rendition(
            files, "application/vnd.syndicate.feeds+json", key=str(job.delivery_id)
        )

    # -- delivering ----------------------------------------------------------------------

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        root = self.settings.path
        files = file_set(rendition)
        self._write_feeds(FolderWriter(root), files)
        if self.settings.hub:
            self._ping(
                session,
                [f"{self._feed_url()}/feed.xml", f"{self._feed_url()}/atom.xml"],
            )
        return Receipt(remote_id=str(root), detail={"files": str(len(files))})

    @staticmethod
    def _write_feeds(folder: FolderWriter, files: dict[str, str]) -> None:
        """The feed files into the folder, and stale feed files out of it (no network)."""
        with file_errors("cannot write feeds"):
            folder.write_set(files, _managed)

    def _ping(self, session: requests.Session, urls: Iterable[str]) -> None:
        hub = self.settings.hub
        if hub is None:
            return
        for url in urls:
            # A hub's answer says nothing we need: at most a few KB of it is read, and
            # the whole exchange ends within the outlet's timeout.
            try:
                answer = exchange(
                    session,
                    "POST",
                    hub,
                    data={"hub.mode": "publish", "hub.url": url},
                    timeout=self.settings.timeout,
                    limit=4096,
                )
            except RequestFailed as exc:
                raise TransientDeliveryError(
                    f"WebSub hub unreachable: {exc}", code="hub"
                ) from exc
            if not 200 <= answer.status < 300:
                raise TransientDeliveryError(
                    f"WebSub hub answered {answer.status}", code=str(answer.status)
                )

    def witness(
        self, checkpoints: Sequence[WitnessedCheckpoint], public_key: str
    ) -> None:
        """Write `checkpoints.xml`: every signed checkpoint as an Atom entry.

        Idempotent (the same checkpoints give the same bytes; unchanged files are not
        rewritten). With no checkpoints there is nothing to write.
        """
        self._write_checkpoints(self.settings.path, checkpoints, public_key)

    def _write_checkpoints(
        self,
        root: Path,
        checkpoints: Sequence[WitnessedCheckpoint],
        public_key: str,
    ) -> None:
        _key, checked = checked_checkpoints(checkpoints, public_key)
        if not checked:
            return
        settings = self.settings
        data = checkpoint_feed(
            checked,
            self_url=f"{self._feed_url()}/checkpoints.xml",
            site_url=settings.site_url,
            title=f"{settings.site_name}：审计检查点",
            author=settings.site_name,
        )
        write_file(root / "checkpoints.xml", data)

    def expected_files(
        self,
        scratch: Path,
        renditions: Sequence[Rendition],
        checkpoints: Sequence[WitnessedCheckpoint],
        public_key: str | None,
    ) -> OutletFolder:
        """The feed folder the newest rendition (the last given) and the checkpoints
        give, written into `scratch` with `deliver`'s code, without the WebSub ping."""
        if renditions:
            self._write_feeds(
                FolderWriter(scratch, durable=False), file_set(renditions[-1])
            )
        if public_key is not None:
            self._write_checkpoints(scratch, checkpoints, public_key)
        return OutletFolder(root=self.settings.path)

    def inventory(self, session: requests.Session) -> set[UUID]:
        """Items the feed files mention: entries, RSS withdrawal notices (`…:withdrawn`)
        and Atom tombstones, in every feed file of the folder (the site-wide pair and
        the column feeds). Files that do not parse are skipped."""
        found: set[UUID] = set()
        root = self.settings.path
        if not root.is_dir():
            return found
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
        for path in _managed(root):
            try:
                tree = etree.fromstring(path.read_bytes(), parser)
            except (OSError, etree.XMLSyntaxError):
                continue
            refs = [
                *(e.text or "" for e in tree.iterfind("channel/item/guid")),
                *(
                    e.text or ""
                    for e in tree.iterfind(f"{{{_ATOM_NS}}}entry/{{{_ATOM_NS}}}id")
                ),
                *(
                    e.get("ref") or ""
                    for e in tree.iterfind(f"{{{TOMBSTONE_NS}}}deleted-entry")
                ),
            ]
            for ref in refs:
                item = _item_ref(ref.strip())
                if item is not None:
                    found.add(item)
        return found

    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """The feed files now in the folder, in the rendition's form."""
        return read_file_set(self.settings.path, _managed)


def _item_ref(ref: str) -> UUID | None:
    """The item of an entry id: `urn:uuid:<id>` or a notice's `urn:uuid:<id>:withdrawn`."""
    rest = ref.removeprefix("urn:uuid:")
    if rest == ref:
        return None
    rest = rest.removesuffix(":withdrawn")
    return UUID(rest) if _UUID.fullmatch(rest) else None


def _managed(root: Path) -> list[Path]:
    found = [root / "feed.xml", root / "atom.xml"]
    for folder in ("stage", "area"):
        if (root / folder).is_dir():
            found += sorted((root / folder).glob("*.xml"))
            found += sorted((root / folder).glob("*.atom"))
    return [p for p in found if p.is_file()]
