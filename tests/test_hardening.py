"""Hostile and odd input found in review: each is refused clearly, nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.project import Project
from syndicate.testing import log_snapshot
from tests.conftest import ITEM_FILE, ITEM_FRONT, content

# Digits typed on a Chinese keyboard in full-width mode.
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


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
    return result


def snapshot(home: Path) -> list[tuple[int, str, bytes]]:
    with Project.load(home, environ={}).disclosures() as log:
        return log_snapshot(log)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("index_no", "11330100MB0000006R/2026-00019\u200b", "U+200B"),
        ("agency", "临溪县民政局\ufeff", "U+FEFF"),
        ("title", "公告\u202e告公", "U+202E"),
        ("title", "第一行\u2028第二行", "U+2028"),
        ("title", "公\x85告", "control"),
    ],
)
def test_invisible_characters_cannot_fake_a_second_item(
    home: Path, tmp_path: Path, field: str, value: str, fragment: str
) -> None:
    data = content().model_dump(mode="json")
    data[field] = value
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    result = run(home, "items", "publish", path)
    assert result.exit_code == 2
    assert f"{field}: " in result.stderr
    assert fragment in result.stderr
    assert snapshot(home) == []


def test_full_width_index_numbers_are_the_same_item(home: Path, tmp_path: Path) -> None:
    first = tmp_path / "a.md"
    first.write_text(ITEM_FILE, "utf-8")
    second = tmp_path / "b.md"
    second.write_text(
        ITEM_FILE.replace("2026-00019", "2026-00019".translate(FULL_WIDTH)), "utf-8"
    )
    assert run(home, "items", "publish", first).exit_code == 0
    before = snapshot(home)
    # The same content once folded: the same item, already published, nothing to do.
    again = run(home, "items", "publish", second)
    assert again.exit_code == 0
    assert "already published, identical" in again.stderr
    other = tmp_path / "c.md"
    other.write_text(second.read_text("utf-8").replace("47户", "48户"), "utf-8")
    changed = run(home, "items", "publish", other)
    assert changed.exit_code == 1
    assert "already published" in changed.stderr
    assert snapshot(home) == before


def test_lone_surrogates_and_bad_arguments_are_input_errors(
    home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "s.json"
    data = content().model_dump(mode="json")
    path.write_text(
        json.dumps(data).replace('"title": "', '"title": "\\ud800'), "utf-8"
    )
    result = run(home, "items", "publish", path)
    assert result.exit_code == 2
    assert "title: contains bytes that are not valid UTF-8" in result.stderr
    assert run(home, "items", "show", "A\udcff/x").exit_code == 2


def test_a_version_that_does_not_exist_is_not_found(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(ITEM_FILE, "utf-8")
    run(home, "items", "publish", path)
    ref = "临溪县民政局/11330100MB0000006R/2026-00019"
    assert run(home, "items", "show", ref, "--version", "1").exit_code == 0
    missing = run(home, "items", "show", ref, "--version", "9")
    assert missing.exit_code == 1
    assert "has no version 9" in missing.stderr


def test_attachments_must_live_beside_the_item_file(home: Path, tmp_path: Path) -> None:
    (home / "secret.txt").write_text("not for the public", "utf-8")
    items = tmp_path / "items"
    items.mkdir()
    path = items / "a.md"
    path.write_text(
        f'+++\n{ITEM_FRONT}attachments = ["../home/secret.txt"]\n+++\n正文\n', "utf-8"
    )
    result = run(home, "items", "publish", path)
    assert result.exit_code == 2
    assert "attachments[0]: must be a file in the item file's folder" in result.stderr
    assert snapshot(home) == []


def test_deep_nesting_duplicate_keys_and_bom(home: Path, tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000, "utf-8")
    assert "nested too deeply" in run(home, "items", "publish", deep).stderr
    twice = tmp_path / "twice.json"
    twice.write_text('{"title": "a", "title": "b"}', "utf-8")
    result = run(home, "items", "publish", twice)
    assert result.exit_code == 2
    assert "title: given twice" in result.stderr
    bom = tmp_path / "bom.toml"
    bom.write_text("\ufeff" + ITEM_FRONT + 'body = "正文"\n', "utf-8")
    assert run(home, "items", "publish", "--dry-run", bom).exit_code == 0


def test_dry_run_checks_what_the_real_run_would_refuse(
    home: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.md"
    good.write_text(ITEM_FILE, "utf-8")
    run(home, "items", "publish", good)
    future = tmp_path / "future.md"
    future.write_text(
        ITEM_FILE.replace("2026-00019", "2026-00020").replace(
            "2026-04-10", "2099-01-01"
        ),
        "utf-8",
    )
    result = run(home, "items", "publish", "--dry-run", good, future)
    assert result.exit_code == 2
    assert "already published" in result.stderr
    assert "formed_on: 2099-01-01 is in the future" in result.stderr
    assert len(snapshot(home)) == 1


def test_option_errors_name_the_option_and_come_first(
    home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "a.md"
    path.write_text(ITEM_FILE, "utf-8")
    run(home, "items", "publish", path)
    ref = "临溪县民政局/11330100MB0000006R/2026-00019"
    run(home, "items", "withdraw", ref, "--reason", "r")
    blank = run(home, "items", "withdraw", ref, "--reason", "  ")
    assert blank.exit_code == 2
    assert "--reason: must not be empty" in blank.stderr
    revised = run(home, "items", "revise", ref, path, "--reason", " ")
    assert revised.exit_code == 2
    assert "error: --reason: must not be empty" in revised.stderr


def test_uppercase_id_prefixes_resolve(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(ITEM_FILE, "utf-8")
    item_id = run(home, "items", "publish", path).stdout.split()[0]
    assert run(home, "items", "show", item_id[:8].upper()).exit_code == 0


def test_a_failed_init_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "h"
    runner = CliRunner()
    bad = runner.invoke(app, ["--home", str(home), "init", "--store", "mysql://x/y"])
    assert bad.exit_code == 2
    assert not (home / "syndicate.toml").exists()
    unreachable = runner.invoke(
        app, ["--home", str(home), "init", "--store", "postgresql://u@127.0.0.1:1/db"]
    )
    assert unreachable.exit_code == 1
    assert not (home / "syndicate.toml").exists()
    assert (
        runner.invoke(app, ["--home", str(home), "init", "--no-review"]).exit_code == 0
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://:pw-secret@127.0.0.1:5432/test",
        "postgresql://u:s3cr/et@127.0.0.1/test",
    ],
)
def test_passwords_in_store_urls_are_refused_without_echo(
    tmp_path: Path, url: str
) -> None:
    result = CliRunner().invoke(
        app, ["--home", str(tmp_path / "h"), "init", "--store", url]
    )
    assert result.exit_code == 2
    assert "password" in result.stderr
    for secret in ("pw-secret", "s3cr/et", "s3cr"):
        assert secret not in result.output
    assert not (tmp_path / "h" / "syndicate.toml").exists()


def test_bad_port_is_a_configuration_error(tmp_path: Path) -> None:
    result = CliRunner(
        env={"SYNDICATE_STORE_URL": "postgresql://u@127.0.0.1:99999/db"}
    ).invoke(app, ["--home", str(tmp_path / "h"), "init", "--no-review"])
    assert result.exit_code == 2
    assert "store.url: not a valid URL" in result.stderr


def test_a_damaged_database_is_reported_not_raised(home: Path) -> None:
    (home / "data" / "disclosures.db").write_bytes(b"this is not a database" * 100)
    for name in ("disclosures.db-wal", "disclosures.db-shm"):
        (home / "data" / name).unlink(missing_ok=True)
    result = run(home, "items", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: event store")
