"""`kiosk`: an offline HTML5 bundle for self-service kiosks (自助终端一体机) in service halls.

One folder per kiosk outlet, which a kiosk opens from disk (`chromium --kiosk`) or from a
LAN server:

```
index.html              the touch app's page (loads everything below, nothing else)
manifest.json           what is in the bundle: items (id, version, content hash), file hashes
data.js                 settings, display order, labels: `window.KIOSK = {...}`
items/<item id>.js      one per item shown: `KIOSK.items["<id>"] = {...}`
assets/kiosk.css        the portrait 1080x1920 layout (large type, 48 px+ touch targets)
assets/kiosk.js         the app: home, lists by 五公开 stage and pilot area, item screens
```

Each rendition is the whole bundle as of the delivery's log position, as canonical JSON
`{"files": {path: text}}`, like the `rss` adapter's. Its bytes depend only on the log and
the settings: `built_at` is the newest event time among the outlet's items (never the
wall clock), items are in a fixed order, and the assets are constants of this module.

- Items whose 公示期 ended before `built_at` are left out, and so is every item whose
  公示期 the log says is over (`NoticeEnded`, whatever `[notice] after_end` says); the
  page also hides items whose 公示期 ended before the kiosk's own date, because a kiosk
  runs for days between bundles.
- A document no longer in force (废止, 已失效) stays, tagged with its 时效 in the lists
  and with its statement at the top of its screen.
- A withdrawn item simply disappears, and `deliver` deletes its `items/<id>.js`.
- A revision replaces the item in place and shows its 更正说明.
- Data reaches the page as JSON inside JS files, with `<`, `>`, `&`, U+2028 and U+2029
  escaped so no text can end a script; the page builds its DOM with `textContent`. The
  only markup from operators is the body, rendered to sanitised HTML here (`markdown_html`)
  with its links flattened to text (a kiosk offers nothing to follow). A Content Security
  Policy allows scripts, styles and images from the bundle only (and the `data:` QR codes).
- The page polls `manifest.json` when idle (served over http only) and reloads when the
  bundle changed, so a LAN-served kiosk picks up new bundles by itself.

`inventory` reads the items a kiosk shows from the folder's `manifest.json`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Final
from uuid import UUID

import nh3
import requests
import segno
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
    area_by_code,
)
from syndicate.adapterkit import (
    CHINA_TZ,
    UUID_PATTERN,
    BaseAdapter,
    FolderWriter,
    canonical_json,
    file_errors,
    file_set,
    file_set_rendition,
    read_file_set,
    refuse_review_notice,
)
from syndicate.errors import PermanentDeliveryError
from syndicate_adapters._html import (
    area_name,
    day,
    esc,
    human_size,
    markdown_html,
    minute,
)

__all__ = [
    "MANIFEST_SCHEMA",
    "KioskAdapter",
    "KioskSettings",
    "body_html",
    "js_json",
    "shown_items",
]

MANIFEST_SCHEMA: Final = 1
_ITEM_FILE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.js$"
)
_UUID: Final = re.compile(UUID_PATTERN)
_FIXED_FILES: Final = (
    "index.html",
    "manifest.json",
    "data.js",
    "assets/kiosk.css",
    "assets/kiosk.js",
)


class KioskSettings(BaseModel):
    """`[outlets.NAME]` settings of a kiosk outlet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="Bundle folder (relative to the home).")
    title: str = Field(
        default="政务公开查询",
        min_length=1,
        max_length=40,
        pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$",
        description="Shown at the top of every screen.",
    )
    idle_seconds: int = Field(
        default=90,
        ge=10,
        le=3600,
        description="Seconds without a touch before the kiosk returns to its home screen.",
    )
    home_items: int = Field(
        default=5,
        ge=1,
        le=50,
        description="How many latest items the home screen lists.",
    )
    portal_url: str | None = Field(
        default=None,
        pattern=r"^https://[^\s\"'<>\\]+$",
        description="Public https base URL of the portal; each item screen then shows a "
        "QR code of `{portal_url}/items/{item_id}.html`.",
    )


# -- the page ---------------------------------------------------------------------------

_BODY_TAGS: Final = {
    "p", "br", "strong", "em", "ul", "ol", "li", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "code", "pre", "hr",
}  # fmt: skip
_LINK = re.compile(r'<a(?: href="([^"]*)")?>(.*?)</a>', re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


@functools.lru_cache(maxsize=1024)
def body_html(markdown: str) -> str:
    """The item body as safe HTML for a kiosk: `markdown_html`, links flattened to text.

    A kiosk has nowhere to go (no address bar, often no network), so a link becomes its
    text followed by its address. The result passes nh3 once more without `a` allowed,
    whatever the flattening did.
    """
    bare = nh3.clean(
        markdown_html(markdown),
        tags=_BODY_TAGS | {"a"},
        # "*": nh3 would otherwise keep `title` and `lang` on every tag, and a link with
        # a title would then escape the flattening below (and lose its address).
        attributes={"*": set(), "a": {"href"}, "ol": {"start"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
    )

    def flatten(match: re.Match[str]) -> str:
        href, inner = match[1] or "", match[2]
        shown = _TAG.sub("", inner).strip()
        target = href.removeprefix("mailto:")
        if not href:
            return inner
        if shown in (href, target):  # an autolink: its text is the address
            return target
        return f"{inner}（{target}）"

    return nh3.clean(
        _LINK.sub(flatten, bare),
        tags=_BODY_TAGS,
        attributes={"ol": {"start"}},
        link_rel=None,
        strip_comments=True,
    ).strip()


def js_json(data: Any) -> str:
    """JSON that is safe inside a script: nothing in it can close a tag or end a line."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _portal_link(settings: KioskSettings, item: ItemView) -> str | None:
    if settings.portal_url is None:
        return None
    return f"{settings.portal_url.rstrip('/')}/items/{item.item_id}.html"


# Each rendition is the whole bundle, so the same items are drawn again and again: keep
# the costly parts (choosing a QR mask is most of a render) of the last few thousand.
@functools.lru_cache(maxsize=4096)
def _qr(url: str) -> str:
    """A QR code as an SVG `data:` URI: drawn by the page, no request to anywhere."""
    code = segno.make(url, error="m", micro=False)
    uri: str = code.svg_data_uri(scale=8, border=4, dark="#000", light="#fff")
    return uri


def _corrections(item: ItemView) -> list[dict[str, Any]]:
    """更正说明 of every revision up to this version, newest first."""
    notes = [
        {"version": r.version, "date": day(r.at), "reason": r.reason}
        for r in item.history
        if r.event == "Revised" and r.reason and r.version <= item.version
    ]
    if not notes and item.version > 1 and item.reason:
        notes = [
            {
                "version": item.version,
                "date": day(item.updated_at),
                "reason": item.reason,
            }
        ]
    return sorted(notes, key=lambda n: int(n["version"]), reverse=True)


def _item_data(settings: KioskSettings, item: ItemView) -> dict[str, Any]:
    content = item.content
    link = _portal_link(settings, item)
    period = content.notice_period
    return {
        "id": str(item.item_id),
        "ref": item.ref,
        "version": item.version,
        "content_hash": item.content_hash,
        "title": content.title,
        "agency": content.agency,
        "index_no": content.index_no,
        "doc_no": content.doc_no,
        "stage": content.stage.value,
        "stage_label": content.stage.label,
        "area": content.area,
        "area_name": area_name(content.area),
        "area_no": area_by_code(content.area).number,
        "published": day(item.published_at),
        "updated": minute(item.updated_at),
        "notice_period": (
            {"start": period.start.isoformat(), "end": period.end.isoformat()}
            if period
            else None
        ),
        "validity": content.validity.label if content.validity else None,
        "valid_until": content.valid_until.isoformat() if content.valid_until else None,
        # No longer in force (废止, 已失效): a tag in the lists, a note on its screen.
        "lapsed": _lapsed(item),
        "body_html": body_html(content.body),
        "attachments": [
            {
                "name": a.name,
                "media_type": a.media_type,
                "size": human_size(a.size),
                "sha256": a.sha256,
            }
            for a in content.attachments
        ],
        "corrections": _corrections(item) if item.version > 1 else [],
        "portal_link": link,
        "qr": _qr(link) if link else None,
    }


def _lapsed(item: ItemView) -> dict[str, str] | None:
    """The 时效 label and statement of a document no longer in force, or None."""
    validity = item.content.validity
    statement = item.repealed or item.expired
    if statement is None and (validity is None or validity.in_force):
        return None
    if validity is not None and not validity.in_force:
        label = validity.label
    else:
        label = "已废止" if item.repealed is not None else "已失效"
    return {"label": label, "statement": statement or ""}


def shown_items(live: Iterable[ItemView], built: datetime) -> list[ItemView]:
    """Live items still in their 公示期 at `built`, newest change first: none whose
    公示期 ended before `built`, or is over by the log (`notice_ended`)."""
    today = built.astimezone(CHINA_TZ).date()
    kept = [
        i
        for i in live
        if not i.withdrawn
        and i.notice_ended is None
        and (i.content.notice_period is None or i.content.notice_period.end >= today)
    ]
    return sorted(kept, key=lambda i: (i.updated_at, str(i.item_id)), reverse=True)


def _index_html(
    title: str, built: datetime, stylesheet: str, scripts: Sequence[str]
) -> str:
    tags = "\n".join(f'<script src="{esc(s)}" defer></script>' for s in scripts)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'">
<meta name="generator" content="syndicate kiosk">
<link rel="icon" href="data:,">
<title>{esc(title)}</title>
<link rel="stylesheet" href="{esc(stylesheet)}">
{tags}
</head>
<body>
<header class="top"><h1 id="site-title">{esc(title)}</h1></header>
<main id="screen" tabindex="-1">
<noscript><p class="notice">本终端需要启用 JavaScript 才能查询。</p></noscript>
<p class="notice" id="loading">正在加载……</p>
</main>
<footer class="bar">
<nav class="bar-nav" aria-label="导航"><button type="button" id="home-button" class="home-button" hidden>返回首页</button></nav>
<p class="built">信息更新至 <time datetime="{built.isoformat()}">{esc(minute(built))}</time></p>
</footer>
</body>
</html>
"""


class KioskAdapter(BaseAdapter[KioskSettings], ReadsBack, TakesInventory, ExpectsFiles):
    """The whole kiosk bundle for the live items, one rendition per log position."""

    kind: ClassVar[str] = "kiosk"
    label: ClassVar[str | None] = "自助终端"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=True,
        retracts=True,
        whole_set=True,
        deduplicates=True,  # rewriting the same files changes nothing
        reads_back=True,
    )

    # -- rendering -----------------------------------------------------------------------

    def files(self, job: DeliveryJob) -> dict[str, str]:
        """The bundle as {relative path: text}."""
        settings = self.settings
        moments = [i.updated_at for i in (*job.live_items, *job.withdrawn_items)] or [
            job.item.updated_at
        ]
        built = max(moments).astimezone(CHINA_TZ)
        items = shown_items(job.live_items, built)

        files: dict[str, str] = {
            "assets/kiosk.css": KIOSK_CSS,
            "assets/kiosk.js": KIOSK_JS,
        }
        entries: list[dict[str, Any]] = []
        for item in items:
            data = _item_data(settings, item)
            name = f"items/{item.item_id}.js"
            files[name] = (
                f"KIOSK.items[{js_json(str(item.item_id))}] = {js_json(data)};\n"
            )
            period = item.content.notice_period
            entries.append(
                {
                    "id": str(item.item_id),
                    "ref": item.ref,
                    "version": item.version,
                    "content_hash": item.content_hash,
                    "title": item.content.title,
                    "stage": item.content.stage.value,
                    "area": item.content.area,
                    "published_at": item.published_at.astimezone(CHINA_TZ).isoformat(),
                    "updated_at": item.updated_at.astimezone(CHINA_TZ).isoformat(),
                    "notice_period": (
                        {
                            "start": period.start.isoformat(),
                            "end": period.end.isoformat(),
                        }
                        if period
                        else None
                    ),
                    "file": name,
                    "sha256": _sha(files[name]),
                }
            )
        config = {
            "title": settings.title,
            "idle_seconds": settings.idle_seconds,
            "home_items": settings.home_items,
        }
        assets = {p: _sha(files[p]) for p in ("assets/kiosk.css", "assets/kiosk.js")}
        # One name for this exact bundle: the page compares it with the manifest's to
        # know when to reload.
        bundle = hashlib.sha256(
            canonical_json({"config": config, "items": entries, "assets": assets})
        ).hexdigest()
        page = {
            **config,
            "bundle": bundle,
            "built_at": built.isoformat(),
            "order": [e["id"] for e in entries],
            "stages": [{"code": s.value, "label": s.label} for s in Stage],
            "items": {},
        }
        files["data.js"] = f"window.KIOSK = {js_json(page)};\n"
        scripts = [
            f"data.js?v={_sha(files['data.js'])[:12]}",
            *(f"{e['file']}?v={e['sha256'][:12]}" for e in entries),
            f"assets/kiosk.js?v={assets['assets/kiosk.js'][:12]}",
        ]
        files["index.html"] = _index_html(
            settings.title,
            built,
            f"assets/kiosk.css?v={assets['assets/kiosk.css'][:12]}",
            scripts,
        )
        manifest = {
            "schema_version": MANIFEST_SCHEMA,
            "kind": "syndicate.kiosk",
            "title": settings.title,
            "built_at": built.isoformat(),
            "bundle": bundle,
            "items": entries,
            "files": {path: _sha(text) for path, text in sorted(files.items())},
        }
        files["manifest.json"] = (
            json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        )
        return files

    def render(self, job: DeliveryJob) -> Rendition:
        refuse_review_notice(job, self.kind)
        return file_set_rendition(
            self.files(job),
            "application/vnd.syndicate.kiosk+json",
            key=str(job.delivery_id),
        )

    # -- delivering ----------------------------------------------------------------------

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        files = file_set(rendition)
        root = self.settings.path
        self._write_bundle(FolderWriter(root), files)
        return Receipt(remote_id=str(root), detail={"files": str(len(files))})

    @staticmethod
    def _write_bundle(folder: FolderWriter, files: dict[str, str]) -> None:
        for relative in files:
            if not _is_managed_name(relative):
                raise PermanentDeliveryError(
                    f"refusing to write {relative!r}: not a kiosk bundle file"
                )
        # Item files and assets first, the page next, the manifest last: a kiosk that
        # polls the manifest finds everything it names already in place; stale item
        # files go only after the new page no longer loads them.
        with file_errors("cannot write the kiosk bundle"):
            folder.write_set(files, _managed, last=("index.html", "manifest.json"))

    def expected_files(
        self,
        scratch: Path,
        renditions: Sequence[Rendition],
        checkpoints: Sequence[WitnessedCheckpoint],
        public_key: str | None,
    ) -> OutletFolder:
        """The bundle the newest rendition (the last given) gives, written into
        `scratch` with `deliver`'s code (kiosks publish no checkpoints)."""
        owners: dict[str, tuple[UUID, ...]] = {}
        if renditions:
            files = file_set(renditions[-1])
            self._write_bundle(FolderWriter(scratch, durable=False), files)
            for relative in files:
                name = relative.removeprefix("items/").removesuffix(".js")
                if relative.startswith("items/") and _UUID.fullmatch(name):
                    owners[relative] = (UUID(name),)
        return OutletFolder(root=self.settings.path, owners=owners)

    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """The bundle files now in the folder, in the rendition's form."""
        return read_file_set(self.settings.path, _managed)

    def inventory(self, session: requests.Session) -> set[UUID]:
        """The items the folder's `manifest.json` lists (what the kiosk shows); a missing
        or malformed manifest lists none, entries without an item id are skipped."""
        path = self.settings.path / "manifest.json"
        try:
            manifest = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return set()
        entries = manifest.get("items") if isinstance(manifest, dict) else None
        found: set[UUID] = set()
        for entry in entries if isinstance(entries, list) else []:
            ref = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(ref, str) and _UUID.fullmatch(ref):
                found.add(UUID(ref))
        return found


def _is_managed_name(relative: str) -> bool:
    if relative in _FIXED_FILES:
        return True
    folder, _, name = relative.partition("/")
    return folder == "items" and bool(_ITEM_FILE.match(name))


def _managed(root: Path) -> list[Path]:
    """The files of the folder this adapter owns; anything else there is left alone."""
    found = [root / name for name in _FIXED_FILES]
    if (root / "items").is_dir():
        found += sorted(
            p for p in (root / "items").iterdir() if _ITEM_FILE.match(p.name)
        )
    return [p for p in found if p.is_file() and not p.is_symlink()]


# The assets are part of the rendition: changing them changes every hash, as it should.
KIOSK_CSS: Final = r"""/* syndicate kiosk: portrait 1080x1920, large type, touch targets of 64 px and more. */
*, *::before, *::after { box-sizing: border-box; }
html { font-size: 28px; -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0;
  min-height: 100vh;
  display: flex;
  flex-direction: column;
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
  font-size: 1rem;
  line-height: 1.6;
  color: #111;
  background: #f2f2f2;
  overflow-wrap: anywhere;
  -webkit-user-select: none;
  user-select: none;
  touch-action: manipulation;
}
[hidden] { display: none !important; }
[tabindex="-1"]:focus { outline: none; }
button { font: inherit; color: inherit; touch-action: manipulation; }
button:focus-visible { outline: 4px solid #ffbf00; outline-offset: 3px; }

.top { background: #a3141c; color: #fff; padding: 28px 40px; }
.top h1 { margin: 0; font-size: 1.6rem; line-height: 1.3; letter-spacing: 0.08em; }

main { display: block; flex: 1 0 auto; width: 100%; max-width: 1080px; margin: 0 auto; padding: 32px 40px 48px; }
main h2 { font-size: 1.4rem; line-height: 1.35; margin: 0 0 24px; }
main h3 { font-size: 1.15rem; margin: 40px 0 16px; }
.notice { font-size: 1.1rem; padding: 40px 0; }
.count { color: #333; margin: -12px 0 20px; }

.list { list-style: none; margin: 0; padding: 0; }
.list li { margin: 0 0 16px; }
.entry {
  display: block; width: 100%; min-height: 96px; padding: 20px 28px; text-align: left;
  background: #fff; border: 2px solid #767676; border-radius: 12px; cursor: pointer;
}
.entry:active { background: #e6eefc; }
.entry-title { display: block; font-size: 1.1rem; font-weight: 700; line-height: 1.45; }
.entry-meta { display: block; color: #333; margin-top: 8px; }
.tag {
  display: inline-block; margin-left: 12px; padding: 0 12px; border-radius: 6px;
  background: #0b4f9c; color: #fff; font-weight: 400;
}

.grid { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 16px; }
.grid.stages { grid-template-columns: repeat(5, minmax(0, 1fr)); }
.tile {
  min-height: 104px; min-width: 64px; padding: 12px 8px; text-align: center; cursor: pointer;
  background: #0b4f9c; color: #fff; border: 0; border-radius: 12px; font-size: 1.05rem; font-weight: 700;
  line-height: 1.35;
}
.tile:active { background: #07356a; }
.tile-count { display: block; font-size: 1rem; font-weight: 400; }
.tile.empty { background: #5f5f5f; }
.more {
  display: block; width: 100%; min-height: 88px; margin-top: 8px; cursor: pointer;
  background: #fff; border: 2px solid #0b4f9c; color: #0b4f9c; border-radius: 12px; font-weight: 700;
}

.actions { display: flex; flex-wrap: wrap; gap: 16px; margin: 0 0 24px; }
.back {
  min-height: 80px; min-width: 64px; padding: 0 32px; cursor: pointer;
  background: #fff; color: #0b4f9c; border: 2px solid #0b4f9c; border-radius: 12px; font-weight: 700;
}

.meta { margin: 0 0 24px; padding: 20px 28px; background: #fff; border-radius: 12px; }
.meta div { display: flex; gap: 16px; padding: 6px 0; border-bottom: 1px solid #ddd; }
.meta div:last-child { border-bottom: 0; }
.meta dt { flex: 0 0 6.5em; color: #333; }
.meta dd { margin: 0; flex: 1 1 auto; min-width: 0; }
.tag.lapsed { background: #5f5f5f; }
.lapsed-note { background: #fff; border-left: 8px solid #a3141c; border-radius: 12px; padding: 16px 28px; margin: 0 0 24px; }
.lapsed-note strong { color: #a3141c; }
.corrections { background: #fff8e1; border-left: 8px solid #8a5a00; padding: 16px 28px; margin: 0 0 24px; }
.corrections h3 { margin: 0 0 8px; }
.corrections ul { margin: 0; padding-left: 1.2em; }
.body { background: #fff; border-radius: 12px; padding: 24px 32px; margin: 0 0 24px; }
.body p { margin: 0 0 0.8em; text-indent: 2em; }
.body h2, .body h3, .body h4, .body h5, .body h6 { font-size: 1.1rem; margin: 1em 0 0.5em; }
.body table { width: 100%; border-collapse: collapse; table-layout: fixed; }
.body th, .body td { border: 1px solid #767676; padding: 8px 12px; text-align: left; vertical-align: top; }
.body pre, .body code { font-family: monospace, monospace; font-size: 1em; white-space: pre-wrap; }
.body blockquote { margin: 0 0 0.8em; padding-left: 24px; border-left: 6px solid #bbb; }
.files { list-style: none; margin: 0; padding: 0; }
.files li { background: #fff; border-radius: 12px; padding: 16px 28px; margin: 0 0 12px; }
.file-name { display: block; font-weight: 700; }
.file-hash { display: block; color: #333; word-break: break-all; }
.hint { color: #333; }
.qr { display: flex; gap: 32px; align-items: center; background: #fff; border-radius: 12px; padding: 24px 28px; }
.qr img { width: 240px; height: 240px; flex: 0 0 240px; }
.qr p { margin: 0; }
.qr .url { word-break: break-all; color: #333; }

/* Sticky, not fixed: at the foot of a short screen, on top of a long one while it scrolls. */
.bar {
  position: sticky; bottom: 0; display: flex; align-items: center; gap: 24px;
  padding: 16px 40px; background: #fff; border-top: 2px solid #767676;
}
.bar-nav { flex: 0 0 auto; }
.home-button {
  min-height: 96px; min-width: 280px; padding: 0 40px; cursor: pointer;
  background: #a3141c; color: #fff; border: 0; border-radius: 12px; font-size: 1.2rem; font-weight: 700;
}
.home-button:active { background: #6e0d13; }
.built { margin: 0 0 0 auto; color: #333; }

@media (max-width: 720px) {
  html { font-size: 24px; }
  main { padding: 24px 16px 32px; }
  .top { padding: 20px 16px; }
  .bar { padding: 12px 16px; }
  .home-button { min-width: 0; }
  .grid, .grid.stages { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .qr { flex-direction: column; align-items: flex-start; }
}
"""

KIOSK_JS: Final = r"""/* syndicate kiosk app: no framework, no network except polling manifest.json. */
(function () {
  "use strict";

  var K = window.KIOSK;
  var screen = document.getElementById("screen");
  var homeButton = document.getElementById("home-button");
  var idleTimer = 0;
  var lastList = "#/";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function button(className, onTap) {
    var node = el("button", className);
    node.type = "button";
    node.addEventListener("click", onTap);
    return node;
  }

  function go(hash) {
    if (location.hash === hash) { route(); } else { location.hash = hash; }
  }

  /* Today in Beijing time (YYYY-MM-DD), from the kiosk's own clock. */
  function today() {
    return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  }

  /* Items to show now: in bundle order, without those whose notice period has ended. */
  function visible() {
    var day = today();
    var out = [];
    K.order.forEach(function (id) {
      var item = K.items[id];
      if (item && !(item.notice_period && item.notice_period.end < day)) { out.push(item); }
    });
    return out;
  }

  function underNotice(item) {
    var day = today();
    var p = item.notice_period;
    return !!p && p.start <= day && day <= p.end;
  }

  function heading(text) {
    var h = el("h2", "", text);
    h.id = "screen-title";
    h.tabIndex = -1;
    return h;
  }

  function entryList(items) {
    var list = el("ul", "list");
    items.forEach(function (item) {
      var li = el("li");
      var b = button("entry", function () { go("#/item/" + item.id); });
      b.setAttribute("data-item", item.id);
      var title = el("span", "entry-title", item.title);
      if (underNotice(item)) { title.appendChild(el("span", "tag", "公示中")); }
      if (item.lapsed) { title.appendChild(el("span", "tag lapsed", item.lapsed.label)); }
      b.appendChild(title);
      b.appendChild(el("span", "entry-meta", item.published + " · " + item.agency));
      li.appendChild(b);
      list.appendChild(li);
    });
    return list;
  }

  function tile(label, count, hash) {
    var b = button(count ? "tile" : "tile empty", function () { go(hash); });
    b.appendChild(el("span", "tile-label", label));
    b.appendChild(el("span", "tile-count", count + " 条"));
    return b;
  }

  function homeScreen(items) {
    var nodes = [heading("最新公开")];
    if (!items.length) {
      nodes.push(el("p", "notice", "暂无公开信息。"));
    } else {
      nodes.push(entryList(items.slice(0, K.home_items)));
      var all = button("more", function () { go("#/all"); });
      all.textContent = "查看全部信息（" + items.length + " 条）";
      nodes.push(all);
    }
    var byStage = el("section");
    byStage.setAttribute("aria-labelledby", "by-stage");
    var h3 = el("h3", "", "按五公开浏览");
    h3.id = "by-stage";
    byStage.appendChild(h3);
    var grid = el("div", "grid stages");
    K.stages.forEach(function (stage) {
      var n = items.filter(function (i) { return i.stage === stage.code; }).length;
      var t = tile(stage.label, n, "#/stage/" + stage.code);
      t.setAttribute("data-stage", stage.code);
      grid.appendChild(t);
    });
    byStage.appendChild(grid);
    nodes.push(byStage);

    var areas = {};
    items.forEach(function (i) {
      var a = areas[i.area] || (areas[i.area] = { code: i.area, name: i.area_name, no: i.area_no, n: 0 });
      a.n += 1;
    });
    var codes = Object.keys(areas).sort(function (a, b) { return areas[a].no - areas[b].no; });
    if (codes.length) {
      var byArea = el("section");
      byArea.setAttribute("aria-labelledby", "by-area");
      var h3a = el("h3", "", "按领域浏览");
      h3a.id = "by-area";
      byArea.appendChild(h3a);
      var agrid = el("div", "grid");
      codes.forEach(function (code) {
        var t = tile(areas[code].name, areas[code].n, "#/area/" + code);
        t.setAttribute("data-area", code);
        agrid.appendChild(t);
      });
      byArea.appendChild(agrid);
      nodes.push(byArea);
    }
    return nodes;
  }

  function listScreen(title, items) {
    var nodes = [heading(title), el("p", "count", "共 " + items.length + " 条")];
    nodes.push(items.length ? entryList(items) : el("p", "notice", "暂无公开信息。"));
    return nodes;
  }

  function row(dl, label, value) {
    if (!value) { return; }
    var div = el("div");
    div.appendChild(el("dt", "", label));
    div.appendChild(el("dd", "", value));
    dl.appendChild(div);
  }

  function itemScreen(item) {
    if (!item) {
      return [heading("该信息已不在展示范围"), el("p", "notice", "请返回首页查看其他信息。")];
    }
    var nodes = [];
    var actions = el("div", "actions");
    var back = button("back", function () { go(lastList); });
    back.textContent = "返回列表";
    actions.appendChild(back);
    nodes.push(actions);
    nodes.push(heading(item.title));

    if (item.lapsed) {
      var note = el("p", "lapsed-note");
      note.appendChild(el("strong", "", item.lapsed.label));
      if (item.lapsed.statement) { note.appendChild(document.createTextNode("：" + item.lapsed.statement)); }
      nodes.push(note);
    }

    var dl = el("dl", "meta");
    row(dl, "发布机构", item.agency);
    row(dl, "索引号", item.index_no);
    row(dl, "发文字号", item.doc_no);
    row(dl, "五公开", item.stage_label);
    row(dl, "领域", item.area_name);
    row(dl, "发布日期", item.published);
    if (item.version > 1) { row(dl, "更新时间", item.updated); }
    if (item.notice_period) {
      row(dl, "公示期", item.notice_period.start + " 至 " + item.notice_period.end +
        (underNotice(item) ? "（公示中）" : ""));
    }
    row(dl, "时效", item.validity);
    row(dl, "有效期至", item.valid_until);
    nodes.push(dl);

    if (item.version > 1 && item.corrections.length) {
      var box = el("section", "corrections");
      box.setAttribute("aria-labelledby", "corrections-title");
      var h = el("h3", "", "更正说明");
      h.id = "corrections-title";
      box.appendChild(h);
      var ul = el("ul");
      item.corrections.forEach(function (c) {
        ul.appendChild(el("li", "", "第 " + c.version + " 版（" + c.date + "）：" + c.reason));
      });
      box.appendChild(ul);
      nodes.push(box);
    }

    var body = el("div", "body");
    /* Sanitised when the bundle was rendered (markdown_html + nh3); nothing else is markup. */
    body.innerHTML = item.body_html;
    nodes.push(body);

    if (item.attachments.length) {
      var h3 = el("h3", "", "附件");
      nodes.push(h3);
      var files = el("ul", "files");
      item.attachments.forEach(function (a) {
        var li = el("li");
        li.appendChild(el("span", "file-name", a.name));
        li.appendChild(el("span", "file-size", "大小：" + a.size));
        li.appendChild(el("span", "file-hash", "SHA-256：" + a.sha256));
        files.appendChild(li);
      });
      nodes.push(files);
      nodes.push(el("p", "hint", item.qr ? "附件请扫描下方二维码在门户网站下载。" : "本终端不提供附件下载，请到门户网站或服务窗口查阅。"));
    }

    if (item.qr) {
      var qr = el("div", "qr");
      var img = el("img");
      img.src = item.qr;
      img.alt = "本信息在门户网站的二维码";
      img.width = 240;
      img.height = 240;
      qr.appendChild(img);
      var text = el("div");
      text.appendChild(el("p", "", "手机扫码查看原文"));
      text.appendChild(el("p", "url", item.portal_link));
      qr.appendChild(text);
      nodes.push(qr);
    }
    return nodes;
  }

  function route() {
    var hash = location.hash || "#/";
    var parts = hash.replace(/^#\/?/, "").split("/");
    var items = visible();
    var nodes;
    var home = false;
    if (parts[0] === "item" && parts[1]) {
      var found = null;
      items.forEach(function (i) { if (i.id === parts[1]) { found = i; } });
      nodes = itemScreen(found);
    } else if (parts[0] === "stage" && parts[1]) {
      var label = parts[1];
      K.stages.forEach(function (s) { if (s.code === parts[1]) { label = s.label; } });
      nodes = listScreen(label, items.filter(function (i) { return i.stage === parts[1]; }));
      lastList = hash;
    } else if (parts[0] === "area" && parts[1]) {
      var matching = items.filter(function (i) { return i.area === parts[1]; });
      nodes = listScreen(matching.length ? matching[0].area_name : "该领域", matching);
      lastList = hash;
    } else if (parts[0] === "all") {
      nodes = listScreen("全部信息", items);
      lastList = hash;
    } else {
      nodes = homeScreen(items);
      lastList = "#/";
      home = true;
    }
    while (screen.firstChild) { screen.removeChild(screen.firstChild); }
    nodes.forEach(function (n) { screen.appendChild(n); });
    homeButton.hidden = home;
    document.body.setAttribute("data-screen", home ? "home" : parts[0]);
    window.scrollTo(0, 0);
    var title = document.getElementById("screen-title");
    if (title) { title.focus({ preventScroll: true }); }
  }

  /* A LAN-served kiosk reloads itself when a new bundle is in place. */
  function checkForUpdate() {
    if (!/^https?:$/.test(location.protocol) || !window.fetch) { return; }
    window.fetch("manifest.json", { cache: "no-store" }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (manifest) {
      if (manifest && manifest.bundle && manifest.bundle !== K.bundle && isHome()) {
        location.reload();
      }
    }).catch(function () { /* offline: keep showing this bundle */ });
  }

  function isHome() {
    return document.body.getAttribute("data-screen") === "home";
  }

  function onIdle() {
    go("#/");
    checkForUpdate();
    poke();
  }

  function poke() {
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(onIdle, K.idle_seconds * 1000);
  }

  ["pointerdown", "touchstart", "keydown", "wheel", "scroll", "click"].forEach(function (type) {
    window.addEventListener(type, poke, { passive: true, capture: true });
  });
  homeButton.addEventListener("click", function () { go("#/"); });
  window.addEventListener("hashchange", route);
  /* A kiosk has no use for the context menu of a long press. */
  document.addEventListener("contextmenu", function (event) { event.preventDefault(); });
  route();
  poke();
}());
"""
