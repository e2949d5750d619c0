"""`syndicate demo`: a fresh home with the example items published, one revised, one withdrawn."""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Callable, Collection
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from importlib import resources
from pathlib import Path
from typing import Any

from syndicate.domain.content import ItemContent
from syndicate.engine import Engine
from syndicate.engine.deliveries import DeliveryState, RunSummary
from syndicate.errors import InputError, SyndicateError
from syndicate.itemfiles import expand_paths, in_publish_order, load_item_file
from syndicate.project import ENV_FILE_NAME, Project
from syndicate.testing import LoopbackServer
from syndicate.testing.fakes import (
    DingTalkRobotServer,
    WechatMpServer,
    WeComRobotServer,
)

__all__ = ["DEMO_ACTOR", "example_items_dir", "run_demo"]

DEMO_ACTOR = "demo"
# The example the demo revises, and the one it withdraws (by index number).
SECRET_VARIABLE = "SYNDICATE_DEMO_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret
OUTLETS = """
# Added by `syndicate demo`: a folder of JSON documents, and a signed webhook to a
# receiver the demo ran on 127.0.0.1 while it lasted.
[outlets.archive]
kind = "directory"
channel = "other"
path = "outlets/archive"

[outlets.county-platform]
kind = "webhook"
channel = "portal"
url = "{url}/syndicate"
secret = "${{{variable}}}"
# The demo's receiver is on 127.0.0.1; a real platform is not, so leave this out there.
allow_private_network = true

# The outlets people read: the portal site, its feeds, a service-hall kiosk bundle and
# printable notice-board sheets. Preview the first three with `syndicate serve`.
[outlets.portal]
kind = "portal"
channel = "portal"
path = "outlets/portal"
site_url = "{site}"
site_name = "临溪县人民政府"
site_id_code = "3301000001"
feeds_url = "{site}/feeds/feed.xml"

[outlets.feeds]
kind = "rss"
channel = "rss"
path = "outlets/portal/feeds"
site_url = "{site}"
site_name = "临溪县人民政府"

[outlets.kiosk-hall]
kind = "kiosk"
channel = "kiosk"
path = "outlets/kiosk-hall"
title = "临溪县政务服务中心 · 政务公开查询"
portal_url = "{site}"

[outlets.village-board]
kind = "noticeboard"
channel = "noticeboard"
path = "outlets/village-board"
portal_url = "{site}"
"""
SITE_URL = "https://www.linxi.gov.cn"
# Village and township groups: robots on loopback fakes of WeCom and DingTalk that the demo
# runs while it lasts (their keys are secrets, given only to this process).
GROUPS = """
[outlets.liutang-village]
kind = "wecom_group"
channel = "group"
webhook = "${{SYNDICATE_DEMO_WECOM_KEY}}"
base_url = "{wecom}"
portal_url = "{site}"
allow_private_network = true   # the demo's fake robot runs on 127.0.0.1

[outlets.qingshi-township]
kind = "dingtalk_group"
channel = "group"
access_token = "${{SYNDICATE_DEMO_DINGTALK_TOKEN}}"
secret = "${{SYNDICATE_DEMO_DINGTALK_SECRET}}"
base_url = "{ding}"
portal_url = "{site}"
allow_private_network = true
"""
# The county's WeChat official account, on a loopback fake of api.weixin.qq.com. WeChat
# confirms publishing asynchronously; the demo looks again after one second.
WECHAT = """
[outlets.linxi-wechat]
kind = "wechat_mp"
channel = "new_media"
app_id = "{app_id}"
app_secret = "${{SYNDICATE_DEMO_WECHAT_SECRET}}"
base_url = "{wechat}"
portal_url = "{site}"
allow_private_network = true   # the demo's fake WeChat API runs on 127.0.0.1

[delivery]
first_check_seconds = 1   # WeChat publishes in seconds to minutes; the demo's fake at once
"""
WECHAT_APP_ID = "wx5d3c0a7e91b24f68"
GROUP_KEYS = ("SYNDICATE_DEMO_WECOM_KEY", "SYNDICATE_DEMO_DINGTALK_TOKEN")
GROUP_SECRETS: dict[str, Callable[[], str]] = {
    "SYNDICATE_DEMO_WECOM_KEY": lambda: (
        f"{secrets.token_hex(4)}-demo-4c1e-9b7f-{secrets.token_hex(6)}"
    ),
    "SYNDICATE_DEMO_DINGTALK_TOKEN": lambda: secrets.token_hex(32),
    "SYNDICATE_DEMO_DINGTALK_SECRET": lambda: "SEC" + secrets.token_hex(32),
    "SYNDICATE_DEMO_WECHAT_SECRET": lambda: secrets.token_hex(16),
}
REVISED_INDEX_NO = "11330100MB0000005X/2026-00031"
WITHDRAWN_INDEX_NO = "11330100MB00000010/2026-00047"
REVISED_REF = f"临溪县青石镇人民政府/{REVISED_INDEX_NO}"


def example_items_dir() -> Path:
    """The example item files: inside the wheel, or in the source tree when editable."""
    packaged = Path(str(resources.files("syndicate"))) / "_examples" / "items"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "examples" / "items"


def _fresh_home(home: Path | None) -> Path:
    if home is not None:
        if home.exists() and (not home.is_dir() or any(home.iterdir())):
            raise InputError(
                f"--home {home}: not empty; the demo needs a new or empty directory"
            )
        return home
    candidate = Path("syndicate-demo")
    number = 1
    while candidate.exists():
        number += 1
        candidate = Path(f"syndicate-demo-{number}")
    return candidate


def _revision(content: ItemContent) -> ItemContent:
    data = content.model_dump()
    data["body"] = content.body.replace("| 5 | 王*明 | 6.20 |", "| 5 | 王*明 | 6.50 |")
    if data["body"] == content.body:  # the example changed; fail loudly, not silently
        raise RuntimeError("demo revision no longer applies to the example item")
    return ItemContent.model_validate(data)


def run_demo(home: Path | None, *, echo: Callable[[str], None]) -> Path:
    """Build the demo home and tell the operator what happened. Returns the home."""
    home = _fresh_home(home)
    received: list[str] = []

    def receive(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        received.append(request.headers.get("webhook-id", ""))
        return 204, {}, b""

    # The secrets of the demo's outlets: made up now (or taken from the environment)
    # and kept in the home's syndicate.env (owner-only), never in syndicate.toml, the
    # log or the output, so every later command in the demo home can load its outlets.
    values = {
        SECRET_VARIABLE: os.environ.get(SECRET_VARIABLE)
        or "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    }
    for variable, make in GROUP_SECRETS.items():
        values[variable] = os.environ.get(variable) or make()
    with (
        LoopbackServer(receive) as receiver,
        WeComRobotServer(keys=[values["SYNDICATE_DEMO_WECOM_KEY"]]) as wecom,
        DingTalkRobotServer() as ding,
        WechatMpServer(
            app_id=WECHAT_APP_ID,
            secret=values["SYNDICATE_DEMO_WECHAT_SECRET"],
            publish_polls=0,
        ) as wechat,
    ):
        ding.add_robot(
            values["SYNDICATE_DEMO_DINGTALK_TOKEN"],
            secret=values["SYNDICATE_DEMO_DINGTALK_SECRET"],
        )
        project = Engine.init(home).project
        _write_env_file(project.home / ENV_FILE_NAME, values)
        with project.config_path.open("a", encoding="utf-8") as config:
            config.write(
                OUTLETS.format(
                    url=receiver.url, variable=SECRET_VARIABLE, site=SITE_URL
                )
            )
            config.write(GROUPS.format(wecom=wecom.url, ding=ding.url, site=SITE_URL))
            config.write(
                WECHAT.format(app_id=WECHAT_APP_ID, wechat=wechat.url, site=SITE_URL)
            )
        project = Project.load(home)
        with Engine(project) as engine:
            _publish_examples(engine, echo)
            summary = _deliver(engine, echo)
            unserved = _unserved(engine)
        echo(
            f"\ndelivered: {summary.outcomes.get('succeeded', 0)} deliveries succeeded, "
            f"{summary.outcomes.get('superseded', 0)} superseded by a newer version"
        )
        outlets = home / "outlets"
        articles = wechat.published()
        groups = {
            name: (kind, messages)
            for name, kind, messages in (
                ("liutang-village", "WeCom", wecom.messages(values[GROUP_KEYS[0]])),
                ("qingshi-township", "DingTalk", ding.messages(values[GROUP_KEYS[1]])),
            )
        }
        lines = {
            "archive": f"{len(list((outlets / 'archive').glob('*.json')))} JSON "
            "documents in outlets/archive (the withdrawn item removed)",
            "county-platform": f"{len(received)} signed POSTs received by the demo's "
            f"webhook receiver at {receiver.url}",
            "portal": f"{len(list((outlets / 'portal').rglob('*.html')))} pages in "
            "outlets/portal (open index.html)",
            "feeds": "RSS and Atom in outlets/portal/feeds "
            f"({len(list((outlets / 'portal' / 'feeds').rglob('*.xml')))} RSS files)",
            "kiosk-hall": "a touch-screen bundle in outlets/kiosk-hall (index.html)",
            **{
                name: f"{len(messages)} messages received by the demo's {kind} robot, "
                f"e.g. “{_first_line(messages[0]) if messages else '-'}”"
                for name, (kind, messages) in groups.items()
            },
            "linxi-wechat": f"{len(articles)} articles published by the demo's WeChat "
            f"API ({len(wechat.calls('freepublish/delete'))} deleted on withdrawal), "
            f"e.g. “{articles[-1]['articles'][0]['title'][:40] if articles else '-'}”",
            "village-board": f"{len(list((outlets / 'village-board').glob('*.pdf')))} "
            "A4 PDF sheets in outlets/village-board, awaiting attestation",
        }
        for name, line in lines.items():
            if name in unserved:
                line = f"not served: {unserved[name]}"
            echo(f"  {name:<16} {line}")
        with Engine(project) as engine:
            _audit(engine, echo, skip=set(unserved))
    prefix = f"syndicate --home {home}"
    echo("\nTry:")
    echo(f"  {prefix} items list")
    echo(f"  {prefix} items show {REVISED_REF}")
    echo(f"  {prefix} log")
    echo(f"  {prefix} status")
    echo(f"  {prefix} audit trail {REVISED_REF}")
    echo(f"  {prefix} audit verify")
    echo(f"  {prefix} audit consistency")
    echo(f"  {prefix} audit export audit-export   # for an auditor, verified offline")
    echo(
        f"  {prefix} serve                       # the portal at http://127.0.0.1:8000/"
    )
    echo(f"  {prefix} serve --outlet kiosk-hall   # the kiosk bundle")
    echo(
        f"  {prefix} attest DELIVERY --by 张三     # after posting a sheet (ids: status)"
    )
    echo(
        "(The webhook receiver, the group robots and the WeChat API stopped with the "
        "demo. The secrets it made up for them are in "
        f"{home / ENV_FILE_NAME} (readable by you only), which syndicate reads, so "
        "`sync` runs in this home as it is: new deliveries to the gone servers will be "
        "recorded as failures and retried — the engine at work.)"
    )
    return project.home


def _write_env_file(path: Path, values: dict[str, str]) -> None:
    """The demo's secrets, for the home's later commands: created owner-only."""
    lines = [
        "# Secrets `syndicate demo` made up for its outlets (syndicate.toml refers to",
        "# them as ${NAME}). The environment wins over this file. Keep it private.",
        *(f"{key}={value}" for key, value in values.items()),
    ]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _first_line(message: dict[str, Any]) -> str:
    body = message.get("markdown") or message.get("text") or {}
    text = str(body.get("content") or body.get("text") or "")
    return text.split("\n", 1)[0].lstrip("# ")[:40]


def _publish_examples(engine: Engine, echo: Callable[[str], None]) -> None:
    project = engine.project
    echo(f"demo home: {project.home}")
    echo(f"event store: {project.store.describe()}")
    files = expand_paths([example_items_dir()])
    loaded = [load_item_file(path) for path in files]
    # Policies first, so the interpretation can name its policy.
    loaded = in_publish_order(loaded)
    log = engine.items
    echo(f"\npublishing {len(loaded)} example items as {DEMO_ACTOR!r}:")
    for item in loaded:
        change = log.publish(
            item.content, actor=DEMO_ACTOR, attachments=item.attachments
        )
        echo(f"  published  {str(change.item_id)[:8]}  {item.content.title}")
    revised = next(i for i in loaded if i.content.index_no == REVISED_INDEX_NO)
    change = log.revise(
        revised.content.id,
        _revision(revised.content),
        reason="更正第5户补贴面积（6.20亩更正为6.50亩）",
        actor=DEMO_ACTOR,
    )
    echo(f"\nrevised    {str(change.item_id)[:8]}  {revised.content.title}")
    echo(f"           now version {change.version}; the reason is kept as 更正说明")
    withdrawn = next(i for i in loaded if i.content.index_no == WITHDRAWN_INDEX_NO)
    change = log.withdraw(
        withdrawn.content.id,
        reason="招聘会因场馆检修延期举办",
        public_note="原定4月18日举办的招聘会延期，新的时间另行通知。",
        actor=DEMO_ACTOR,
    )
    echo(f"withdrew   {str(change.item_id)[:8]}  {withdrawn.content.title}")
    echo(f"\nthe items log holds {log.position()} events")


def _deliver(engine: Engine, echo: Callable[[str], None]) -> RunSummary:
    summary = RunSummary(planned_events=engine.plan())
    # The engine's worker: the home's lease and backoff, whose first check with an
    # outlet that confirms later is `[delivery] first_check_seconds` (1 s here).
    worker = engine.worker("demo")
    try:
        worker.run_until_idle(summary)
        # WeChat accepted the articles and publishes them in the background: look
        # again when the first check is due (a few times at most).
        for _ in range(5):
            waiting = [
                d
                for d in worker.due(worker.clock() + timedelta(minutes=1))
                if d.state is DeliveryState.SUBMITTED
            ]
            if not waiting:
                break
            echo(f"waiting for WeChat to confirm {len(waiting)} submitted article(s)…")
            wait = min(d.due_at for d in waiting) - worker.clock()
            time.sleep(max(wait.total_seconds(), 0) + 0.05)
            worker.run_until_idle(summary)
        return summary
    finally:
        worker.close()


class DemoFailed(SyndicateError):
    """The demo's own end-of-run checks failed (say, a font a sheet needs is missing)."""


# Failure codes meaning the machine lacks a system library an outlet needs (WeasyPrint
# without Pango for notice-board sheets): the demo goes on without that outlet.
SYSTEM_LIBRARY_CODES = frozenset({"system-library", "weasyprint"})
_DONE_OR_WAITING = {
    DeliveryState.SUCCEEDED,
    DeliveryState.SUPERSEDED,
    DeliveryState.AWAITING_ATTESTATION,
    DeliveryState.ATTESTED,
}


def _unserved(engine: Engine) -> dict[str, str]:
    """Outlets the demo could not serve because a system library is missing, with the
    first line of the error. `DemoFailed` if any delivery failed for another reason."""
    view = engine.deliveries.all_deliveries()
    unserved: dict[str, str] = {}
    others: dict[str, tuple[int, str]] = {}
    for d in view.values():
        if d.state in _DONE_OR_WAITING:
            continue
        failed = d.last_failure
        first = (
            (failed.message if failed else d.last_error or d.state.value)
            .strip()
            .splitlines()[0]
        )
        if failed is not None and failed.code in SYSTEM_LIBRARY_CODES:
            unserved.setdefault(d.outlet, first)
        else:
            count, _ = others.get(d.outlet, (0, first))
            others[d.outlet] = (count + 1, first)
    if others:
        name, (count, first) = sorted(others.items())[0]
        raise DemoFailed(
            f"the demo could not deliver {count} item(s) to its outlet {name} "
            f"({first}); see `syndicate --home {engine.project.home} status`"
        )
    return unserved


def _audit(
    engine: Engine, echo: Callable[[str], None], *, skip: Collection[str] = ()
) -> None:
    """End like a real run: sign a checkpoint, verify the whole log against it."""
    echo("\naudit:")
    echo("  " + engine.record_checkpoint(trigger="demo", actor=DEMO_ACTOR))
    verdict = engine.verify_log()
    if not verdict.ok:
        raise DemoFailed(
            "the demo's own log does not verify: "
            + "; ".join(f"{f.kind}: {f.message}" for f in verdict.findings)
        )
    echo(
        f"  verify: OK, {verdict.events} events in both logs match the signed "
        f"checkpoint (key {verdict.key}, in keys/audit-signing.pub)"
    )
    rows = [r for r in engine.consistency(exclude=skip).rows if r.outlet not in skip]
    bad = [r for r in rows if not r.ok]
    if bad:
        raise DemoFailed(
            "the demo's outlets do not show what the log says: "
            + "; ".join(
                f"{r.outlet} {r.ref}: {r.verdict} {r.detail}".strip() for r in bad
            )
        )
    read = sum(r.verdict == "in sync" for r in rows)
    waiting = sum(r.verdict == "awaiting attestation" for r in rows)
    echo(
        f"  consistency: OK, {read} item-outlet pairs read back and in sync, "
        f"{waiting} sheet files right and awaiting attestation, "
        f"{len(rows) - read - waiting} as recorded in the log (outlets that cannot "
        "be read); every file of the portal, feeds, kiosk and archive folders equals, "
        "byte for byte, what the log says they hold"
    )
