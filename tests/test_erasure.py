"""Sealed attachments and erasure (issue 16): a 公示 list published sealed is erased
with `items erase`; afterwards no byte of it is left anywhere syndicate wrote, on
SQLite and on PostgreSQL, while `audit verify` still passes and `audit replay` of a time
before shows `[erased]`. Bad inputs are refused with the log unchanged."""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from pypdf import PdfReader

from syndicate.application import Disclosures
from syndicate.attachments import PreparedAttachment
from syndicate.audit import replay as replay_module
from syndicate.domain.content import ItemContent
from syndicate.domain.items import ItemStatus
from syndicate.domain.review import ReviewPolicy
from syndicate.errors import DomainError, InputError, ReviewRefused
from syndicate.project import Project
from syndicate.sealing import KeyStore, open_attachment, seal, unseal
from syndicate.testing import FixedClock, log_snapshot
from syndicate.testing.fakes import (
    WechatMpServer,
    WeComRobotServer,
    toml_table,
)
from tests.clihome import CliHome, impersonate
from tests.conftest import PG_URL, content
from tests.test_pii import make_id, make_mobile

ID = make_id(random.Random(7))
MOBILE = make_mobile(random.Random(8))

PORTAL = "https://www.linxi.gov.cn"
REF = "临溪县农业农村局/11330100MB0000004X/2026-00021"


def canary_rows() -> tuple[bytes, list[str]]:
    """A 公示 list whose every row carries a random marker, and the markers."""
    markers = [secrets.token_hex(6) for _ in range(3)]
    lines = ["序号,户主,身份证号码,补贴金额（元）"]
    for n, marker in enumerate(markers, 1):
        lines.append(f"{n},李*{marker},330122********123{n},504.00")
    return ("\n".join(lines) + "\n").encode("utf-8"), markers


SEALED_ITEM = """+++
agency = "临溪县农业农村局"
index_no = "11330100MB0000004X/2026-00021"
title = "柳塘村2026年耕地地力保护补贴发放名单公示"
area = "农村危房改造"
stage = "结果公开"
basis = "《中华人民共和国政府信息公开条例》第二十条"
formed_on = 2026-04-01
attachments = [{ path = "名单.csv", name = "柳塘村补贴名单.csv", sealed = SEALED }]
+++
BODY
"""


def sealed_item(
    *,
    sealed: str = "true",
    body: str = "柳塘村2026年耕地地力保护补贴发放名单见附件，公示期内如有异议请向村委会反映。",
) -> str:
    """An item file whose attachment `名单.csv` is sealed (as `sealed` says)."""
    return SEALED_ITEM.replace("SEALED", sealed).replace("BODY", body)


ITEM = sealed_item()


def forms(marker: str) -> set[bytes]:
    """How a marker could be written down: as text, and inside JSON escapes."""
    return {marker.encode(), marker.encode("utf-16-le")}


@pytest.fixture
def wechat() -> Iterator[WechatMpServer]:
    with WechatMpServer(
        app_id="wx0123456789abcdef", secret="s" * 32, publish_polls=0
    ) as server:
        yield server


@pytest.fixture
def wecom() -> Iterator[WeComRobotServer]:
    with WeComRobotServer(keys=["k" * 36]) as server:
        yield server


def _home(
    tmp_path: Path,
    environ: dict[str, str],
    wechat: WechatMpServer,
    wecom: WeComRobotServer,
) -> CliHome:
    env = {**environ, "WX_SECRET": "s" * 32, "WECOM_KEY": "k" * 36}
    home = CliHome(tmp_path / "home", env)
    home.ok("init", "--no-review")
    tables = (
        toml_table(
            "portal",
            {
                "kind": "portal",
                "channel": "portal",
                "path": "outlets/portal",
                "site_url": PORTAL,
                "site_name": "临溪县人民政府",
            },
        )
        + toml_table(
            "feeds",
            {
                "kind": "rss",
                "channel": "rss",
                "path": "outlets/feeds",
                "site_url": PORTAL,
                "site_name": "临溪县人民政府",
            },
        )
        + toml_table(
            "kiosk",
            {
                "kind": "kiosk",
                "channel": "kiosk",
                "path": "outlets/kiosk",
                "portal_url": PORTAL,
            },
        )
        + toml_table(
            "board",
            {
                "kind": "noticeboard",
                "channel": "noticeboard",
                "path": "outlets/board",
                "portal_url": PORTAL,
            },
        )
        + toml_table("wechat", wechat.outlet_table("WX_SECRET", portal_url=PORTAL))
        + toml_table("village", wecom.outlet_table("WECOM_KEY", portal_url=PORTAL))
        + "[delivery]\nfirst_check_seconds = 1\n"
    )
    with (home.home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write("\n" + tables)
    return home


def settle(home: CliHome) -> None:
    """`sync` until nothing waits for a worker (WeChat confirms after a while)."""
    give_up = time.monotonic() + 30
    while True:
        home.ok("sync")
        status = home.ok("status").stdout
        if not any(word in status for word in ("planned", "submitted", "claimed")):
            return
        assert time.monotonic() < give_up, status
        time.sleep(0.5)


def _all_bytes(root: Path) -> dict[Path, bytes]:
    found = {}
    for path in root.rglob("*"):
        try:
            found[path] = path.read_bytes()
        except (IsADirectoryError, FileNotFoundError):
            continue
    return found


def _pg_rows(schema: str) -> bytes:
    """Every row of every table of the schema, as text."""
    out: list[bytes] = []
    with psycopg.connect(PG_URL) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"'):
                out.append(repr(row).encode())
                out.extend(bytes(v) for v in row if isinstance(v, bytes | memoryview))
    return b"\n".join(out)


def test_an_erased_list_leaves_no_byte_anywhere_and_the_audit_still_verifies(
    tmp_path: Path,
    environ: dict[str, str],
    backend: tuple[str, str],
    wechat: WechatMpServer,
    wecom: WeComRobotServer,
) -> None:
    home = _home(tmp_path, environ, wechat, wecom)
    data, markers = canary_rows()
    items = tmp_path / "items"
    items.mkdir()
    (items / "名单.csv").write_bytes(data)
    (items / "list.md").write_text(ITEM, "utf-8")
    readers = []

    home.ok("items", "publish", items / "list.md")
    settle(home)
    rows = {r["outlet"]: r for r in json.loads(home.ok("status", "--json").stdout)}
    home.ok("attest", rows["board"]["delivery_id"][:8], "--by", "村委会 李静")
    before_erasure = time.time()
    time.sleep(1.1)
    home.ok("audit", "checkpoint")

    # The list is on the portal, opened; the store and the log hold only ciphertext.
    files = _all_bytes(home.home)
    on_portal = [p for p, b in files.items() if markers[0].encode() in b]
    assert on_portal
    assert all("outlets/portal/files" in str(p) for p in on_portal)
    keys = list((home.home / "data" / "sealing-keys").glob("*.key"))
    assert len(keys) == 1

    # Dry runs of bad erasures first: each refused, the log unchanged.
    before = home.items()
    for args, code, message in [
        (["items", "erase", "临溪县/不存在/1", "--reason", "x"], 1, "no item"),
        (["items", "erase", REF, "--reason", ""], 2, "--reason"),
        (["items", "erase", REF, "--reason", f"户主 {ID} 要求"], 2, "身份证号"),
    ]:
        refused = home(*args)
        assert refused.exit_code == code, refused.output
        assert message in refused.output
        assert home.items() == before

    erased = home.ok("items", "erase", REF, "--reason", "公示期满")
    assert "erased the sealed attachments" in erased.stdout
    assert not any((home.home / "data" / "sealing-keys").glob("*.key"))
    again = home("items", "erase", REF, "--reason", "公示期满")
    assert again.exit_code == 1
    assert "erased already" in again.stderr

    settle(home)
    assert wechat.calls("freepublish/delete"), "the WeChat article was deleted"
    status = home.ok("status", REF)
    assert "not recalled: 1 outlet(s)" in status.stdout
    assert f"{REF}  village  v1" in status.stdout
    rows = {r["outlet"]: r for r in json.loads(home.ok("status", "--json").stdout)}
    assert rows["village"]["not_recalled"] is not None
    assert rows["portal"]["not_recalled"] is None
    page = (home.home / "outlets" / "portal" / "items").glob("*.html")
    shown = "".join(p.read_text("utf-8") for p in page)
    assert "个人信息已按规定删除" in shown
    assert "柳塘村补贴名单.csv" in shown
    [sheet] = (home.home / "outlets" / "board").rglob("*-v2-*.pdf")
    text = "".join(page.extract_text() for page in PdfReader(sheet).pages)
    assert "所附个人信息已按规定删除" in text.replace("\n", ""), text

    home.ok("audit", "checkpoint")
    verified = home.ok("audit", "verify")
    assert "FAIL" not in verified.output
    trail = home.ok("audit", "trail", REF)
    assert "Erased" in trail.stdout
    assert "公示期满" in trail.stdout
    moment = datetime.fromtimestamp(before_erasure, UTC).isoformat()
    replay = home.ok("audit", "replay", "--as-of", moment, "--out", tmp_path / "replay")
    assert "柳塘村补贴名单.csv: [erased]" in replay.stdout, (moment, replay.stdout)
    manifest = json.loads(
        (tmp_path / "replay" / "portal" / "manifest.json").read_text()
    )
    assert manifest["items"], (moment, replay.stdout)
    assert manifest["items"][0]["attachments_erased"] == {
        "柳塘村补贴名单.csv": "[erased]"
    }
    assert manifest["items"][0]["match"]
    # Past the number of erased attachments a replay keeps, the manifests name them.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(replay_module, "KEPT_ERASED", 0)
        capped = home.ok("audit", "replay", "--as-of", moment, "--out", tmp_path / "r0")
    assert "[erased]" not in capped.stdout
    assert "and more: each outlet's manifest.json names them all" in capped.stdout
    home.ok("audit", "export", tmp_path / "export")
    home.ok("audit", "report", "--out", tmp_path / "report")
    home.ok("log", "--json")
    home.ok("items", "show", REF, "--json")
    consistency = home("audit", "consistency")
    assert consistency.exit_code == 0, consistency.output

    # The canary: no marker anywhere syndicate wrote or showed.
    for db in sorted((home.home / "data").glob("*.db")):
        readers.append(sqlite3.connect(db))
    searched = _all_bytes(home.home) | _all_bytes(tmp_path / "replay")
    searched |= _all_bytes(tmp_path / "r0")
    searched |= _all_bytes(tmp_path / "export") | _all_bytes(tmp_path / "report")
    shown_text = "".join(r.stdout + r.stderr for r in home.outputs).encode()
    url, schema = backend
    pg_rows = _pg_rows(schema) if url != "sqlite" else b""
    for reader in readers:
        reader.close()
    for marker in markers:
        for form in forms(marker):
            leaks = [str(p) for p, b in searched.items() if form in b]
            assert not leaks, (marker, leaks)
            assert form not in shown_text
            assert form not in pg_rows
    assert wecom.messages("k" * 36), "the group got its message (it cannot be recalled)"
    assert (home.home / "data" / "attachments").is_dir()  # the sealed blob is kept


# -- the library ----------------------------------------------------------------------


@pytest.fixture
def log(sqlite_project: Project, clock: FixedClock) -> Iterator[Disclosures]:
    with sqlite_project.disclosures(clock=clock) as items:
        yield items


def _sealed(data: bytes) -> PreparedAttachment:
    return PreparedAttachment.from_bytes(data, name="名单.csv", sealed=True)


def _item(attachment: PreparedAttachment, **fields: object) -> ItemContent:
    return content(attachments=[attachment.meta.model_dump()], **fields)


def test_sealing_is_deterministic_and_bound_to_the_item() -> None:
    key = secrets.token_bytes(32)
    a, b = UUID(int=1), UUID(int=2)
    blob = seal(key, a, b"list")
    assert seal(key, a, b"list") == blob != seal(key, b, b"list")
    assert unseal(key, a, blob) == b"list"
    with pytest.raises(ValueError, match="does not open"):
        unseal(key, b, blob)
    with pytest.raises(ValueError, match="not a sealed"):
        unseal(key, a, b"plain")


def test_a_sealed_item_stores_only_ciphertext_and_republishes_identically(
    log: Disclosures,
) -> None:
    data, markers = canary_rows()
    change = log.publish(
        _item(_sealed(data)), actor="张三", attachments=[_sealed(data)]
    )
    item = log.get(change.item_id)
    [meta] = item.content.attachments
    assert meta.sealed
    assert meta.sha256 != _sealed(data).meta.sha256
    assert log.attachments is not None
    blob = log.attachments.path_of(meta.sha256).read_bytes()
    assert markers[0].encode() not in blob
    assert not any(markers[0].encode() in state for _, _, state in log_snapshot(log))
    # The same file again is the same content: publish-once still recognises it.
    with pytest.raises(DomainError, match="already published"):
        log.publish(_item(_sealed(data)), actor="张三", attachments=[_sealed(data)])
    # The guard reads a stored sealed file opened.
    assert log.check(item.content).clean


def test_erasure_refusals_leave_the_log_unchanged(
    log: Disclosures, sqlite_project: Project
) -> None:
    plain = log.publish(content(index_no="11330100MB0000006R/2026-00090"), actor="张三")
    before = log_snapshot(log)
    with pytest.raises(DomainError, match="no sealed part"):
        log.erase(plain.item_id, reason="公示期满", actor="王五")
    with pytest.raises(InputError, match="public_note"):
        log.erase(plain.item_id, reason="x", public_note=f"电话{MOBILE}", actor="王五")
    assert log_snapshot(log) == before

    data, _ = canary_rows()
    sealed = log.publish(
        _item(_sealed(data)), actor="张三", attachments=[_sealed(data)]
    )
    change = log.erase(sealed.item_id, reason="公示期满", actor="王五")
    assert change.event == "Erased"
    item = log.get(sealed.item_id)
    assert item.erasure is not None
    assert item.status is ItemStatus.PUBLISHED
    assert KeyStore.beside(sqlite_project.attachments.root).get(item.id) is None
    # Its stored file is now unchecked by the guard, never clean.
    assert "erased" in log.check(item.content).lines()[0]
    # New personal data goes in a new item, not a revision of an erased one.
    with pytest.raises(DomainError, match="erased"):
        log.revise(
            sealed.item_id,
            _item(_sealed(b"x,y\n"), body="新名单"),
            reason="补充",
            actor="张三",
            attachments=[_sealed(b"x,y\n")],
        )


def test_no_erasure_while_a_version_is_under_review(
    sqlite_project: Project, clock: FixedClock
) -> None:
    with Disclosures(
        sqlite_project.store.env_for("Disclosures", create_tables=False),
        clock=clock,
        attachments=sqlite_project.attachments,
        review=ReviewPolicy.of([("审核", [])]),
    ) as log:
        data, _ = canary_rows()
        change = log.publish(
            _item(_sealed(data)), actor="张三", attachments=[_sealed(data)]
        )
        before = log_snapshot(log)
        with pytest.raises(ReviewRefused, match="under review"):
            log.erase(change.item_id, reason="公示期满", actor="王五")
        assert log_snapshot(log) == before


def test_sealed_parts_are_erased_on_schedule_after_the_notice_period(
    log: Disclosures, clock: FixedClock
) -> None:
    data, _ = canary_rows()
    period = {"start": "2026-10-01", "end": "2026-10-08"}
    ended = log.publish(
        _item(_sealed(data), notice_period=period),
        actor="张三",
        late_reason="补录",
        attachments=[_sealed(data)],
    )
    later = log.publish(
        _item(
            _sealed(data),
            index_no="11330100MB0000006R/2026-00091",
            notice_period={"start": "2026-10-01", "end": "2026-10-20"},
        ),
        actor="张三",
        late_reason="补录",
        attachments=[_sealed(data)],
    )
    unsealed = log.publish(
        content(index_no="11330100MB0000006R/2026-00092", notice_period=period),
        actor="张三",
        late_reason="补录",
    )
    assert log.erase_due(after_days=30) == []  # 2026-10-09: nothing due yet
    clock.advance(days=31)  # 2026-11-09: 32 days after the first period's end
    [change] = log.erase_due(after_days=30)
    assert change.item_id == ended.item_id
    assert change.event == "Erased"
    erased = log.get(ended.item_id).erasure
    assert erased is not None
    assert erased.actor == "syndicate"
    assert "2026-10-08" in erased.reason
    assert log.get(later.item_id).erasure is None
    assert log.get(unsealed.item_id).erasure is None
    assert log.erase_due(after_days=30) == []  # once


def test_overrides_and_erasures_are_covered_by_verify(tmp_path: Path) -> None:
    """`GuardOverridden` and `Erased` are in the signed tree: altering either (its actor
    renamed) or deleting the erasure is a finding of `audit verify` at its position."""
    home = CliHome(tmp_path / "home", {"SYNDICATE_STORE_URL": "sqlite"})
    home.ok("init", "--no-review")
    items = tmp_path / "items"
    items.mkdir()
    (items / "名单.csv").write_text(f"序号,姓名,身份证号码\n1,李*华,{ID}\n", "utf-8")
    (items / "list.md").write_text(ITEM, "utf-8")
    stopped = home("items", "publish", items / "list.md")
    assert stopped.exit_code == 1
    assert ID not in stopped.output
    home.ok("items", "publish", items / "list.md", "--allow-pii", "--basis", "惩戒公示")
    home.ok("items", "erase", REF, "--reason", "公示期满")
    home.ok("audit", "checkpoint")
    assert home.ok("audit", "verify").stdout.startswith("OK")
    db = home.home / "data" / "disclosures.db"
    pristine = db.read_bytes()
    for topic in (
        "syndicate.DisclosureItem.GuardOverridden",
        "syndicate.DisclosureItem.Erased",
    ):
        position = impersonate(db, topic)
        verified = home("audit", "verify")
        assert verified.exit_code == 1, (topic, verified.output)
        assert f"(items log position {position})" in verified.stdout, topic
        db.write_bytes(pristine)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "DELETE FROM stored_events WHERE topic = ?",
            ("syndicate.DisclosureItem.Erased",),
        )
    conn.close()
    verified = home("audit", "verify")
    assert verified.exit_code == 1
    assert verified.stdout.startswith(("FAIL deleted", "FAIL truncated"))


def test_a_sealed_blob_swapped_for_another_of_the_same_item_is_refused(
    log: Disclosures,
) -> None:
    first, _ = canary_rows()
    second, _ = canary_rows()
    change = log.publish(
        _item(_sealed(first)), actor="张三", attachments=[_sealed(first)]
    )
    revised = log.revise(
        change.item_id,
        _item(_sealed(second), body="名单更正"),
        reason="更正名单",
        actor="张三",
        attachments=[_sealed(second)],
    )
    assert log.attachments is not None
    old = log.get(change.item_id, version=1).content.attachments[0]
    new = log.get(revised.item_id).content.attachments[0]
    # An insider puts the older list where the newer one is stored.
    log.attachments.path_of(new.sha256).write_bytes(
        log.attachments.path_of(old.sha256).read_bytes()
    )
    with pytest.raises(ValueError, match="does not match its sha256"):
        open_attachment(log.attachments.root, change.item_id, new.sha256, sealed=True)
