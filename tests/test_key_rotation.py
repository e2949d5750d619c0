"""Rotating the audit signing key: a rotation checkpoint co-signed by the old and the
new key hands over; every checkpoint verifies with the key valid for it (store, export,
kept checkpoints, proof bundles); the outlets witness every checkpoint and publish the
current and the retired keys; forged rotations are findings."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from syndicate.audit.log import (
    Kept,
    LogReader,
    checkpoint,
    open_audit,
    verify_leaves,
    verify_proof,
)
from syndicate.audit.store import AuditStore
from syndicate.cli import app
from syndicate.project import Project
from syndicate.signing import (
    Checkpoint,
    KeyChain,
    SignatureError,
    Signer,
    Verifier,
    sign_note,
    write_signer_file,
    write_verifier_file,
)
from tests.conftest import ITEM_FILE
from tests.test_audit_log import MemoryRecorder

REF = "临溪县民政局/11330100MB0000006R/2026-00019"
AUDIT = "out/portal/.well-known/syndicate-audit"
OUTLETS = """
[outlets.portal]
kind = "portal"
channel = "portal"
path = "out/portal"
site_url = "https://www.linxi.gov.cn"
site_name = "临溪县人民政府"
site_id_code = "3301000001"

[outlets.feeds]
kind = "rss"
channel = "rss"
path = "out/feeds"
site_url = "https://www.linxi.gov.cn"
site_name = "临溪县人民政府"
"""


def _home(tmp_path: Path, environ: dict[str, str]) -> tuple[Path, Any]:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "审计员", **environ})

    def cli(*args: str) -> Result:
        return runner.invoke(app, ["--home", str(home), *args])

    assert cli("init", "--no-review").exit_code == 0
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(OUTLETS)
    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    assert cli("items", "publish", str(tmp_path / "item.md")).exit_code == 0
    synced = cli("sync")
    assert synced.exit_code == 0, synced.output
    assert "checkpoint #1" in synced.output
    return home, cli


def _revise(cli: Any, tmp_path: Path, text: str) -> Result:
    (tmp_path / "v.md").write_text(ITEM_FILE.replace("47户73人", text), "utf-8")
    revised = cli("items", "revise", REF, str(tmp_path / "v.md"), "--reason", "更正")
    assert revised.exit_code == 0, revised.output
    synced: Result = cli("sync")
    assert synced.exit_code == 0, synced.output
    return synced


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def test_replacing_the_key_files_refuses_clearly_instead_of_crashing_the_portal(
    tmp_path: Path,
) -> None:
    """The old documented way (delete both key files, `init`): `audit checkpoint`
    recorded a checkpoint under the new key, then crashed in the portal's `witness`
    (ValueError: checkpoint #1: no signature by key …). Now it refuses, says what to
    do, and records nothing."""
    home, cli = _home(tmp_path, {})
    for name in ("audit-signing.key", "audit-signing.pub"):
        (home / "keys" / name).unlink()
    assert cli("init", "--no-review").exit_code == 0
    (tmp_path / "item2.md").write_text(
        ITEM_FILE.replace("2026-00019", "2026-00020"), "utf-8"
    )
    assert cli("items", "publish", str(tmp_path / "item2.md")).exit_code == 0
    result = cli("audit", "checkpoint")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.exit_code != 0
    assert "is not the key in force after checkpoint #1" in result.output
    assert "rotate-key" in result.output
    listed = json.loads(_ok(cli("audit", "checkpoints", "--json")).stdout)
    assert [r["number"] for r in listed] == [1]


def test_a_store_with_a_checkpoint_under_another_key_is_not_witnessed_and_no_crash(
    tmp_path: Path,
) -> None:
    """A checkpoint store that already holds a key change without a rotation (made
    before rotations existed): checkpointing after a rotation must not crash on it."""
    home, cli = _home(tmp_path, {})
    project = Project.load(home)
    old_pub = (home / "keys/audit-signing.pub").read_text().strip()
    other = Signer.generate(Verifier.from_text(old_pub).name)
    with open_audit(project) as store:
        latest = store.latest()
        assert latest is not None
        body = latest.note.rsplit("\n\n", 1)[0] + "\n"
        fields = latest.as_json()
        store.record(
            **{
                k: v
                for k, v in fields.items()
                if k not in ("at", "number", "note", "public_key")
            }
            | {
                "number": 2,
                "note": other.sign(body),
                "public_key": other.verifier().to_text(),
                "timestamp": latest.at,
            }
        )
    # The home's key is now that other key: it is in force after #2, so #3 is signed;
    # the outlets refuse to vouch for #2 (not handed over to) and say so.
    for name in ("audit-signing.key", "audit-signing.pub"):
        (home / "keys" / name).unlink()
    write_signer_file(home / "keys/audit-signing.key", other)
    write_verifier_file(home / "keys/audit-signing.pub", other.verifier())
    before = (home / AUDIT / "public-key.txt").read_text()
    result = _revise(cli, tmp_path, "47户75人")  # sync checkpoints (#3) and witnesses
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "NOT published on portal (checkpoint #2: " in result.output
    assert (home / AUDIT / "public-key.txt").read_text() == before
    (tmp_path / "both.pub").write_text(old_pub + "\n" + other.verifier().to_text())
    verified = cli("audit", "verify", "--pubkey", str(tmp_path / "both.pub"))
    assert verified.exit_code == 1
    assert verified.stdout.startswith("FAIL signature: checkpoint #2 ")
    assert "FAIL signature: checkpoint #1" not in verified.stdout


def test_rotation_end_to_end(tmp_path: Path) -> None:
    home, cli = _home(tmp_path, {})
    keys = home / "keys"
    old_private = (keys / "audit-signing.key").read_text()
    old_pub = (keys / "audit-signing.pub").read_text().strip()
    (tmp_path / "old.pub").write_text(old_pub + "\n")
    kept_old = tmp_path / "kept-1.txt"
    kept_old.write_text((home / AUDIT / "checkpoint.txt").read_text())

    rotated = _ok(cli("audit", "rotate-key"))
    assert rotated.stdout.startswith("checkpoint #2: ")
    assert "a key rotation signed by" in rotated.stdout
    assert "published on portal, feeds" in rotated.stdout
    new_pub = (keys / "audit-signing.pub").read_text().strip()
    assert new_pub != old_pub
    assert Verifier.from_text(new_pub).name == Verifier.from_text(old_pub).name
    (tmp_path / "new.pub").write_text(new_pub + "\n")
    # The old private key is gone; the new one is in its place, owner-only.
    new_private = (keys / "audit-signing.key").read_text()
    assert new_private != old_private
    assert old_private.strip() not in rotated.output
    assert (keys / "audit-signing.key").stat().st_mode & 0o077 == 0
    assert not (keys / "audit-signing.key.new").exists()
    assert (keys / "audit-retired.pub").read_text() == old_pub + "\n"
    assert _ok(cli("audit", "pubkey")).stdout == f"{new_pub}\n{old_pub}\n"
    for path in keys.iterdir():
        assert old_private.strip() not in path.read_text()
    # The rotation checkpoint is signed by both and names both keys.
    listed = json.loads(_ok(cli("audit", "checkpoints", "--json")).stdout)
    rotation = listed[1]
    assert rotation["trigger"] == "rotation"
    assert f"key-rotation {old_pub} {new_pub}\n" in rotation["note"]
    assert rotation["note"].count("\n\u2014 ") == 2
    assert rotation["public_key"] == new_pub

    # From now on checkpoints are signed by the new key alone.
    _revise(cli, tmp_path, "47户74人")
    listed = json.loads(_ok(cli("audit", "checkpoints", "--json")).stdout)
    assert len(listed) == 3
    note3 = listed[2]["note"]
    Verifier.from_text(new_pub).verify(note3)
    with pytest.raises(SignatureError):
        Verifier.from_text(old_pub).verify(note3)

    # The outlets witnessed every checkpoint, with the current and retired keys.
    audit = home / AUDIT
    assert (audit / "public-key.txt").read_text() == f"{new_pub}\n{old_pub}\n"
    assert {p.name for p in (audit / "checkpoints").iterdir()} == {
        "1.txt",
        "2.txt",
        "3.txt",
    }
    assert (audit / "checkpoint.txt").read_text() == note3
    page = (home / "out/portal/audit/index.html").read_text("utf-8")
    assert new_pub in page
    assert old_pub in page
    assert "已停用的公钥" in page
    feed = (home / "out/feeds/checkpoints.xml").read_text("utf-8")
    assert feed.count("<entry>") == 3
    _ok(cli("audit", "consistency"))  # the witnessed files are what the log gives

    # The store verifies with the home's keys, the old key alone (through the
    # rotation), and both; the new key alone cannot vouch for what came before it.
    assert "2 checkpoints" not in _ok(cli("audit", "verify")).stdout
    _ok(cli("audit", "verify", "--pubkey", str(tmp_path / "old.pub")))
    # Repeated --pubkey options add up (the last alone, the new key, would fail);
    # a file of several keys, one per line (the portal's), is read whole.
    _ok(
        cli(
            "audit", "verify", "--pubkey", str(tmp_path / "old.pub"),
            "--pubkey", str(tmp_path / "new.pub"),
        )
    )  # fmt: skip
    _ok(cli("audit", "verify", "--pubkey", str(audit / "public-key.txt")))
    only_new = cli("audit", "verify", "--pubkey", str(tmp_path / "new.pub"), "--json")
    assert only_new.exit_code == 1
    findings = json.loads(only_new.stdout)["findings"]
    assert [(f["kind"], f["checkpoint"]) for f in findings][:2] == [
        ("signature", 1),
        ("signature", 2),
    ]

    # Export: it carries both keys and the rotation; verified offline.
    kept_new = tmp_path / "kept-3.txt"
    kept_new.write_text(note3)
    export = tmp_path / "export"
    _ok(cli("audit", "export", str(export)))
    assert (export / "public-key.txt").read_text() == f"{new_pub}\n{old_pub}\n"
    runner = CliRunner()
    for pubkeys in ([], ["--pubkey", str(tmp_path / "old.pub")]):
        verified = runner.invoke(
            app,
            ["audit", "verify", "--export", str(export), *pubkeys,
             "--checkpoint", str(kept_old), "--checkpoint", str(kept_new), "--json"],
        )  # fmt: skip
        assert verified.exit_code == 0, verified.output
        doc = json.loads(verified.stdout)
        assert doc["checkpoints"] == 3
        assert doc["key"] == ", ".join(
            Verifier.from_text(k).label for k in (old_pub, new_pub)
        )
    # A kept post-rotation checkpoint signed by the retired key is a finding.
    old_signer_note = Signer.from_text(old_private).sign(
        note3.rsplit("\n\n", 1)[0] + "\n"
    )
    (tmp_path / "kept-bad.txt").write_text(old_signer_note)
    bad = runner.invoke(
        app,
        ["audit", "verify", "--export", str(export),
         "--checkpoint", str(tmp_path / "kept-bad.txt")],
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "not by the key valid for checkpoint #3" in bad.stdout

    # Proof bundles: against checkpoint #3, with the rotation inside.
    _ok(cli("audit", "prove", REF, "--out", str(tmp_path / "p.json")))
    bundle = json.loads((tmp_path / "p.json").read_text("utf-8"))
    assert bundle["format"] == "syndicate-inclusion-proofs/2"
    assert bundle["public_key"] == new_pub
    assert bundle["rotations"] == [rotation["note"]]
    for pub in ("new.pub", "old.pub"):
        checked = runner.invoke(
            app,
            ["audit", "verify", "--proof", str(tmp_path / "p.json"),
             "--pubkey", str(tmp_path / pub)],
        )  # fmt: skip
        assert checked.exit_code == 0, (pub, checked.output)
    # The old key reaches the new one only through the co-signed rotation.
    (tmp_path / "cut.json").write_text(
        json.dumps(bundle | {"rotations": []}, ensure_ascii=False), "utf-8"
    )
    cut = runner.invoke(
        app,
        ["audit", "verify", "--proof", str(tmp_path / "cut.json"),
         "--pubkey", str(tmp_path / "old.pub")],
    )  # fmt: skip
    assert cut.exit_code == 1
    assert "no rotation in the bundle hands over to it" in cut.stdout
    forged = Signer.generate(Verifier.from_text(old_pub).name)
    body = rotation["note"].rsplit("\n\n", 1)[0] + "\n"
    forged_rotation = body.replace(new_pub, forged.verifier().to_text())
    (tmp_path / "forged.json").write_text(
        json.dumps(
            bundle
            | {
                "rotations": [sign_note(forged_rotation, forged)],
                "public_key": forged.verifier().to_text(),
            },
            ensure_ascii=False,
        ),
        "utf-8",
    )
    refused = runner.invoke(
        app,
        ["audit", "verify", "--proof", str(tmp_path / "forged.json"),
         "--pubkey", str(tmp_path / "old.pub")],
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "does not hand over from a trusted key" in refused.stdout

    # Rotating again: three keys, two rotations, all verify.
    _ok(cli("audit", "rotate-key"))
    _revise(cli, tmp_path, "47户76人")
    third = (keys / "audit-signing.pub").read_text().strip()
    assert _ok(cli("audit", "pubkey")).stdout == f"{third}\n{new_pub}\n{old_pub}\n"
    assert (audit / "public-key.txt").read_text() == f"{third}\n{new_pub}\n{old_pub}\n"
    doc = json.loads(
        _ok(
            cli("audit", "verify", "--pubkey", str(tmp_path / "old.pub"), "--json")
        ).stdout
    )
    assert doc["checkpoints"] == 5
    _ok(cli("audit", "consistency"))
    _ok(cli("audit", "prove", REF, "--out", str(tmp_path / "p2.json")))
    bundle2 = json.loads((tmp_path / "p2.json").read_text("utf-8"))
    assert len(bundle2["rotations"]) == 2
    assert verify_proof(bundle2, [Verifier.from_text(old_pub)])


def test_an_interrupted_rotation_is_finished_by_running_it_again(
    tmp_path: Path,
) -> None:
    home, cli = _home(tmp_path, {})
    project = Project.load(home)
    from syndicate.audit import service

    real = service._install
    calls: list[int] = []

    def crash(*args: Any) -> None:
        calls.append(1)
        raise KeyboardInterrupt  # the process stops after the checkpoint is recorded

    service._install = crash  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            service.rotate_key(project, actor="t")
    finally:
        service._install = real
    assert calls == [1]
    assert (home / "keys/audit-signing.key.new").exists()
    refused = cli("audit", "checkpoint")
    assert "Traceback" not in refused.output
    _ok(cli("audit", "checkpoints"))
    finished = _ok(cli("audit", "rotate-key"))
    assert finished.stdout.startswith("finished the interrupted rotation")
    assert not (home / "keys/audit-signing.key.new").exists()
    _revise(cli, tmp_path, "47户74人")
    _ok(cli("audit", "verify"))
    listed = json.loads(_ok(cli("audit", "checkpoints", "--json")).stdout)
    assert [r["trigger"] for r in listed] == ["sync", "rotation", "sync"]


def _memory_log(signer: Signer) -> tuple[Any, AuditStore, Any, MemoryRecorder]:
    items, deliveries = MemoryRecorder(), MemoryRecorder()
    reader = LogReader(items, deliveries)
    store = AuditStore(env={})
    return reader, store, items, deliveries


def test_forged_rotations_are_findings() -> None:
    rng = random.Random(7)
    old = Signer.generate("test-audit")
    new = Signer.generate("test-audit")
    stranger = Signer.generate("test-audit")
    reader, store, items, _ = _memory_log(old)
    for _ in range(3):
        items.add(rng)
    assert checkpoint(store, reader, old, trigger="t", actor="t") is not None
    items.add(rng)
    assert (
        checkpoint(store, reader, old, trigger="t", actor="t", rotate_to=new)
        is not None
    )
    items.add(rng)
    assert checkpoint(store, reader, new, trigger="t", actor="t") is not None
    with pytest.raises(Exception, match="not the key in force"):
        checkpoint(store, reader, old, trigger="t", actor="t")
    records = list(store.checkpoints())
    bounds = [(r.items_position, r.deliveries_position) for r in records]
    leaves = list(reader.leaves(bounds, reader.ends()))
    assert verify_leaves(leaves, records, old.verifier()).ok
    assert verify_leaves(leaves, records, [new.verifier(), old.verifier()]).ok

    def with_note(note: str, key: Verifier) -> list[Any]:
        from dataclasses import replace

        spoilt = list(records)
        spoilt[1] = replace(records[1], note=note, public_key=key.to_text())
        return spoilt

    body = records[1].note.rsplit("\n\n", 1)[0] + "\n"
    # Signed by the new key only.
    verdict = verify_leaves(
        leaves,
        with_note(new.sign(body), new.verifier()),
        [old.verifier(), new.verifier()],
    )
    first = verdict.findings[0]
    assert (first.kind, first.checkpoint) == ("signature", 2)
    assert "no signature by key" in verdict.findings[0].message
    # A rotation to a key not in the trusted set, signed by it alone.
    forged = body.replace(new.verifier().to_text(), stranger.verifier().to_text())
    verdict = verify_leaves(
        leaves,
        with_note(sign_note(forged, stranger), stranger.verifier()),
        old.verifier(),
    )
    assert ("signature", 2) in [(f.kind, f.checkpoint) for f in verdict.findings]
    # A rotation signed by a stranger in place of the key in force, co-signed by new.
    verdict = verify_leaves(
        leaves,
        with_note(sign_note(body, stranger, new), new.verifier()),
        old.verifier(),
    )
    assert ("signature", 2) in [(f.kind, f.checkpoint) for f in verdict.findings]
    # The key chain itself: a note signed by the new key before any handover.
    chain = KeyChain([old.verifier()])
    chain.verify(records[0].note)
    with pytest.raises(SignatureError):
        chain.verify(new.sign(body))
    assert Checkpoint.parse(body).size == records[1].size


def test_rotation_with_no_new_events_and_on_an_empty_log() -> None:
    old, new = Signer.generate("k"), Signer.generate("k")
    reader, store, items, _ = _memory_log(old)
    made = checkpoint(store, reader, old, trigger="t", actor="t", rotate_to=new)
    assert made is not None
    assert made.size == 0
    assert verify_leaves([], list(store.checkpoints()), old.verifier()).ok
    # The current key first, as the home lists its keys: the rotation is still read
    # as signed by the old key (in force) and handing over to the new one.
    both = [new.verifier(), old.verifier()]
    assert verify_leaves([], list(store.checkpoints()), both).ok
    assert not verify_leaves([], list(store.checkpoints()), new.verifier()).ok
    items.add(random.Random(1))
    assert checkpoint(store, reader, new, trigger="t", actor="t") is not None
    again = checkpoint(
        store, reader, new, trigger="t", actor="t", rotate_to=Signer.generate("k")
    )
    assert again is not None
    assert again.size == 1  # same tree, another key
    records = list(store.checkpoints())
    bounds = [(r.items_position, r.deliveries_position) for r in records]
    leaves = list(reader.leaves(bounds, reader.ends()))
    assert verify_leaves(leaves, records, old.verifier()).ok


@pytest.mark.postgres
def test_rotation_on_postgresql(tmp_path: Path, pg_schema: str) -> None:
    from tests.conftest import PG_URL

    environ = {"SYNDICATE_STORE_URL": PG_URL, "SYNDICATE_STORE_SCHEMA": pg_schema}
    _home_pg, cli = _home(tmp_path, environ)
    _ok(cli("audit", "rotate-key"))
    _revise(cli, tmp_path, "47户74人")
    doc = json.loads(_ok(cli("audit", "verify", "--json")).stdout)
    assert doc["checkpoints"] == 3
    export = tmp_path / "export"
    _ok(cli("audit", "export", str(export)))
    (tmp_path / "first.pub").write_text(
        (export / "public-key.txt").read_text().splitlines()[1] + "\n"
    )
    verified = CliRunner().invoke(
        app,
        ["audit", "verify", "--export", str(export),
         "--pubkey", str(tmp_path / "first.pub")],
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output


def test_rotating_a_home_that_has_no_checkpoint_yet(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()

    def cli(*args: str) -> Result:
        return runner.invoke(app, ["--home", str(home), *args])

    _ok(cli("init", "--no-review"))
    rotated = _ok(cli("audit", "rotate-key"))
    assert rotated.stdout.startswith("checkpoint #1: 0 events, a key rotation")
    _ok(cli("audit", "verify"))
    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    _ok(cli("items", "publish", str(tmp_path / "item.md")))
    _ok(cli("audit", "checkpoint"))
    doc = json.loads(_ok(cli("audit", "verify", "--json")).stdout)
    assert doc["checkpoints"] == 2


def test_kept_checkpoints_sharing_a_tree_head_with_rotations() -> None:
    """Two rotations with nothing logged between give three checkpoints of one tree
    head: a kept copy of the first, signed by the first key, still verifies."""
    keys = [Signer.generate("k") for _ in range(3)]
    reader, store, items, _ = _memory_log(keys[0])
    items.add(random.Random(3))
    assert checkpoint(store, reader, keys[0], trigger="t", actor="t") is not None
    for old, new in itertools.pairwise(keys):
        made = checkpoint(store, reader, old, trigger="t", actor="t", rotate_to=new)
        assert made is not None
    records = list(store.checkpoints())
    assert len({(r.size, r.root) for r in records}) == 1
    bounds = [(r.items_position, r.deliveries_position) for r in records]
    leaves = list(reader.leaves(bounds, reader.ends()))
    first = Checkpoint.parse(keys[0].verifier().verify(records[0].note))
    good = Kept(first, (keys[0].verifier(),))
    assert verify_leaves(leaves, records, keys[0].verifier(), [good]).ok
    stranger = Signer.generate("k").verifier()
    verdict = verify_leaves(
        leaves, records, keys[0].verifier(), [Kept(first, (stranger,))]
    )
    assert [f.kind for f in verdict.findings] == ["signature"]
    assert "not by the key valid for checkpoint #3" in verdict.findings[0].message


def test_expected_errors_are_clear_not_tracebacks(tmp_path: Path) -> None:
    home, cli = _home(tmp_path, {})
    (tmp_path / "bad.pub").write_text(
        (home / "keys/audit-signing.pub").read_text() + "not a key\n"
    )
    bad = cli("audit", "verify", "--pubkey", str(tmp_path / "bad.pub"))
    assert bad.exit_code == 2
    assert "line 2" in bad.stderr
    assert "Traceback" not in bad.output
    (home / "keys/audit-signing.key").unlink()
    nokey = cli("audit", "rotate-key")
    assert nokey.exit_code != 0
    assert "syndicate init" in nokey.output
    assert "Traceback" not in nokey.output
    assert nokey.exception is None or isinstance(nokey.exception, SystemExit)
