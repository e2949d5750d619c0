"""Careless and hostile input to `items publish/revise/withdraw/show` (issue 13, item 7).

Each is refused with a message naming the field and the problem, a non-zero exit code, no
traceback, and an unchanged event log; re-running a publish cut short is not an error.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syndicate.application import Disclosures
from syndicate.attachments import AttachmentStore
from syndicate.cli import app
from syndicate.domain.content import (
    Admission,
    ItemContent,
    NoticePeriod,
    admission_problems,
    parse_item_ref,
)
from syndicate.domain.items import DisclosureItem
from syndicate.errors import AlreadyPublished, InputError
from syndicate.itemfiles import MAX_ITEM_FILE_BYTES, load_item_file
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.conftest import ITEM_BODY, ITEM_FILE, ITEM_FRONT, content

REF = "临溪县民政局/11330100MB0000006R/2026-00019"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    Project.init(home, environ={}, keys=False, review=False)
    return home


def run(home: Path, *args: str | Path) -> Result:
    result = CliRunner(env={"SYNDICATE_ACTOR": "审阅"}).invoke(
        app, ["--home", str(home), *map(str, args)]
    )
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return result


def snapshot(home: Path) -> list[tuple[int, str, bytes]]:
    with Project.load(home, environ={}).disclosures() as log:
        return log_snapshot(log)


def item_json(**overrides: object) -> str:
    data: dict[str, object] = content().model_dump(mode="json")
    data.update(overrides)
    return json.dumps(data, ensure_ascii=False)


def md(front: str = ITEM_FRONT, body: str = ITEM_BODY) -> str:
    return f"+++\n{front}+++\n{body}"


def refused(home: Path, path: Path, *messages: str, code: int = 2) -> None:
    """`publish`, `publish --dry-run` and `revise` all refuse `path` with `messages`."""
    before = snapshot(home)
    for args in (
        ("items", "publish", path),
        ("items", "publish", "--dry-run", path),
        ("items", "revise", REF, path, "--reason", "更正"),
    ):
        result = run(home, *args)
        assert result.exit_code == code, (args, result.output)
        for message in messages:
            assert message in result.stderr, (args, result.stderr)
    assert snapshot(home) == before


@pytest.fixture
def published(home: Path, tmp_path: Path) -> Path:
    """A home with the conftest item published (so `revise` has something to revise)."""
    path = tmp_path / "published.md"
    path.write_text(ITEM_FILE, "utf-8")
    assert run(home, "items", "publish", path).exit_code == 0
    return home


# -- numbers no field takes ---------------------------------------------------------------


def test_a_json_number_of_5000_digits_names_the_field(
    published: Path, tmp_path: Path
) -> None:
    path = tmp_path / "big.json"
    path.write_text(item_json(index_no="@").replace('"@"', "1" * 5000), "utf-8")
    refused(published, path, f"{path}: index_no: is a number with 5000 digits")
    # Nowhere near the limit, but still no field's value: named, not converted.
    path.write_text(item_json(title="@").replace('"@"', "-" + "9" * 60), "utf-8")
    refused(published, path, f"{path}: title: is a number with 60 digits")
    path.write_text(item_json(attachments=["@"]).replace('"@"', "8" * 5000), "utf-8")
    refused(published, path, f"{path}: attachments[0]: is a number with 5000 digits")


def test_toml_huge_numbers_name_the_field_and_line(
    published: Path, tmp_path: Path
) -> None:
    path = tmp_path / "big.toml"
    path.write_text(
        ITEM_FRONT.replace(
            'index_no = "11330100MB0000006R/2026-00019"', "index_no = " + "7" * 5000
        )
        + 'body = "正文"\n',
        "utf-8",
    )
    refused(
        published, path, "index_no: is a number with more than 4,300 digits", "line 2"
    )
    path.write_text(
        ITEM_FRONT.replace("formed_on = 2026-04-10", "formed_on = 1e999")
        .replace('title = "临溪县', "title = nan\nx = 0\n#")
        .replace("x = 0\n", "")
        + 'body = "正文"\n',
        "utf-8",
    )
    refused(
        published,
        path,
        "formed_on: expected a date like 2026-03-01, got float",
        "title: must be text in quotes, not a number",
    )


def test_nan_and_infinity_are_not_json(published: Path, tmp_path: Path) -> None:
    path = tmp_path / "nan.json"
    text = item_json(title="@", formed_on="#").replace('"@"', "NaN")
    path.write_text(text.replace('"#"', "-Infinity"), "utf-8")
    refused(
        published,
        path,
        "title: NaN is not JSON",
        "formed_on: -Infinity is not JSON",
    )


def test_deep_nesting_in_toml_and_json_inside_a_field(
    published: Path, tmp_path: Path
) -> None:
    toml = tmp_path / "deep.toml"
    toml.write_text("title = " + "[" * 50000 + "]" * 50000 + "\n", "utf-8")
    refused(published, toml, "nested too deeply")
    inner = tmp_path / "inner.json"
    inner.write_text(
        item_json(channels="@").replace('"@"', "[" * 900 + "]" * 900), "utf-8"
    )
    refused(published, inner, "channels: must be a list of channel names")


def test_a_key_given_twice_in_toml_names_the_field_and_line(
    published: Path, tmp_path: Path
) -> None:
    path = tmp_path / "twice.toml"
    path.write_text(ITEM_FRONT + 'body = "正文"\ntitle = "又一个标题"', "utf-8")
    refused(published, path, "title: given twice; keep one (line 9)")


# -- files that are not item files --------------------------------------------------------


def test_a_100_mb_file_is_refused_before_it_is_read(
    published: Path, tmp_path: Path
) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as handle:
        handle.write(ITEM_FILE.encode())
        handle.truncate(100 * 1024 * 1024)  # sparse: costs no disk
    refused(
        published,
        path,
        f"{path}: the file is 104,857,600 bytes; item files are at most "
        f"{MAX_ITEM_FILE_BYTES:,} bytes",
    )


def test_binary_non_utf8_and_bom_files(published: Path, tmp_path: Path) -> None:
    binary = tmp_path / "scan.md"
    binary.write_bytes(b"%PDF-1.7\n\x00\x01\x02\xff")
    refused(published, binary, "contains a NUL byte (line 2): it is binary")
    gbk = tmp_path / "gbk.md"
    gbk.write_bytes(ITEM_FILE.encode("gb18030"))
    refused(published, gbk, "not UTF-8 text (the first bad byte is at line 2, byte 11)")
    utf16 = tmp_path / "notepad.toml"
    utf16.write_bytes((ITEM_FRONT + 'body = "x"\n').encode("utf-16"))
    refused(published, utf16, "the file is UTF-16 text")
    # A UTF-8 byte order mark (Windows Notepad) is fine in every format.
    for name, text in (
        ("bom.md", ITEM_FILE),
        ("bom.json", item_json()),
        ("bom.toml", ITEM_FRONT + f'body = """{ITEM_BODY}"""\n'),
    ):
        path = tmp_path / name
        path.write_text("\ufeff" + text, "utf-8")
        assert load_item_file(path).content == content()


def test_a_fifo_is_not_read(published: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    # Should the loader ever open it, this writer lets it see EOF instead of hanging.
    done = threading.Event()

    def unblock() -> None:
        if not done.wait(10):
            with fifo.open("wb"):
                pass

    threading.Thread(target=unblock, daemon=True).start()
    try:
        refused(published, fifo, f"{fifo}: not a regular file")
    finally:
        done.set()


# -- implausible dates and names -----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "formed_on = 2026-04-10",
            "formed_on = 0001-01-01",
            "formed_on: 0001-01-01 is before 1949-10-01",
        ),
        (
            "formed_on = 2026-04-10",
            "formed_on = 1949-09-30",
            "formed_on: 1949-09-30 is before 1949-10-01",
        ),
        (
            "formed_on = 2026-04-10",
            "formed_on = 2026-04-10\nnotice_period = { start = 2026-04-11, end = 9999-12-31 }",
            f"notice_period: 2026-04-11 to 9999-12-31 is "
            f"{(date(9999, 12, 31) - date(2026, 4, 11)).days + 1} days; a notice period "
            "is at most 366 days",
        ),
        (
            "formed_on = 2026-04-10",
            "formed_on = 2026-04-10\nnotice_period = { start = 0001-01-01, end = 2026-04-11 }",
            "notice_period: start: 0001-01-01 is before 1949-10-01",
        ),
        (
            'agency = "临溪县民政局"',
            'agency = "."',
            "agency: '.' has no letter or digit",
        ),
        (
            'agency = "临溪县民政局"',
            'agency = ".."',
            "agency: '..' has no letter or digit",
        ),
        (
            'agency = "临溪县民政局"',
            'agency = "——（）"',
            "agency: '——（）' has no letter",
        ),
        ('agency = "临溪县民政局"', 'agency = "  "', "agency: must not be empty"),
        (
            'agency = "临溪县民政局"',
            'agency = "县\\u001b[2J"',
            "agency: must be a single",
        ),
        ('agency = "临溪县民政局"', 'agency = "a/b"', "agency: must not contain '/'"),
        (
            'agency = "临溪县民政局"',
            f'agency = "{"局" * 101}"',
            "agency: is longer than 100",
        ),
        (
            'index_no = "11330100MB0000006R/2026-00019"',
            'index_no = "../.."',
            "index_no: '../..' has no letter or digit",
        ),
        (
            'index_no = "11330100MB0000006R/2026-00019"',
            f'index_no = "{"1" * 65}"',
            "index_no: is longer than 64 characters",
        ),
        (
            'title = "临溪县2026年第一季度城乡最低生活保障审批结果公告"',
            'title = "？？？"',
            "title: '？？？' has no letter or digit",
        ),
    ],
)
def test_implausible_dates_and_names_are_refused(
    published: Path, tmp_path: Path, old: str, new: str, message: str
) -> None:
    front = ITEM_FRONT.replace(old, new)
    assert front != ITEM_FRONT
    path = tmp_path / "odd.md"
    path.write_text(md(front), "utf-8")
    refused(published, path, f"{path}: {message}")


def test_the_earliest_date_and_a_year_long_notice_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.md"
    front = ITEM_FRONT.replace(
        "formed_on = 2026-04-10",
        "formed_on = 1949-10-01\nnotice_period = { start = 2026-01-01, end = 2027-01-01 }",
    )
    path.write_text(md(front), "utf-8")
    loaded = load_item_file(path)
    assert loaded.content.formed_on == date(1949, 10, 1)


def test_rules_relative_to_the_clock(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 4, 10, 2, 0, tzinfo=UTC))
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
    with Disclosures(env, clock=clock) as log:
        today = date(2026, 4, 10)
        far = content(notice_period={"start": "2027-04-12", "end": "2027-04-20"})
        assert admission_problems(far) == []  # without a clock: fixed rules only
        [problem] = admission_problems(far, today=today)
        assert str(problem).startswith(
            "notice_period.start: 2027-04-12 is more than 366 days after today "
            "(2026-04-10 in China)"
        )
        with pytest.raises(InputError, match=r"notice_period\.start: 2027-04-12"):
            log.publish(far, actor="张三")
        soon = content(notice_period={"start": "2027-04-11", "end": "2027-04-20"})
        assert admission_problems(soon, today=today) == []
        with pytest.raises(InputError, match="formed_on: 2026-04-11 is in the future"):
            log.publish(content(formed_on="2026-04-11"), actor="张三")
        with pytest.raises(InputError, match=r"agency: '\.\.' has no letter"):
            log.publish(content(agency=".."), actor="张三")
        # Item files hear of the clock's rules at load time when given `today`.
        path = tmp_path / "future.md"
        path.write_text(
            md(ITEM_FRONT.replace("2026-04-10", "2026-04-11")).replace(
                'title = "临溪县', 'title = "？'
            ),
            "utf-8",
        )
        with pytest.raises(InputError) as info:
            load_item_file(path, today=today)
        fields = sorted(p.field for p in info.value.problems)
        assert fields == ["formed_on"]
        assert load_item_file(path).content.formed_on == date(2026, 4, 11)
        assert log.position() == 0


def test_stored_events_are_never_judged_by_the_admission_rules() -> None:
    """A rule added later must not make the log unreadable: events read back as stored."""
    odd = ItemContent.model_validate(
        content().model_dump() | {"agency": "..", "formed_on": date(1, 1, 1)}
    )
    assert admission_problems(odd)  # refused when admitted ...
    with pytest.raises(Exception, match="has no letter"):
        ItemContent.model_validate(odd.model_dump(), context={"admission": Admission()})
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
    with Disclosures(env, clock=FixedClock()) as log:
        # ... but as if it had been stored before the rule existed, it still reads back.
        log.save(DisclosureItem.publish(odd, actor="旧系统", at=FixedClock()()))
        assert log.get(odd.id).content == odd
        assert [s.agency for s in log.items()] == [".."]
    assert NoticePeriod(start=date(1, 1, 1), end=date(9999, 12, 31)).end.year == 9999


# -- a publish cut short, run again ---------------------------------------------------------


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "notices"
    folder.mkdir()
    for n in range(4):
        (folder / f"{n}.md").write_text(
            ITEM_FILE.replace("2026-00019", f"2026-0010{n}"), "utf-8"
        )
    return folder


def test_rerunning_a_publish_cut_short_publishes_the_rest(
    home: Path, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    # The "crash": only the first two files made it into the log.
    first = run(home, "items", "publish", folder / "0.md", folder / "1.md")
    assert first.exit_code == 0
    dry = run(home, "items", "publish", "--dry-run", folder)
    assert dry.exit_code == 0, dry.output
    assert (
        "checked 4 file(s): 2 would publish, 2 already published (identical), "
        "0 would be refused; nothing published"
    ) in dry.stderr
    again = run(home, "items", "publish", folder)
    assert again.exit_code == 0, again.output
    assert "published 2 of 4 item file(s); 2 already published, identical" in (
        again.stderr
    )
    assert f"note: {folder / '0.md'}: already published, identical" in again.stderr
    assert len(again.stdout.splitlines()) == 2  # stdout: the ids of new items only
    assert len(snapshot(home)) == 4
    # Nothing left to do: still success, and the log does not grow.
    third = run(home, "items", "publish", folder)
    assert third.exit_code == 0
    assert "published 0 of 4 item file(s); 4 already published, identical" in (
        third.stderr
    )
    assert len(snapshot(home)) == 4


def test_a_changed_file_for_a_published_item_is_still_refused(
    home: Path, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    assert run(home, "items", "publish", folder / "0.md").exit_code == 0
    changed = folder / "0.md"
    changed.write_text(changed.read_text("utf-8").replace("47户", "48户"), "utf-8")
    before = snapshot(home)
    for args in (("--dry-run",), ()):
        result = run(home, "items", "publish", *args, folder)
        assert result.exit_code == 1, result.output
        assert f"error: {changed}: already published: " in result.stderr
        assert "this content differs from its version 1" in result.stderr
        assert (
            f"syndicate items revise '临溪县民政局/11330100MB0000006R/2026-00100' "
            f"{changed} --reason"
        ) in result.stderr
    assert "published 3 of 4 item file(s); 1 refused" in result.stderr
    assert len(snapshot(home)) == len(before) + 3


def test_library_says_how_an_existing_item_compares() -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
    with Disclosures(env, clock=FixedClock(), attachments=None) as log:
        v1 = content()
        change = log.publish(v1, actor="张三")
        with pytest.raises(AlreadyPublished, match="already published, identical") as e:
            log.publish(v1, actor="李四")
        assert (e.value.identical, e.value.revisable) == (True, False)
        v2 = content(body="更正后的正文。")
        with pytest.raises(AlreadyPublished, match="differs from its version 1") as e:
            log.publish(v2, actor="李四")
        assert (e.value.identical, e.value.revisable) == (False, True)
        log.revise(change.item_id, v2, reason="更正", actor="张三")
        with pytest.raises(
            AlreadyPublished, match="is its version 1, but it is at"
        ) as e:
            log.publish(v1, actor="李四")
        assert (e.value.identical, e.value.revisable) == (False, False)
        [(_, verdict)] = log.check_publish([v2], actor="李四")
        assert isinstance(verdict, AlreadyPublished)
        assert verdict.identical
        log.withdraw(change.item_id, reason="撤回", actor="张三")
        with pytest.raises(AlreadyPublished, match="never reused") as e:
            log.publish(v2, actor="李四")
        assert not e.value.identical
        assert log.position() == 3


# -- refs, reasons, notes, versions ----------------------------------------------------------


def test_refs_with_escape_sequences_or_absurd_length_are_refused(
    published: Path,
) -> None:
    before = snapshot(published)
    for ref in ("临溪县\x1b[31m民政局/x", "a\u202e/b", "x" * 100_000):
        for args in (
            ("items", "show", ref),
            ("items", "withdraw", ref, "--reason", "r"),
        ):
            result = run(published, *args)
            assert result.exit_code == 2, (ref[:20], result.output)
            assert result.stderr.startswith("error: REF: ")
            assert "\x1b" not in result.stderr
            assert len(result.stderr) < 300
    with pytest.raises(ValueError, match="control or invisible"):
        parse_item_ref("局\x00/1")
    assert snapshot(published) == before


def test_reasons_notes_and_versions_out_of_range(
    published: Path, tmp_path: Path
) -> None:
    before = snapshot(published)
    changed = tmp_path / "changed.md"
    changed.write_text(ITEM_FILE.replace("47户", "48户"), "utf-8")
    cases: list[tuple[tuple[str | Path, ...], int, str]] = [
        (("items", "revise", REF, changed, "--reason", ""), 2, "--reason: must not be"),
        (("items", "revise", REF, changed, "--reason", "x" * 100_000), 2, "--reason"),
        (("items", "revise", REF, changed, "--reason", "a\x1b[2Jb"), 2, "--reason"),
        (("items", "withdraw", REF, "--reason", " \t "), 2, "--reason: must not be"),
        (
            ("items", "withdraw", REF, "--reason", "r", "--note", "注" * 2001),
            2,
            "--note",
        ),
        (("items", "show", REF, "--version", "9" * 30), 1, "has no version 9999"),
        (
            ("items", "withdraw", REF, "--reason", "r", "--if-version", "9" * 30),
            1,
            "not 9",
        ),
        (("items", "show", "--", "------"), 1, "no item ------"),
        (("items", "publish", changed, "--actor", "a\x1b[2J"), 2, "--actor: must be"),
        (("items", "publish", changed, "--actor", "人" * 101), 2, "--actor: is longer"),
    ]
    for args, code, fragment in cases:
        result = run(published, *args)
        assert result.exit_code == code, (args[:3], result.output)
        assert fragment in result.stderr, (args[:3], result.stderr)
    assert snapshot(published) == before


# -- attachments -----------------------------------------------------------------------------


@pytest.fixture
def attachment_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "items"
    folder.mkdir()
    (folder / "folder").mkdir()
    os.mkfifo(folder / "pipe.csv")
    (tmp_path / "secret.txt").write_text("不公开", "utf-8")
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")
    with (folder / "huge.pdf").open("wb") as handle:
        handle.truncate(101 * 1024 * 1024)
    return folder


def test_attachments_that_are_not_plain_files(
    published: Path, attachment_dir: Path
) -> None:
    path = attachment_dir / "a.md"
    listed = '["folder", "pipe.csv", "link.txt", "huge.pdf", "", "../secret.txt"]'
    path.write_text(md(ITEM_FRONT + f"attachments = {listed}\n"), "utf-8")
    refused(
        published,
        path,
        "attachments[0]: folder is a directory, not a file",
        "attachments[1]: pipe.csv is not a regular file",
        "attachments[2]: must be a file in the item file's folder",
        "attachments[3]: huge.pdf is 105906176 bytes; attachments are limited",
        "attachments[4]: path is empty",
        "attachments[5]: must be a file in the item file's folder",
    )
    nul = attachment_dir / "nul.json"
    nul.write_text(item_json(attachments=["a\x00b.csv"]), "utf-8")
    refused(published, nul, "attachments[0]: path is empty or holds a NUL character")
    many = attachment_dir / "many.md"
    (attachment_dir / "x.csv").write_text("x\n", "utf-8")
    many.write_text(md(ITEM_FRONT + f"attachments = {['x.csv'] * 101}\n"), "utf-8")
    refused(published, many, "attachments: lists 101 files; at most 100")


def test_attachment_store_is_untouched_by_a_refused_file(
    home: Path, attachment_dir: Path
) -> None:
    (attachment_dir / "ok.csv").write_text("户主\n", "utf-8")
    path = attachment_dir / "a.md"
    front = ITEM_FRONT.replace("formed_on = 2026-04-10", "formed_on = 0001-01-01")
    path.write_text(md(front + 'attachments = ["ok.csv"]\n'), "utf-8")
    result = run(home, "items", "publish", path)
    assert result.exit_code == 2
    store = AttachmentStore(home / "data" / "attachments")
    assert not store.root.exists() or not any(store.root.rglob("*"))
