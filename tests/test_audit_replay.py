"""`syndicate audit replay`: what each outlet showed at a moment, rebuilt and re-rendered."""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings
from syndicate_adapters.noticeboard import NoticeboardAdapter, NoticeboardSettings

from syndicate.audit import replay as replay_module
from syndicate.audit.replay import extension, parse_moment, replay, shown_as_of
from syndicate.delivery import Worker
from syndicate.domain.base import CHINA_TZ
from syndicate.outlets import Outlet, OutletFilter
from syndicate.project import Project
from syndicate.testing import FixedClock
from tests.conftest import ITEM_FILE, content
from tests.test_audit_trail import REF, SITE, Home


def manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text("utf-8"))
    return data


def succeeded_at(h: Home, version: int) -> str:
    """The latest time a delivery of `version` succeeded anywhere (ISO, China time)."""
    return max(
        str(r["time"])
        for r in h.trail()
        if r["event"] == "Succeeded" and r["version"] == version
    )


def check_files(folder: Path, entries: list[dict[str, Any]]) -> None:
    """Every file's bytes hash to what the log recorded for it."""
    for entry in entries:
        assert entry["match"] is True, entry
        assert entry["sha256_rerendered"] == entry["sha256_recorded"]
        if entry["file"] is not None:
            data = (folder / entry["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256_recorded"]
    names = {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert names == {e["file"] for e in entries if e["file"]}


def test_replay_as_of_before_between_and_after_changes(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    h = Home(tmp_path, environ)
    h.ok("items", "publish", h.item("item.md"))
    h.ok("sync")
    item_id = json.loads(h.ok("items", "show", REF, "--json").stdout)["id"]
    first = succeeded_at(h, 1)
    h.ok(
        "items",
        "revise",
        REF,
        h.item("v2.md", ITEM_FILE.replace("47户73人", "47户74人")),
        "--reason",
        "更正人数",
    )
    h.ok("sync")
    second = succeeded_at(h, 2)
    before = h.snapshot()

    # Between the publication and the revision: version 1 everywhere.
    out = tmp_path / "r1"
    result = h.ok("audit", "replay", "--as-of", first, "--out", out)
    assert "archive" in result.stdout
    assert "MISMATCHES" in result.stdout
    summary = json.loads((out / "replay.json").read_text("utf-8"))
    assert summary["as_of"] == first
    assert summary["counts"] == {
        "outlets": 3,
        "configured": 3,
        "not_configured": 0,
        "items": 3,
        "shown": 3,
        "mismatches": 0,
    }
    assert summary["mismatches"] == []
    for outlet, ext in (("archive", "json"), ("portal", "json"), ("feeds", "json")):
        data = manifest(out / outlet)
        [entry] = data["items"]
        assert (entry["id"], entry["ref"], entry["version"]) == (item_id, REF, 1)
        assert entry["operation"] == "publish"
        assert entry["file"] == f"{item_id}-v1.{ext}"
        assert datetime.fromisoformat(entry["delivered_at"]) <= datetime.fromisoformat(
            first
        )
        check_files(out / outlet, data["items"])
    assert manifest(out / "feeds")["whole_set"] is True
    archived = json.loads((out / "archive" / f"{item_id}-v1.json").read_text("utf-8"))
    assert archived["version"] == 1
    assert "47户73人" in archived["content"]["body"]

    # After the revision: version 2, as the outlets hold it now.
    out = tmp_path / "r2"
    h.ok("audit", "replay", "--as-of", second, "--out", out)
    for outlet in ("archive", "portal", "feeds"):
        data = manifest(out / outlet)
        assert [e["version"] for e in data["items"]] == [2]
        check_files(out / outlet, data["items"])
    shown_now = (home_file := h.home / "out" / f"{item_id}.json").read_bytes()
    assert (out / "archive" / f"{item_id}-v2.json").read_bytes() == shown_now, home_file

    # Before anything: every configured outlet, empty.
    out = tmp_path / "r0"
    h.ok("audit", "replay", "--as-of", "2020-01-01", "--out", out)
    for outlet in ("archive", "portal", "feeds"):
        assert manifest(out / outlet)["items"] == []
        assert sorted(p.name for p in (out / outlet).iterdir()) == ["manifest.json"]
    assert json.loads((out / "replay.json").read_text("utf-8"))["counts"]["items"] == 0

    # One outlet only; JSON on stdout too.
    out = tmp_path / "r-one"
    result = h.ok(
        "audit",
        "replay",
        "--as-of",
        second,
        "--out",
        out,
        "--outlet",
        "portal",
        "--json",
    )
    assert [o["name"] for o in json.loads(result.stdout)["outlets"]] == ["portal"]
    assert sorted(p.name for p in out.iterdir()) == ["portal", "replay.json"]

    assert h.snapshot() == before  # a replay writes nothing to the logs


def test_withdrawn_items_are_not_shown_after_the_withdrawal(tmp_path: Path) -> None:
    h = Home(tmp_path, {})
    h.ok("items", "publish", h.item("item.md"))
    h.ok("sync")
    item_id = json.loads(h.ok("items", "show", REF, "--json").stdout)["id"]
    h.ok("items", "withdraw", REF, "--reason", "信息有误", "--note", "该信息已撤回。")
    h.ok("sync")
    gone = max(r["time"] for r in h.trail() if r["event"] == "Succeeded")
    out = tmp_path / "after"
    h.ok("audit", "replay", "--as-of", gone, "--out", out)
    [entry] = manifest(out / "archive")["items"]
    # The folder outlet deletes the document: nothing shown, no file.
    assert (entry["version"], entry["operation"], entry["shown"]) == (
        2,
        "retract",
        False,
    )
    assert entry["file"] is None
    assert entry["match"] is True
    check_files(out / "archive", [entry])
    # The portal keeps a withdrawal notice where the page was: that is what it showed.
    [notice] = manifest(out / "portal")["items"]
    assert (notice["operation"], notice["shown"]) == ("retract", True)
    check_files(out / "portal", [notice])
    page = json.loads((out / "portal" / notice["file"]).read_text("utf-8"))
    assert "该信息已撤回" in json.dumps(page, ensure_ascii=False)
    # The feed's set no longer lists it as live.
    [feed] = manifest(out / "feeds")["items"]
    assert feed["version"] == 2
    check_files(out / "feeds", [feed])
    # Just before the withdrawal it was shown.
    out = tmp_path / "before"
    h.ok("audit", "replay", "--as-of", succeeded_at(h, 1), "--out", out)
    [entry] = manifest(out / "archive")["items"]
    assert (entry["version"], entry["shown"]) == (1, True)
    assert (out / "archive" / f"{item_id}-v1.json").is_file()


def test_replay_refuses_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    h = Home(tmp_path, {})
    h.ok("items", "publish", h.item("item.md"))
    h.ok("sync")
    before = h.snapshot()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "old.txt").write_text("x", "utf-8")
    a_file = tmp_path / "file"
    a_file.write_text("x", "utf-8")
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    cases: list[tuple[list[str], str]] = [
        (["--as-of", "2999-01-01"], "--as-of: 2999-01-01 23:59:59 is in the future"),
        (["--as-of", future], "--as-of:"),
        (["--as-of", "yesterday"], "--as-of: invalid time 'yesterday'"),
        (["--as-of", "2026-13-01"], "--as-of: invalid time"),
        (
            ["--as-of", "0001-01-01T00:00"],
            "--as-of: '0001-01-01T00:00' is not a plausible",
        ),
        (["--as-of", "2026-01-01", "--out", str(busy)], "is not empty"),
        (["--as-of", "2026-01-01", "--out", str(a_file)], "is not a directory"),
        (["--as-of", "2026-11-01", "--outlet", "nope"], "--outlet: no outlet 'nope'"),
    ]
    for extra, fragment in cases:
        args = ["audit", "replay", *extra]
        if "--out" not in extra:
            args += ["--out", str(tmp_path / "new")]
        result = h(*args)
        assert result.exit_code == 2, (extra, result.output)
        assert fragment in result.stderr, (extra, result.output)
        assert result.stderr.startswith("error: ")
        assert not (tmp_path / "new").exists(), extra
    assert h("audit", "replay", "--out", str(tmp_path / "new")).exit_code == 2
    # A date alone that is today means "until now", not the future.
    today = datetime.now(CHINA_TZ).date().isoformat()
    h.ok("audit", "replay", "--as-of", today, "--out", tmp_path / "today")
    assert h.snapshot() == before


def test_outlets_removed_from_the_configuration_are_listed_without_files(
    tmp_path: Path,
) -> None:
    h = Home(tmp_path, {})
    h.ok("items", "publish", h.item("item.md"))
    h.ok("sync")
    at = succeeded_at(h, 1)
    config = h.home / "syndicate.toml"
    text = config.read_text("utf-8")
    config.write_text(text[: text.index("\n[outlets.feeds]") + 1], "utf-8")
    out = tmp_path / "r"
    result = h.ok("audit", "replay", "--as-of", at, "--out", out)
    assert "not configured" in result.stdout
    summary = json.loads((out / "replay.json").read_text("utf-8"))
    [feeds] = [o for o in summary["outlets"] if o["name"] == "feeds"]
    assert feeds["configured"] is False
    [recorded] = feeds["recorded"]
    assert recorded["ref"] == REF
    trail_sha = [
        r["rendition_sha256"]
        for r in h.trail()
        if r["outlet"] == "feeds" and r["event"] == "Succeeded"
    ]
    assert [recorded["sha256_recorded"]] == trail_sha
    assert not (out / "feeds").exists()
    assert summary["counts"]["not_configured"] == 1


def test_a_rendition_that_renders_differently_exits_1_and_is_named(
    tmp_path: Path,
) -> None:
    h = Home(tmp_path, {})
    h.ok("items", "publish", h.item("item.md"))
    h.ok("sync")
    at = succeeded_at(h, 1)
    config = h.home / "syndicate.toml"
    # The feed's settings changed since: its feed would not be the same bytes.
    text = config.read_text("utf-8")
    head, tail = text.rsplit('site_name = "临溪县人民政府"', 1)
    config.write_text(head + 'site_name = "临溪县政府"' + tail, "utf-8")
    out = tmp_path / "r"
    result = h("audit", "replay", "--as-of", at, "--out", out)
    assert result.exit_code == 1, result.output
    assert "error: feeds: " + REF in result.stderr
    assert "rendering it again gives" in result.stderr
    summary = json.loads((out / "replay.json").read_text("utf-8"))
    assert [m["outlet"] for m in summary["mismatches"]] == ["feeds"]
    [entry] = manifest(out / "feeds")["items"]
    assert entry["match"] is False
    assert entry["sha256_rerendered"] != entry["sha256_recorded"]
    assert manifest(out / "archive")["items"][0]["match"] is True
    assert manifest(out / "portal")["items"][0]["match"] is True


@pytest.fixture
def rig(
    sqlite_project: Project, tmp_path: Path
) -> tuple[Project, dict[str, Outlet], FixedClock]:
    outlets = {
        "archive": Outlet(
            name="archive",
            kind="directory",
            channel=None,
            filter=OutletFilter(),
            settings=DirectorySettings(path=tmp_path / "archive"),
            adapter_class=DirectoryAdapter,
        ),
        "board": Outlet(
            name="board",
            kind="noticeboard",
            channel=None,
            filter=OutletFilter(),
            settings=NoticeboardSettings(path=tmp_path / "sheets", portal_url=SITE),
            adapter_class=NoticeboardAdapter,
        ),
    }
    return sqlite_project, outlets, FixedClock()


def test_a_sheet_counts_from_its_attested_posting_time(
    rig: tuple[Project, dict[str, Outlet], FixedClock],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project, outlets, clock = rig
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        change = items.publish(content(), actor="t")
        deliveries.plan()
        worker = Worker(deliveries, items, outlets, name="w", clock=clock)
        worker.run_until_idle()
        worker.close()
        printed = clock()
        [sheet] = [
            d for d in deliveries.all_deliveries().values() if d.outlet == "board"
        ]
        clock.advance(days=2)
        fresh = deliveries.delivery(sheet.id)
        posted = printed + timedelta(hours=3)
        fresh.attest(actor="运维", by="张敏", posted_at=posted, at=clock())
        deliveries.save(fresh)

        def board(as_of: datetime, out: Path) -> list[dict[str, Any]]:
            summary = replay(
                items, deliveries, as_of=as_of, out=out, outlets=outlets, only="board"
            )
            assert not summary.mismatches
            entries: list[dict[str, Any]] = manifest(out / "board")["items"]
            return entries

        # Printed but not yet posted: the board showed nothing.
        assert board(posted - timedelta(minutes=1), tmp_path / "r1") == []
        # Posted (the attestation was recorded later, with the posting time).
        [entry] = board(posted, tmp_path / "r2")
        assert entry["file"] == f"{change.item_id}-v1.pdf"
        assert (tmp_path / "r2" / "board" / entry["file"]).read_bytes()[:5] == b"%PDF-"
        check_files(tmp_path / "r2" / "board", [entry])

        # The (outlet, item) cache is bounded; misses ask the store, same answer.
        full = shown_as_of(deliveries, clock())
        monkeypatch.setattr(replay_module, "_CACHE", 1)
        assert shown_as_of(deliveries, clock()) == full
        assert {k[0] for k in full} == {"archive", "board"}


def test_parse_moment() -> None:
    end = parse_moment("2026-10-09")
    assert end == datetime(2026, 10, 9, 23, 59, 59, 999_999, tzinfo=CHINA_TZ)
    assert parse_moment(" 2026-10-09T09:30 ") == datetime(
        2026, 10, 9, 9, 30, tzinfo=CHINA_TZ
    )
    utc = parse_moment("2026-10-09T01:30:00+00:00")
    assert utc == datetime(2026, 10, 9, 9, 30, tzinfo=CHINA_TZ)
    assert utc.utcoffset() == timedelta(0)
    for bad in ("", "soon", "2026-02-30", "10/09/2026", "0001-01-01"):
        with pytest.raises(ValueError, match=r"2026-10-09|plausible"):
            parse_moment(bad)


@pytest.mark.parametrize(
    ("media_type", "ext"),
    [
        ("application/json", "json"),
        ("application/vnd.syndicate.portal+json", "json"),
        ("application/pdf", "pdf"),
        ("text/html; charset=utf-8", "html"),
        ("application/atom+xml", "xml"),
        ("image/png", "png"),
        ("application/x-unknown-thing", "bin"),
    ],
)
def test_extension(media_type: str, ext: str) -> None:
    assert extension(media_type) == ext


def _directory(name: str, folder: Path) -> Outlet:
    return Outlet(
        name=name,
        kind="directory",
        channel=None,
        filter=OutletFilter(),
        settings=DirectorySettings(path=folder),
        adapter_class=DirectoryAdapter,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_streamed_json_is_what_json_dumps_writes(seed: int, tmp_path: Path) -> None:
    """Manifests and replay.json are written as their rows are read back; the bytes
    are those of `json.dumps(..., sort_keys=True, indent=2, ensure_ascii=False)`."""
    rng = random.Random(seed)

    def value(depth: int) -> Any:
        kind = rng.choice(
            ["dict", "list", "rows", "leaf", "leaf"] if depth < 4 else ["leaf"]
        )
        if kind == "dict":
            return {
                rng.choice(["id", "公告", "b", "a\n", "ref", "z"]) + str(n): value(
                    depth + 1
                )
                for n in range(rng.randint(0, 4))
            }
        if kind in ("list", "rows"):
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return rng.choice(
            [None, True, False, 0, -7, 2**40, "", '临溪县\u2028"引号"\\', "a/b"]
        )

    def lazy(v: Any) -> Any:  # the same document with its lists produced lazily
        if isinstance(v, dict):
            return {k: lazy(x) for k, x in v.items()}
        if isinstance(v, list):
            items = [lazy(x) for x in v]
            return replay_module._Rows(lambda: iter(items))
        return v

    for n in range(40):
        doc = {
            "items": [value(1) for _ in range(rng.randint(0, 5))],
            "n": n,
            "x": value(0),
        }
        path = tmp_path / f"{n}.json"
        replay_module._dump(path, lazy(doc))
        expected = json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
        assert path.read_text("utf-8") == expected


def test_a_long_replay_pages_through_its_scratch_file_in_manifest_order(
    sqlite_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many items, pages of 3: every (outlet, item) comes back once, manifests are
    sorted by ref then version, an outlet no longer configured lists what it showed,
    and nothing of the scratch file is left."""
    monkeypatch.setattr(replay_module, "_PAGE", 3)
    clock = FixedClock()
    outlets = {n: _directory(n, tmp_path / n) for n in ("archive", "old")}
    with (
        sqlite_project.disclosures(clock=clock) as items,
        sqlite_project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        made = [
            items.publish(
                content(index_no=f"11330100MB0000006R/2026-{n:05d}", title=f"公告{n}"),
                actor="t",
            )
            for n in (9, 3, 14, 1, 12, 5, 8, 2, 11, 7, 4, 13, 6, 10)
        ]
        deliveries.plan()
        worker = Worker(deliveries, items, outlets, name="w", clock=clock)
        worker.run_until_idle()
        clock.advance(hours=1)
        for change in made[::3]:
            old = items.get(change.item_id).content
            items.revise(
                change.item_id,
                old.model_copy(update={"body": old.body + "（更正）"}),
                reason="更正",
                actor="t",
            )
        deliveries.plan()
        worker.run_until_idle()
        worker.close()
        clock.advance(hours=1)
        expected = shown_as_of(deliveries, clock())
        out = tmp_path / "r"
        summary = replay(
            items,
            deliveries,
            as_of=clock(),
            out=out,
            outlets={"archive": outlets["archive"]},
        )
        # A cache of 2: the 28 planned deliveries move to the scratch file, and are
        # found there, not in the store; the replay is the same, byte for byte.
        monkeypatch.setattr(replay_module, "_CACHE", 2)

        def no_store(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("asked the store")

        monkeypatch.setattr(deliveries.repository, "get", no_store)
        replay(
            items,
            deliveries,
            as_of=clock(),
            out=tmp_path / "again",
            outlets={"archive": outlets["archive"]},
        )
    for name in ("replay.json", "archive/manifest.json"):
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    entries = manifest(out / "archive")["items"]
    assert [(e["ref"], e["version"]) for e in entries] == sorted(
        (e["ref"], e["version"]) for e in entries
    )
    assert {(e["id"], e["version"], e["delivery_id"]) for e in entries} == {
        (str(s.item_id), s.version, str(s.delivery_id))
        for (name, _), s in expected.items()
        if name == "archive"
    }
    assert len(entries) == len(made)
    assert sum(e["version"] == 2 for e in entries) == len(made[::3])
    check_files(out / "archive", entries)
    data = json.loads((out / "replay.json").read_text("utf-8"))
    [old] = [o for o in data["outlets"] if o["name"] == "old"]
    assert old["configured"] is False
    assert old["items"] == len(made)
    assert [r["id"] for r in old["recorded"]] == sorted(str(c.item_id) for c in made)
    assert {r["ref"] for r in old["recorded"]} == {e["ref"] for e in entries}
    assert data["counts"] == {
        "outlets": 2,
        "configured": 1,
        "not_configured": 1,
        "items": len(made),
        "shown": len(made),
        "mismatches": 0,
    }
    assert summary.counts() == data["counts"]
    assert sorted(p.name for p in out.iterdir()) == ["archive", "replay.json"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert summary.written == len(files) == len(made) + 2


def test_mismatches_beyond_those_kept_are_counted_and_all_in_replay_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Home(tmp_path, {})
    for n in range(3):
        text = ITEM_FILE.replace("2026-00019", f"2026-0002{n}")
        h.ok("items", "publish", h.item(f"i{n}.md", text))
    h.ok("sync")

    def broken(*args: Any) -> Any:
        raise RuntimeError("render fails")

    monkeypatch.setattr(replay_module, "_as_rendered", broken)
    monkeypatch.setattr(replay_module, "KEPT_MISMATCHES", 2)
    out = tmp_path / "r"
    today = datetime.now(CHINA_TZ).date().isoformat()
    result = h("audit", "replay", "--as-of", today, "--out", out)
    assert result.exit_code == 1, result.output
    configured = 3  # archive, portal, feeds
    total = 3 * 2 + 1  # three items on archive and portal, the feed's one set
    assert result.stderr.count("rendering it again gives cannot render again") == 2
    assert f"and {total - 2} more mismatch(es) listed in {out / 'replay.json'}" in (
        result.stderr.replace("\n", " ")
    )
    data = json.loads((out / "replay.json").read_text("utf-8"))
    assert data["counts"]["mismatches"] == total
    assert len(data["mismatches"]) == total
    # The two printed are the first two replay.json lists.
    printed = re.findall(r"error: (\w+): (\S+) v1 \(delivery", result.stderr)
    assert printed == [(m["outlet"], m["ref"]) for m in data["mismatches"][:2]]
    assert [(m["outlet"], m["ref"]) for m in data["mismatches"]] == sorted(
        (m["outlet"], m["ref"]) for m in data["mismatches"]
    )
    assert all(
        m["error"] == "cannot render again: RuntimeError: render fails"
        for m in data["mismatches"]
    )
    assert len(data["outlets"]) == configured


def test_a_scratch_file_that_cannot_be_written_is_the_output_folders_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite failing on the replay's own scratch file (a full disk under --out) is
    reported as that file's problem, not as a damaged event store, and leaves no
    folder behind; the next replay into the same place works."""
    h = Home(tmp_path, {})
    h.ok("items", "publish", h.item("item.md"))
    h.ok("sync")
    before = h.snapshot()
    out = tmp_path / "r"
    today = datetime.now(CHINA_TZ).date().isoformat()
    monkeypatch.setattr(replay_module, "_UPSERT", "INSERT INTO nowhere VALUES (?)")
    result = h("audit", "replay", "--as-of", today, "--out", out)
    assert result.exit_code == 1, result.output
    assert "cannot use the replay's scratch file (no such table: nowhere)" in (
        result.stderr
    )
    assert "replay.sqlite" in result.stderr
    assert "event store" not in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
    monkeypatch.undo()
    h.ok("audit", "replay", "--as-of", today, "--out", out)
    assert sorted(p.name for p in out.iterdir()) == [
        "archive",
        "feeds",
        "portal",
        "replay.json",
    ]
    assert h.snapshot() == before
