"""`syndicate demo`: a fresh home with the example items reviewed and released, one
revised, one withdrawn, and an urgent release.

The demo home reviews before release (先审后发) at two levels with named reviewers; the
demo plays the author and both reviewers, so every step of review shows in its log: an
item approved at both levels, one returned with a comment and revised, a policy and its
解读 released together, an urgent release approved afterwards at the first level.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from importlib import resources
from pathlib import Path
from typing import Any

from syndicate.application import Change, Disclosures
from syndicate.attachments import PreparedAttachment
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.catalogue import Stage
from syndicate.domain.content import ItemContent
from syndicate.domain.guard import GuardRefused
from syndicate.domain.pii import id_check_digit
from syndicate.engine import Engine
from syndicate.engine.attest import Attestation
from syndicate.engine.deliveries import DeliveryState, RunSummary
from syndicate.errors import InputError, SyndicateError
from syndicate.guardfiles import check_paths, write_fixed
from syndicate.itemfiles import (
    LoadedItem,
    expand_paths,
    in_publish_order,
    load_item_file,
)
from syndicate.project import ENV_FILE_NAME, Project
from syndicate.testing import LoopbackServer
from syndicate.testing.fakes import (
    DingTalkRobotServer,
    WechatMpServer,
    WeComRobotServer,
)
from syndicate.testing.weibo import WeiboServer

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
# Up to 4 items sent at once (a webhook keeps no state between sends; real receivers
# take 100-300 ms to answer). docs/delivery.md, "Several at once".
concurrency = 4

# The office's review desk: a signed webhook into the portal backend's review screen
# (the demo's receiver again). Internal, and a review queue: it gets the review notices
# (待审核 / 已退回 / 已发布 / 紧急发布) and never an item.
[outlets.review-desk]
kind = "webhook"
url = "{url}/review"
secret = "${{{variable}}}"
internal = true
review_queue = true
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
# The footer an inspector checks (made-up numbers: this is a demo county).
host = "临溪县人民政府办公室"
contact = "联系电话：0571-00000000　地址：临溪县城关镇人民路1号"
icp = "浙ICP备00000001号"
police_record = "浙公网安备33000000000001号"
report_error_url = "auto"
apply_url = "{site}/ysqgk/"

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
# Village WeChat groups (村民微信群) are personal groups no robot can post in: a 网格员
# forwards each notice by hand. The township lists its groups in one table; each group is
# an outlet whose deliveries wait for the 网格员's confirmation (`syndicate attest`). The
# 网格员s are told through their work group's robot (the demo's fake WeCom). Also the
# county's 政务微博, on a loopback fake of api.weibo.com.
RELAY = """
[outlets.qingshi-relay]
kind = "wechat_relay"
channel = "group"
portal_url = "{site}"
folder = "outlets/relay"                  # share cards, texts, printable task sheets
notify = "wecom"
notify_webhook = "${{SYNDICATE_DEMO_GRID_KEY}}"
notify_base_url = "{wecom}"
allow_private_network = true
digest_minutes = 30                       # a burst of items is one task per group

[[outlets.qingshi-relay.each]]
id = "liutang"
group = "柳塘村村民群"
relayer = "网格员 王芳"

[[outlets.qingshi-relay.each]]
id = "dongzhuang"
group = "东庄村村民群"
relayer = "网格员 李强"

[outlets.linxi-weibo]
kind = "weibo"
channel = "new_media"
access_token = "${{SYNDICATE_DEMO_WEIBO_TOKEN}}"
safe_domain = "www.linxi.gov.cn"
portal_url = "{site}"
api_base = "{weibo}"
allow_private_network = true
"""
RELAY_CONFIRMED, RELAY_WAITING = "qingshi-relay-liutang", "qingshi-relay-dongzhuang"
# The service hall's screens (an LCD page, an LED text file) and the county's 政府公报,
# which compiles the documents marked for it into numbered monthly issues. It watches
# every change (no channel), so last month's issue is compiled by this month's first.
SCREEN_AND_GAZETTE = """
[outlets.screen-hall]
kind = "screen"
channel = "kiosk"          # what the hall's kiosk shows (`screen`: items marked 电子屏)
path = "outlets/screen-hall"
title = "临溪县政务服务中心 · 政务公开"
portal_url = "{site}"

[outlets.gazette]
kind = "gazette"
path = "outlets/gazette"
title = "临溪县人民政府公报"
publisher = "临溪县人民政府办公室"
portal_url = "{site}"
"""
# Two 行政规范性文件 released last month, marked for the 政府公报 (政府网站、政府公报).
GAZETTE_DOCUMENTS = (
    (
        "临溪县人民政府办公室",
        "11330100MB00000029/2026-00061",
        "临政办规〔2026〕5号",
        "临溪县人民政府办公室关于印发《临溪县农村集体经济组织财务公开办法》的通知",
        "扶贫",
        "第一条 为规范农村集体经济组织财务公开，保障农民群众的知情权、参与权和监督权，"
        "制定本办法。\n\n第二条 村级财务收支情况每季度公开一次，重大事项随时公开。\n\n"
        "第三条 本办法自印发之日起施行，有效期五年。",
    ),
    (
        "临溪县民政局",
        "11330100MB0000006R/2026-00064",
        "临民规〔2026〕2号",
        "临溪县民政局关于进一步规范临时救助工作的实施意见",
        "社会救助",
        "一、对象范围：因突发性、紧迫性、临时性原因导致基本生活陷入困境的家庭或个人。"
        "\n\n二、救助标准：一般不超过当地月最低生活保障标准的6倍。\n\n"
        "三、本意见自印发之日起施行。",
    ),
)
WECHAT_APP_ID = "wx5d3c0a7e91b24f68"
GROUP_KEYS = ("SYNDICATE_DEMO_WECOM_KEY", "SYNDICATE_DEMO_DINGTALK_TOKEN")
GROUP_SECRETS: dict[str, Callable[[], str]] = {
    "SYNDICATE_DEMO_WECOM_KEY": lambda: (
        f"{secrets.token_hex(4)}-demo-4c1e-9b7f-{secrets.token_hex(6)}"
    ),
    "SYNDICATE_DEMO_DINGTALK_TOKEN": lambda: secrets.token_hex(32),
    "SYNDICATE_DEMO_DINGTALK_SECRET": lambda: "SEC" + secrets.token_hex(32),
    "SYNDICATE_DEMO_WECHAT_SECRET": lambda: secrets.token_hex(16),
    "SYNDICATE_DEMO_GRID_KEY": lambda: (
        f"{secrets.token_hex(4)}-grid-4c1e-9b7f-{secrets.token_hex(6)}"
    ),
    "SYNDICATE_DEMO_WEIBO_TOKEN": lambda: "2.00" + secrets.token_hex(15),
}
# 先审后发 in the demo home: two levels in order, each with its named reviewer. The
# demo is the author of every item and cannot approve its own submissions.
REVIEW = """\
[review]
# Added by `syndicate demo`: every new item, revision and withdrawal is approved at
# both levels, in order, by the people named below, before it reaches a public outlet.
levels = ["科室初审", "分管领导审签"]
# A policy of these categories is never released without its 解读 (released together).
requires_interpretation = ["城乡建设"]
urgent_review_hours = 24

[review.reviewers]
"科室初审" = ["政务公开办 李静"]
"分管领导审签" = ["副县长 陈明"]
"""
FIRST_LEVEL, SECOND_LEVEL = "科室初审", "分管领导审签"
REVIEWERS = {FIRST_LEVEL: "政务公开办 李静", SECOND_LEVEL: "副县长 陈明"}
# The example returned to its author at the first level, and what the author changes.
RETURNED_INDEX_NO = "11330100MB0000006R/2026-00019"
RETURN_COMMENT = "监督电话未注明受理时间，请补充后重新提交。"
RETURNED_REF = f"临溪县民政局/{RETURNED_INDEX_NO}"
# The item released at once (汛情 does not wait for review), approved afterwards.
URGENT_REASON = "汛情预警：青石河水位超警戒，需立即告知沿河群众"
URGENT_AGENCY, URGENT_INDEX_NO = (
    "临溪县防汛抗旱指挥部办公室",
    "11330100MB0000013X/2026-00027",
)
URGENT_REF = f"{URGENT_AGENCY}/{URGENT_INDEX_NO}"
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


def _returned_revision(content: ItemContent) -> ItemContent:
    """What the author changes after the return: the hours of the supervision line."""
    data = content.model_dump()
    data["body"] = content.body.replace(
        "监督电话：0571-00000000", "监督电话：0571-00000000（工作日8:30—17:00）"
    )
    if data["body"] == content.body:  # the example changed; fail loudly, not silently
        raise RuntimeError("demo return no longer applies to the example item")
    return ItemContent.model_validate(data)


def _urgent_item(today: date) -> ItemContent:
    """A flood warning: released at once, reviewed afterwards."""
    return ItemContent(
        agency=URGENT_AGENCY,
        index_no=URGENT_INDEX_NO,
        title="临溪县防汛抗旱指挥部关于启动防汛Ⅳ级应急响应的通知",
        body=(
            "受持续强降雨影响，青石河临溪水文站水位已超过警戒水位0.6米，"
            "预计未来24小时仍有大到暴雨。县防汛抗旱指挥部决定即时启动防汛Ⅳ级应急响应。\n\n"
            "- 沿河低洼地带群众请听从村（社区）安排，及时转移到安置点；\n"
            "- 请勿在河道、山塘、水库周边逗留，切勿涉水过河；\n"
            "- 遇险情请拨打县防汛值班电话0571-00000000。"
        ),
        area="救灾",
        stage=Stage.EXECUTION,
        category="应急管理",
        basis="《中华人民共和国防洪法》第四十五条；《临溪县防汛防台应急预案》",
        formed_on=today,
    )


def run_demo(home: Path | None, *, echo: Callable[[str], None]) -> Path:
    """Build the demo home and tell the operator what happened. Returns the home."""
    home = _fresh_home(home)
    received: list[str] = []  # the county platform's deliveries (webhook ids)
    notices: list[dict[str, Any]] = []  # the review desk's notices

    def receive(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if request.path.endswith("/review"):
            notices.append(json.loads(body)["data"])
        else:
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
        WeComRobotServer(
            keys=[values["SYNDICATE_DEMO_WECOM_KEY"], values["SYNDICATE_DEMO_GRID_KEY"]]
        ) as wecom,
        WeiboServer(tokens=[values["SYNDICATE_DEMO_WEIBO_TOKEN"]]) as weibo,
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
        _configure_review(project.config_path)
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
            config.write(RELAY.format(wecom=wecom.url, weibo=weibo.url, site=SITE_URL))
            config.write(SCREEN_AND_GAZETTE.format(site=SITE_URL))
        project = Project.load(home)
        summary = RunSummary()
        _gazette_last_month(project, echo, summary)
        with Engine(project) as engine:
            _import_catalogue(engine, echo)
            _publish_examples(engine, echo, lambda: _deliver(engine, echo, summary))
            _deliver(engine, echo, summary)
            _guard_and_erase(engine, echo, lambda: _deliver(engine, echo, summary))
            relayed = _confirm_relay(engine, echo)
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
            "review-desk": f"{len(notices)} review notices received there "
            f"({_stages(notices)}), e.g. “{_returned_notice(notices)}”",
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
            f"API ({len(wechat.calls('freepublish/delete'))} deleted on withdrawal or "
            "erasure), "
            f"e.g. “{articles[-1]['articles'][0]['title'][:40] if articles else '-'}”",
            "village-board": f"{len(list((outlets / 'village-board').glob('*.pdf')))} "
            "A4 PDF sheets in outlets/village-board, awaiting attestation",
            RELAY_CONFIRMED: f"{relayed[0]} items forwarded by 网格员 王芳 and "
            "confirmed (share cards, texts, task sheets in outlets/relay/柳塘村村民群)",
            RELAY_WAITING: f"{relayed[1]} items waiting for 网格员 李强 to forward them "
            "(`status` says how long; a worker reminds him after a day)",
            "screen-hall": "an LCD page (outlets/screen-hall/lcd/index.html) and an LED "
            "text file (led/notice.txt, GB18030) for the service hall's screens",
            "gazette": _gazette_line(outlets / "gazette"),
            "linxi-weibo": f"{len(weibo.posts)} posts on the demo's Weibo account"
            + (
                f", e.g. “{next(iter(weibo.posts.values())).text[:30]}…”"
                if weibo.posts
                else ""
            ),
        }
        for name, line in lines.items():
            if name in unserved:
                line = f"not served: {unserved[name]}"
            echo(f"  {name:<24} {line}")
        with Engine(project) as engine:
            _audit(engine, echo, skip=set(unserved))
    prefix = f"syndicate --home {home}"
    echo("\nTry:")
    echo(f"  {prefix} items list")
    echo(f"  {prefix} items show {REVISED_REF}")
    echo(f"  {prefix} review list --overdue   # the urgent release, awaiting approval")
    echo(f"  {prefix} review show {URGENT_REF}")
    echo(f"  {prefix} audit trail {RETURNED_REF}   # returned, revised, approved")
    echo(f"  {prefix} log")
    echo(f"  {prefix} status")
    echo(f"  {prefix} audit trail {REVISED_REF}")
    echo(f"  {prefix} audit verify")
    echo(f"  {prefix} audit consistency")
    echo(
        f"  {prefix} audit coverage              # each 事项 of the 标准目录, blanks first"
    )
    echo(
        f"  {prefix} audit inspect               # the 19号 indicators a machine checks"
    )
    echo(f"  {prefix} audit export audit-export   # for an auditor, verified offline")
    echo(
        f"  {prefix} serve                       # the portal at http://127.0.0.1:8000/"
    )
    echo(f"  {prefix} serve --outlet kiosk-hall   # the kiosk bundle")
    echo(f"  {prefix} serve --outlet screen-hall  # the hall's screen: /lcd/index.html")
    echo(f"  {prefix} serve --outlet gazette      # the 政府公报 and its 公报数据库")
    echo(
        f"  {prefix} attest DELIVERY --by 张三     # after posting a sheet (ids: status)"
    )
    echo(
        f"  {prefix} attest --outlet {RELAY_WAITING} --item ITEM --by 网格员李强"
        "   # after forwarding"
    )
    echo(
        "(The webhook receiver, the group robots and the WeChat API stopped with the "
        "demo. The secrets it made up for them are in "
        f"{home / ENV_FILE_NAME} (readable by you only), which syndicate reads, so "
        "`sync` runs in this home as it is: new deliveries to the gone servers will be "
        "recorded as failures and retried — the engine at work.)"
    )
    return project.home


def _configure_review(path: Path) -> None:
    """Replace the one review level `init` wrote with the demo's two, and reviewers."""
    text = path.read_text("utf-8")
    start = text.find("[review]\n")
    level = text.find('levels = ["审核"]\n', start)
    if start < 0 or level < 0:  # `init` changed; fail loudly, not silently
        raise RuntimeError("the demo no longer finds [review] levels in syndicate.toml")
    end = level + len('levels = ["审核"]\n')
    path.write_text(text[:start] + REVIEW + text[end:], "utf-8")


def _stages(notices: list[dict[str, Any]]) -> str:
    """`12 待审核, 1 已退回, …`: how many notices of each stage, in order of first."""
    counts: dict[str, int] = {}
    for notice in notices:
        label = str(notice.get("label", notice.get("stage", "?")))
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "none"


def _returned_notice(notices: list[dict[str, Any]]) -> str:
    """The 已退回 notice the review desk got, in short (the first notice if none)."""
    notice = next((n for n in notices if n.get("stage") == "returned"), None)
    notice = notice or (notices[0] if notices else None)
    if notice is None:
        return "-"
    comment = f"：{notice['comment']}" if notice.get("comment") else ""
    return f"【{notice['label']}】{str(notice['title'])[:20]}…{comment}"


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


# The county's standard catalogue (标准目录), a small one: what the demo's items
# fulfil, and two 事项 with nothing yet (what `audit coverage` calls blanks).
CATALOGUE_FILE = "临溪县基层政务公开标准目录.csv"
_ALL = "政府网站、RSS订阅、政务新媒体、自助终端、村(居)民群、政务公开栏"
DEMO_CATALOGUE = "\n".join(
    [
        "事项编码,一级事项,二级事项,公开内容,公开依据,公开时限,公开主体,"
        "公开渠道和载体,公开对象,公开方式,公开层级,事项类别,监督投诉",
        "SHJZ-01,社会救助,最低生活保障,审批结果,《社会救助暂行办法》第十一条,"
        f"信息形成或变更之日起10个工作日内,临溪县民政局,{_ALL},全社会,主动公开,县级,"
        "结果公开,临溪县民政局 0571-00000000",
        "SHJZ-02,社会救助,最低生活保障,资金发放,《社会救助暂行办法》第十二条,"
        "每季度更新,临溪县民政局,政府网站、政务公开栏,全社会,主动公开,县级,结果公开,"
        "临溪县民政局 0571-00000000",
        "SHJZ-03,社会救助,临时救助,救助对象公示,《社会救助暂行办法》第四十八条,"
        "信息形成或变更之日起10个工作日内,临溪县民政局,政府网站、政务公开栏,全社会,"
        "主动公开,县级,结果公开,临溪县民政局 0571-00000000",
        "YWJY-01,义务教育,政策文件,工作要点,《中华人民共和国政府信息公开条例》第二十条,"
        f"信息形成或变更之日起20个工作日内,临溪县教育局,{_ALL},全社会,主动公开,县级,"
        "决策公开,",
        "NCWF-01,农村危房改造,政策文件,实施方案,"
        "《中华人民共和国政府信息公开条例》第二十条,信息形成或变更之日起20个工作日内,"
        f"临溪县住房和城乡建设局,{_ALL},全社会,主动公开,县级,决策公开,",
        "GDBH-01,耕地保护,地力保护补贴,发放对象及面积公示,"
        "《耕地地力保护补贴资金管理办法》,信息形成或变更之日起10个工作日内,"
        "临溪县青石镇人民政府,政府网站、RSS订阅、自助终端、村(居)民群、政务公开栏,"
        "特定群体,主动公开,乡级,结果公开,青石镇人民政府党政办 0571-00000001",
    ]
)
# The examples that fulfil a 事项 (by index number), and what the 年报 counts them as.
FULFILS = {
    "11330100MB0000006R/2026-00019": ("SHJZ-01", None),
    "11330100MB00000028/2026-00011": ("YWJY-01", None),
    "11330100MB0000003P/2026-00008": ("NCWF-01", "normative"),
    "11330100MB0000005X/2026-00031": ("GDBH-01", None),
    "11330100MB0000011K/2026-00023": (None, "licence"),
}
GUIDE_INDEX_NO = "11330100MB00000001/2026-00100"
CATALOGUE_INDEX_NO = "11330100MB00000001/2026-00101"


def _import_catalogue(engine: Engine, echo: Callable[[str], None]) -> None:
    """The office's catalogue, imported as its first version."""
    path = engine.project.home / CATALOGUE_FILE
    path.write_text(DEMO_CATALOGUE + "\n", encoding="utf-8")
    result = engine.import_catalogue(path, actor=DEMO_ACTOR)
    echo(
        f"\ncatalogue  {CATALOGUE_FILE}: version {result.version.version}, "
        f"{len(result.version.entries)} 事项 (标准目录); the examples name the 事项 "
        "they fulfil and take its 时限 and 监督投诉"
    )


def _fulfilling(item: LoadedItem) -> LoadedItem:
    code, doc_type = FULFILS.get(item.content.index_no, (None, None))
    update: dict[str, Any] = {}
    if code is not None:
        update["catalogue_item"] = code
    if doc_type is not None:
        update["doc_type"] = doc_type
    if not update:
        return item
    return replace(item, content=item.content.model_copy(update=update))


def _xxgk_pages(engine: Engine, echo: Callable[[str], None]) -> None:
    """The office's own pages of the 政府信息公开 section: the 指南, and the
    catalogue itself (向社会公开) as a page with the catalogue as a CSV attachment;
    both reviewed like any item."""
    log = engine.items
    today = datetime.now(CHINA_TZ).date().isoformat()
    common = {
        "agency": "临溪县人民政府办公室",
        "area": "social_assistance",
        "stage": "服务公开",
        "basis": "《中华人民共和国政府信息公开条例》第十二条",
        "formed_on": today,
        "channels": ["portal"],
    }
    guide = ItemContent.model_validate(
        {
            **common,
            "index_no": GUIDE_INDEX_NO,
            "title": "临溪县人民政府政府信息公开指南",
            "page_kind": "guide",
            "body": (
                "为了更好地提供政府信息公开服务，根据《中华人民共和国政府信息公开条例》"
                "，编制本指南。\n\n一、主动公开：主动公开的政府信息在本网站“政府信息"
                "公开”专栏发布，自信息形成或者变更之日起20个工作日内公开。\n\n二、"
                "依申请公开：申请人可通过本网站依申请公开栏目、信函或当面提交申请。\n\n"
                "三、监督和救济：公民、法人或者其他组织认为行政机关在政府信息公开工作"
                "中侵犯其合法权益的，可以向上一级行政机关或者政府信息公开工作主管部门"
                "投诉、举报，也可以依法申请行政复议或者提起行政诉讼。"
            ),
        }
    )
    csv_bytes = ("\ufeff" + DEMO_CATALOGUE + "\n").encode("utf-8")
    attachment = PreparedAttachment.from_bytes(
        csv_bytes, name="临溪县基层政务公开标准目录.csv", media_type="text/csv"
    )
    catalogue = ItemContent.model_validate(
        {
            **common,
            "index_no": CATALOGUE_INDEX_NO,
            "title": "临溪县基层政务公开标准目录",
            "page_kind": "catalogue",
            "body": "临溪县基层政务公开标准目录见下表，目录实行动态调整。",
            "attachments": [attachment.meta.model_dump()],
        }
    )
    for content, attachments in ((guide, ()), (catalogue, (attachment,))):
        log.publish(content, actor=DEMO_ACTOR, attachments=attachments)
        change = _approve(log, content.ref)
        echo(f"  released   {_short(change)}  {content.title}")


def _publish_examples(
    engine: Engine, echo: Callable[[str], None], deliver: Callable[[], object]
) -> None:
    """Submit the examples, review them (`deliver` after each step, so the review desk
    gets each notice as it comes), revise one, withdraw one, release one urgently."""
    project = engine.project
    echo(f"demo home: {project.home}")
    echo(f"event store: {project.store.describe()}")
    echo(
        f"review: 先审后发 at two levels, {FIRST_LEVEL} ({REVIEWERS[FIRST_LEVEL]}) then "
        f"{SECOND_LEVEL} ({REVIEWERS[SECOND_LEVEL]}), in [review] of syndicate.toml"
    )
    files = expand_paths([example_items_dir()])
    loaded = [load_item_file(path) for path in files]
    # Policies first, so the interpretation can name its policy.
    loaded = in_publish_order(loaded)
    now = datetime.now(CHINA_TZ)
    loaded = [_fulfilling(_around(item, now.date())) for item in loaded]
    log = engine.items
    echo(f"\nsubmitting {len(loaded)} example items for review as {DEMO_ACTOR!r}:")
    for item in loaded:
        scheduled = item.content.index_no == SCHEDULED_INDEX_NO
        change = log.publish(
            item.content,
            actor=DEMO_ACTOR,
            attachments=item.attachments,
            release_at=now + timedelta(hours=2) if scheduled else None,
        )
        echo(f"  submitted  {_short(change)}  {item.content.title}")
        if change.release_at is not None:
            echo(
                f"             待发布: released at "
                f"{change.release_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} once approved"
                + (" (its 公示期 starts then)" if not scheduled else " (定时发布)")
            )
    deliver()  # the review desk hears of each: 待审核
    echo("\nreviewing them (each reviewer reads the version and approves its hash):")
    returned = _return_one(log, loaded, echo)
    deliver()  # 已退回, with the comment
    change = log.revise(
        returned.ref,
        _returned_revision(returned),
        reason="按科室初审意见补充监督电话受理时间",
        actor=DEMO_ACTOR,
    )
    echo(
        f"             the author revised it as asked: version {change.version}, "
        "submitted for review again"
    )
    _review_examples(log, loaded, echo)
    _revise_and_withdraw(log, loaded, echo)
    _repeal_one(log, loaded, echo)
    echo("\nthe 政府信息公开 section's own pages:")
    _xxgk_pages(engine, echo)
    urgent = _urgent_item(datetime.now(CHINA_TZ).date())
    change = log.publish(urgent, actor=DEMO_ACTOR, urgent=URGENT_REASON)
    echo(f"\nurgent     {_short(change)}  {urgent.title}")
    echo(f"           released at once, without review: “{URGENT_REASON}”")
    detail = log.review(change.ref)
    log.approve_afterwards(
        change.ref,
        level=FIRST_LEVEL,
        content_hash=detail.entry.review_hash,
        actor=REVIEWERS[FIRST_LEVEL],
        comment="情况属实，同意紧急发布。",
    )
    due = detail.entry.due or detail.entry.submitted_at
    echo(
        f"           approved afterwards at {FIRST_LEVEL} by {REVIEWERS[FIRST_LEVEL]}; "
        f"{SECOND_LEVEL} is due by {due.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}, "
        "and `review list --overdue` lists it until it is approved there"
    )
    echo(f"\nthe items log holds {log.position()} events")


# The 公示 list the guard stops, a fixed copy publishes sealed, and erasure removes.
GUARDED_INDEX_NO = "11330100MB0000006R/2026-00033"
GUARDED_REF = f"临溪县民政局/{GUARDED_INDEX_NO}"


def _guarded_item(folder: Path, today: date) -> Path:
    """A 临时救助 list whose second row carries a whole (generated) 身份证号."""
    whole = "33012219800101123"
    whole += id_check_digit(whole)
    (folder / "名单.csv").write_text(
        "序号,姓名,身份证号码,救助金额（元）\n"
        "1,李*华,330122********0018,1200\n"
        f"2,王*芳,{whole},800\n"
        "3,赵*明,330122********3342,1500\n",
        "utf-8",
    )
    end = today + timedelta(days=9)
    item = folder / "item.md"
    item.write_text(
        "+++\n"
        'agency = "临溪县民政局"\n'
        f'index_no = "{GUARDED_INDEX_NO}"\n'
        'title = "临溪县2026年第二季度临时救助对象名单公示"\n'
        'area = "社会救助"\nstage = "结果公开"\n'
        'basis = "《社会救助暂行办法》第四十八条"\n'
        f"formed_on = {today.isoformat()}\n"
        f"notice_period = {{ start = {today.isoformat()}, end = {end.isoformat()} }}\n"
        'attachments = [{ path = "名单.csv", name = "临时救助对象名单.csv", '
        "sealed = true }]\n"
        "+++\n"
        "现将2026年第二季度临时救助对象名单予以公示，名单见附件。公示期内如有异议，"
        "请向县民政局社会救助股反映。\n",
        "utf-8",
    )
    return item


def _guard_and_erase(
    engine: Engine, echo: Callable[[str], None], deliver: Callable[[], object]
) -> None:
    """The guard stops a list with a whole 身份证号; `items check --fix` masks it; the
    fixed list is published sealed, reviewed, delivered, and then erased."""
    log = engine.items
    policy = engine.project.guard
    with tempfile.TemporaryDirectory(prefix="syndicate-demo-") as tmp:
        folder = Path(tmp) / "list"
        folder.mkdir()
        path = _guarded_item(folder, datetime.now(CHINA_TZ).date())
        loaded = load_item_file(path)
        try:
            log.publish(
                loaded.content, actor=DEMO_ACTOR, attachments=loaded.attachments
            )
        except GuardRefused as refused:
            echo(f"\nguard      {loaded.content.title}")
            echo("           stopped before review, nothing stored:")
            for line in refused.report.lines():
                echo(f"             {line}")
        else:
            raise DemoFailed("the guard let a whole 身份证号 through")
        fixed = Path(tmp) / "fixed"
        for check in check_paths([folder], policy):
            if not check.report.clean:
                write_fixed(check, folder, fixed, policy)
        loaded = load_item_file(fixed / path.name)
        submitted = log.publish(
            loaded.content, actor=DEMO_ACTOR, attachments=loaded.attachments
        )
        released = _approve(log, submitted.ref)
        echo(
            "           masked with `syndicate items check --fix`, submitted again with "
            "the list sealed (stored encrypted with the item's own key), approved at "
            f"both levels, released as version {released.version}"
        )
        deliver()
        erased = log.erase(
            submitted.ref,
            reason="演示：公示期满后按规定删除个人信息",
            actor=DEMO_ACTOR,
        )
        deliver()
        echo(
            f"erased     {_short(erased)}  its key destroyed: the portal, kiosk and "
            "feeds show it without the list (个人信息已按规定删除), the WeChat article is "
            "deleted; the log keeps only the sealed blob, so `audit verify` still passes"
        )


def _short(change: Change) -> str:
    return str(change.item_id)[:8]


def _approve(log: Disclosures, ref: str) -> Change:
    """Approve the version under review at both levels, each reviewer naming the
    content hash they read (`review(ref)`), as a review screen does."""
    changes = [
        log.approve(
            ref,
            level=level,
            content_hash=log.review(ref).entry.review_hash,
            actor=REVIEWERS[level],
            comment="同意公开。" if level == SECOND_LEVEL else "",
        )
        for level in (FIRST_LEVEL, SECOND_LEVEL)
    ]
    return changes[-1]


def _return_one(
    log: Disclosures, loaded: list[LoadedItem], echo: Callable[[str], None]
) -> ItemContent:
    """The first reviewer returns one example with a comment (its author then revises
    it, which submits the new version for review again). Returns its content."""
    content = next(i.content for i in loaded if i.content.index_no == RETURNED_INDEX_NO)
    detail = log.review(content.ref)
    returned = log.return_to_author(
        content.ref,
        comment=RETURN_COMMENT,
        actor=REVIEWERS[FIRST_LEVEL],
        level=FIRST_LEVEL,
        content_hash=detail.entry.review_hash,
    )
    echo(f"  returned   {_short(returned)}  {content.title}")
    echo(
        f"             at {FIRST_LEVEL} by {REVIEWERS[FIRST_LEVEL]}: “{RETURN_COMMENT}”"
    )
    return content


def _review_examples(
    log: Disclosures, loaded: list[LoadedItem], echo: Callable[[str], None]
) -> None:
    """Approve every example at both levels; the policy is released only together
    with its 解读."""
    first = True
    for item in loaded:
        content = item.content
        change = _approve(log, content.ref)
        if first:
            first = False
            hashed = log.get(content.ref).content_hash
            echo(f"  released   {_short(change)}  {content.title}")
            echo(
                f"             content {hashed[:12]}… approved at {FIRST_LEVEL} by "
                f"{REVIEWERS[FIRST_LEVEL]}, then at {SECOND_LEVEL} by "
                f"{REVIEWERS[SECOND_LEVEL]}: released as version {change.version}"
            )
        elif not change.released and change.release_at is not None:
            echo(f"  approved   {_short(change)}  {content.title}")
            echo(
                "             at both levels; 待发布 until "
                f"{change.release_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}"
            )
        elif not change.released:
            echo(f"  approved   {_short(change)}  {content.title}")
            echo(
                "             at both levels; it waits for its 解读: a policy and its "
                "解读 are released together"
            )
        elif content.interprets is not None:
            echo(f"  released   {_short(change)}  {content.title}")
            echo("             together with the policy it interprets, as one bundle")
        else:
            echo(f"  released   {_short(change)}  {content.title}")


# Time (docs/lifecycle.md): every 公示 runs from the demo's day for 15 days, but one
# starts in two days (held, 待发布, until then); one item is scheduled (定时发布); one
# regulation is repealed and replaced.
HELD_INDEX_NO = "11330100MB0000011K/2026-00023"
SCHEDULED_INDEX_NO = "11330100MB0000012D/2026-00015"
REPEALED_INDEX_NO = "11330100MB0000003P/2026-00008"


def _around(item: LoadedItem, today: date) -> LoadedItem:
    """The example with its 公示期 moved around the demo's own day."""
    if item.content.notice_period is None:
        return item
    start = today + timedelta(days=2 if item.content.index_no == HELD_INDEX_NO else 0)
    period = {"start": start, "end": start + timedelta(days=14)}
    content = item.content.model_copy(
        update={
            "notice_period": period,
            "formed_on": min(item.content.formed_on, today),
        }
    )
    return replace(item, content=content)


def _repeal_one(
    log: Disclosures, loaded: list[LoadedItem], echo: Callable[[str], None]
) -> None:
    """A revised plan replaces the old one, which is repealed (废止): it stays public,
    marked, with a link to the new one, and its 解读 is marked too."""
    old = next(i.content for i in loaded if i.content.index_no == REPEALED_INDEX_NO)
    new = old.model_copy(
        update={
            "index_no": "11330100MB0000003P/2026-00041",
            "doc_no": "临建〔2026〕30号",
            "title": "临溪县2026年农村危房改造和农房抗震改造实施方案（修订）",
            "category": "农村住房",
            "validity": "现行有效",
        }
    )
    submitted = log.publish(new, actor=DEMO_ACTOR)
    released = _approve(log, submitted.ref)
    echo(f"\npublished  {_short(released)}  {new.title}")
    change = log.repeal(
        old.ref,
        reason="临建〔2026〕30号 印发修订后的实施方案",
        actor=REVIEWERS[SECOND_LEVEL],
        replaced_by=new.ref,
    )
    echo(f"repealed   {_short(change)}  {old.title}")
    echo(
        "           废止, not withdrawn: it stays public as history, marked 已废止, "
        "with a link to the revised plan; its 解读 is marked too"
    )


def _revise_and_withdraw(
    log: Disclosures, loaded: list[LoadedItem], echo: Callable[[str], None]
) -> None:
    """A revision and a withdrawal of released items: each reviewed before it shows."""
    revised = next(i for i in loaded if i.content.index_no == REVISED_INDEX_NO)
    submitted = log.revise(
        revised.content.id,
        _revision(revised.content),
        reason="更正第5户补贴面积（6.20亩更正为6.50亩）",
        actor=DEMO_ACTOR,
    )
    change = _approve(log, submitted.ref)
    echo(f"\nrevised    {_short(change)}  {revised.content.title}")
    echo(
        f"           submitted as version {submitted.version}, approved at both levels "
        f"and released as version {change.version}; the reason is kept as 更正说明"
    )
    withdrawn = next(i for i in loaded if i.content.index_no == WITHDRAWN_INDEX_NO)
    submitted = log.withdraw(
        withdrawn.content.id,
        reason="招聘会因场馆检修延期举办",
        public_note="原定4月18日举办的招聘会延期，新的时间另行通知。",
        actor=DEMO_ACTOR,
    )
    change = _approve(log, submitted.ref)
    echo(f"withdrew   {_short(change)}  {withdrawn.content.title}")
    echo("           the withdrawal was approved at both levels too")


def _deliver(
    engine: Engine, echo: Callable[[str], None], summary: RunSummary
) -> RunSummary:
    """Plan and deliver what is due now, as `syndicate sync` does (into `summary`)."""
    summary.planned_events += engine.plan()
    # The engine's worker: the home's lease and backoff, whose first check with an
    # outlet that confirms later is `[delivery] first_check_seconds` (1 s here).
    worker = engine.worker("demo", hold_digests=False)  # as `sync`: no digest waits
    try:
        worker.run_until_idle(summary)
        # WeChat accepted the articles and publishes them in the background: look
        # again when each check is due, for up to half a minute (a busy machine's fake
        # WeChat may take more than a few looks).
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up:
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


def _gazette_last_month(
    project: Project, echo: Callable[[str], None], summary: RunSummary
) -> None:
    """Two 规范性文件 for the 政府公报, reviewed and released on the 18th of last month
    (the engine's clock set back then, ticking; the log is empty so far), so that this
    month's first change compiles last month's issue."""
    now = datetime.now(CHINA_TZ)
    first = now.replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    then = (first - timedelta(days=1)).replace(day=18)
    started = time.monotonic()

    def clock() -> datetime:
        return then + timedelta(seconds=time.monotonic() - started)

    with Engine(project, clock=clock) as engine:
        log = engine.items
        for agency, index_no, doc_no, title, area, body in GAZETTE_DOCUMENTS:
            content = ItemContent.model_validate(
                {
                    "agency": agency,
                    "index_no": index_no,
                    "doc_no": doc_no,
                    "title": title,
                    "area": area,
                    "stage": "决策公开",
                    "category": "行政规范性文件",
                    "basis": "《中华人民共和国政府信息公开条例》第二十条",
                    "formed_on": (then - timedelta(days=3)).date().isoformat(),
                    "validity": "现行有效",
                    "doc_type": "normative",
                    "channels": ["政府网站、政府公报"],
                    "body": body,
                }
            )
            submitted = log.publish(content, actor=DEMO_ACTOR)
            _approve(log, submitted.ref)
        _deliver(engine, echo, summary)
    echo(
        f"\ngazette    {len(GAZETTE_DOCUMENTS)} 行政规范性文件 marked 政府公报, reviewed and "
        f"released on {then:%Y-%m-%d} (last month): this month's first change "
        "compiles last month's issue"
    )


def _gazette_line(folder: Path) -> str:
    """What the 政府公报 outlet holds (issues.json lists the issues)."""
    pdfs = sorted(folder.rglob("*.pdf"))
    if not pdfs:
        return "no issue yet (outlets/gazette)"
    return (
        f"{len(pdfs)} issue(s) of 临溪县人民政府公报 as PDF and pages, e.g. "
        f"outlets/gazette/{pdfs[0].relative_to(folder).as_posix()}, and the 公报数据库 "
        "(outlets/gazette/index.html)"
    )


def _confirm_relay(engine: Engine, echo: Callable[[str], None]) -> tuple[int, int]:
    """网格员 王芳 forwarded every task to 柳塘村村民群 and confirms each (a digest once);
    李强's tasks for 东庄村村民群 still wait. Returns how many of each."""
    confirmed = waiting = 0
    for row in engine.status():
        for task in row.awaiting_attestation:
            if row.outlet == RELAY_WAITING:
                waiting += 1
            if row.outlet != RELAY_CONFIRMED:
                continue
            fresh = engine.deliveries.delivery(task.delivery_id)
            if fresh.state is not DeliveryState.AWAITING_ATTESTATION:
                confirmed += 1  # confirmed with the digest it went in
                continue
            screenshot = hashlib.sha256(f"screenshot {task.delivery_id}".encode())
            engine.attest(
                str(task.delivery_id),
                Attestation.of(by="网格员 王芳", photo_sha256=screenshot.hexdigest()),
                actor=DEMO_ACTOR,
            )
            confirmed += 1
    echo(
        f"relay: 网格员 王芳 confirmed forwarding {confirmed} items to 柳塘村村民群; "
        f"{waiting} wait for 网格员 李强 (东庄村村民群)"
    )
    return confirmed, waiting


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
    report = engine.coverage()
    counts = dict.fromkeys(("published", "blank", "missing", "open"), 0)
    for row in report.rows:
        counts[row.state.value] += 1
    echo(
        f"  coverage ({report.quarter}, catalogue version {report.catalogue_version}): "
        f"{counts['published']} 事项 published, {counts['blank']} blank (空白), "
        f"{counts['missing']} missing this period, {counts['open']} not yet due"
    )
    for row in report.rows:
        if row.state.value != "published":
            echo(f"    {row.state.label:<6} {row.entry.path} ({row.entry.time_limit})")
    inspection = engine.inspect()
    names: dict[str, int] = {}
    for finding in inspection.findings:
        label = f"{finding.name} ({finding.severity.label})"
        names[label] = names.get(label, 0) + 1
    echo(
        f"  inspect (国办秘函〔2019〕19号): {len(inspection.vetoes)} veto, "
        f"{len(inspection.deductions)} deduction finding(s)"
        + (": " + "; ".join(f"{k}: {n}" for k, n in names.items()) if names else "")
    )
