"""The signed Merkle audit log: checkpoints, verify (store and export), proofs, and
tampering — random trials on generated logs and a real SQLite file edited with sqlite3.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from syndicate.audit.log import (
    Leaf,
    LogReader,
    checkpoint,
    ensure_keys,
    leaf_data,
    verify_leaves,
)
from syndicate.audit.merkle import leaf_hash
from syndicate.audit.store import AuditStore, CheckpointRecord
from syndicate.cli import app
from syndicate.signing import Signer
from tests.conftest import ITEM_FILE, content

TRIALS = 10_000


# -- generated logs -------------------------------------------------------------------


@dataclass
class _Row:
    id: int
    originator_id: uuid.UUID
    originator_version: int
    topic: str
    state: bytes


@dataclass
class MemoryRecorder:
    """Just enough of an eventsourcing recorder for LogReader."""

    rows: list[_Row] = field(default_factory=list)

    def add(self, rng: random.Random) -> None:
        state = json.dumps({"n": rng.random(), "text": "公开" * rng.randint(0, 3)})
        self.rows.append(
            _Row(
                len(self.rows) + 1,
                uuid.UUID(int=rng.getrandbits(128)),
                rng.randint(1, 9),
                "syndicate.Test",
                state.encode(),
            )
        )

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[_Row]:
        low = start or 0
        found = [
            r
            for r in self.rows
            if (r.id >= low if inclusive_of_start else r.id > low)
            and (stop is None or r.id <= stop)
        ]
        return found[:limit]

    def max_notification_id(self) -> int | None:
        return self.rows[-1].id if self.rows else None


def generated_log(
    rng: random.Random, signer: Signer, most: int = 25
) -> tuple[list[Leaf], list[CheckpointRecord]]:
    """A log of both kinds of events, written interleaved, with 1-4 checkpoints (the
    last at the end, so every event is covered), each after 1 to `most` events."""
    items, deliveries = MemoryRecorder(), MemoryRecorder()
    reader = LogReader(items, deliveries)
    store = AuditStore(env={})  # in memory
    for _ in range(rng.randint(1, 4)):
        for _ in range(rng.randint(1, most)):
            (items if rng.random() < 0.3 else deliveries).add(rng)
        made = checkpoint(store, reader, signer, trigger="test", actor="t")
        assert made is not None
    records = list(store.checkpoints())
    bounds = [(r.items_position, r.deliveries_position) for r in records]
    return list(reader.leaves(bounds, reader.ends())), records


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate("test-audit")


def test_a_generated_log_verifies_and_its_checkpoints_grow(signer: Signer) -> None:
    rng = random.Random(1)
    leaves, records = generated_log(rng, signer)
    verdict = verify_leaves(leaves, records, signer.verifier())
    assert verdict.ok, verdict.findings
    assert verdict.covered == len(leaves) == records[-1].size
    sizes = [r.size for r in records]
    assert sizes == sorted(sizes)
    # Leaf order: within each segment, items-log events before deliveries-log events.
    previous = (0, 0)
    cursor = 0
    for record in records:
        segment = leaves[cursor : record.size]
        logs = [leaf.log for leaf in segment]
        assert logs == sorted(logs, key=lambda log: log != "items")
        for leaf in segment:
            bound = previous[0] if leaf.log == "items" else previous[1]
            top = (
                record.items_position
                if leaf.log == "items"
                else (record.deliveries_position)
            )
            assert bound < leaf.position <= top
        previous = (record.items_position, record.deliveries_position)
        cursor = record.size


def _flip(data: bytes, rng: random.Random) -> bytes:
    spot = rng.randrange(len(data))
    flipped = data[spot] ^ (1 << rng.randrange(8))
    return data[:spot] + bytes([flipped]) + data[spot + 1 :]


def tamper(
    leaves: list[Leaf],
    records: list[CheckpointRecord],
    rng: random.Random,
    other: Signer,
) -> tuple[str, list[Leaf], list[CheckpointRecord], set[str]]:
    """One random change; returns its name, the changed log and the finding kinds that
    name it correctly."""
    leaves, records = list(leaves), list(records)
    op = rng.choice(
        ["flip", "delete", "reorder", "truncate", "insert", "duplicate", "resign",
         "flip-note", "record"]
    )  # fmt: skip
    n = len(leaves)
    if op == "flip":
        i = rng.randrange(n)
        leaves[i] = replace(leaves[i], data=_flip(leaves[i].data, rng))
        return op, leaves, records, {"altered"}
    if op == "delete":
        del leaves[rng.randrange(n)]
        return op, leaves, records, {"deleted", "truncated"}
    if op == "reorder":
        if n < 2:
            return tamper(leaves, records, rng, other)
        i, j = sorted(rng.sample(range(n), 2))
        if leaves[i].data == leaves[j].data:
            return tamper(leaves, records, rng, other)
        leaves[i], leaves[j] = leaves[j], leaves[i]
        return op, leaves, records, {"reordered", "deleted", "inserted"}
    if op == "truncate":
        cut = rng.randrange(n)
        return op, leaves[:cut], records, {"truncated"}
    if op == "insert":
        forged = leaf_data("items", 10**6, uuid.uuid4(), 1, "syndicate.Forged", b"{}")
        leaves.insert(rng.randrange(n), Leaf("items", 10**6, forged))
        return op, leaves, records, {"inserted"}
    if op == "duplicate":  # a copy of a real event, slipped in elsewhere
        # (After the last leaf it would be a new event no checkpoint covers yet.)
        copy, at = leaves[rng.randrange(n)], rng.randrange(n)
        if leaves[at] == copy:
            return tamper(leaves, records, rng, other)
        leaves.insert(at, copy)
        return op, leaves, records, {"inserted"}
    if op == "resign":
        # Rewrite a suffix of the log and re-sign every checkpoint over it with another
        # key, segment hashes and all: only the trusted key can tell.
        i = rng.randrange(n)
        leaves[i:] = [replace(leaf, data=leaf.data + b" ") for leaf in leaves[i:]]
        forged_records = []
        for record in records:
            hashes = b"".join(leaf_hash(leaf.data) for leaf in leaves)
            from syndicate.audit.merkle import MerkleTree

            tree = MerkleTree(
                hashes[k : k + 32] for k in range(0, record.size * 32, 32)
            )
            body = (
                f"{other.name}\n{record.size}\n"
                + __import__("base64").b64encode(tree.root()).decode()
                + f"\npositions items={record.items_position} "
                f"deliveries={record.deliveries_position}\n"
            )
            forged_records.append(
                replace(
                    record,
                    root=tree.root(),
                    note=other.sign(body),
                    origin=other.name,
                    public_key=other.verifier().to_text(),
                )
            )
        return op, leaves, forged_records, {"signature"}
    if op == "record":  # an unsigned field of a record edited beside its note
        k = rng.randrange(len(records))
        record = records[k]
        spoilt: dict[str, Any] = rng.choice(
            [
                {"origin": record.origin + "x"},
                {"public_key": other.verifier().to_text()},
                {"size": record.size + 1},
                {"root": bytes(32)},
                {"items_position": record.items_position + 1},
                {"deliveries_position": record.deliveries_position + 1},
            ]
        )
        records[k] = replace(record, **spoilt)
        return op, leaves, records, {"checkpoint"}
    k = rng.randrange(len(records))
    note = records[k].note.encode()
    records[k] = replace(records[k], note=_flip(note, rng).decode("utf-8", "replace"))
    if records[k].note == note.decode():
        return tamper(leaves, records, rng, other)
    return op, leaves, records, {"signature", "checkpoint"}


def test_every_random_tampering_is_detected_and_named(signer: Signer) -> None:
    """10,000 trials over generated logs: byte flips, deletions, reorders, truncation,
    insertions, a rewritten suffix re-signed with another key, corrupted notes."""
    seed = 20261122
    rng = random.Random(seed)
    other = Signer.generate("test-audit")  # same name, different key
    verifier = signer.verifier()
    # Mostly small logs; every tenth up to 2,000 events (reliability.md test 8).
    logs = [
        generated_log(rng, signer, most=500 if k % 10 == 0 else 25) for k in range(40)
    ]
    missed: list[str] = []
    misnamed: list[str] = []
    counts: dict[str, int] = {}
    for trial in range(TRIALS):
        leaves, records = logs[trial % len(logs)]
        op, bad_leaves, bad_records, kinds = tamper(leaves, records, rng, other)
        counts[op] = counts.get(op, 0) + 1
        verdict = verify_leaves(bad_leaves, bad_records, verifier)
        if verdict.ok:
            missed.append(f"trial {trial}: {op}")
        elif verdict.findings[0].kind not in kinds:
            misnamed.append(f"trial {trial}: {op} named {verdict.findings[0].kind}")
    assert not missed, f"seed {seed}: {len(missed)} undetected, e.g. {missed[:5]}"
    assert not misnamed, f"seed {seed}: {misnamed[:5]}"
    assert set(counts) == {
        "flip", "delete", "reorder", "truncate", "insert", "duplicate", "resign",
        "flip-note", "record",
    }  # fmt: skip


# -- the CLI on a real home ------------------------------------------------------------


def _home(tmp_path: Path, environ: dict[str, str]) -> tuple[Path, Any]:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "审计员", **environ})

    def cli(*args: str) -> Result:
        return runner.invoke(app, ["--home", str(home), *args])

    assert cli("init", "--no-review").exit_code == 0
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write('\n[outlets.archive]\nkind = "directory"\npath = "out"\n')
    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    assert cli("items", "publish", str(tmp_path / "item.md")).exit_code == 0
    synced = cli("sync")
    assert synced.exit_code == 0, synced.output
    assert "checkpoint #1" in synced.output  # sync checkpoints by itself
    return home, cli


def test_checkpoint_verify_export_and_prove(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home, cli = _home(tmp_path, environ)
    ref = "临溪县民政局/11330100MB0000006R/2026-00019"
    assert cli("audit", "checkpoint").stdout.startswith("checkpoint #1 already")
    revised = ITEM_FILE.replace("47户73人", "47户74人")
    assert revised != ITEM_FILE
    (tmp_path / "v2.md").write_text(revised, "utf-8")
    assert (
        cli(
            "items", "revise", ref, str(tmp_path / "v2.md"), "--reason", "更正"
        ).exit_code
        == 0
    )
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "1 logged since" in verified.stdout  # the revision is not covered yet
    assert cli("audit", "checkpoint").stdout.startswith("checkpoint #2")
    verified = cli("audit", "verify", "--json")
    doc = json.loads(verified.stdout)
    assert doc["ok"] is True
    assert doc["checkpoints"] == 2
    assert doc["uncovered"] == 0
    pubkey = cli("audit", "pubkey").stdout.strip()
    assert pubkey == (home / "keys" / "audit-signing.pub").read_text().strip()
    private = (home / "keys" / "audit-signing.key").read_text()
    assert private.strip() not in verified.stdout + pubkey
    assert (home / "keys" / "audit-signing.key").stat().st_mode & 0o077 == 0
    # Export and verify with no store at all (the home is moved away).
    assert cli("audit", "export", str(tmp_path / "export")).exit_code == 0
    (tmp_path / "trusted.pub").write_text(pubkey + "\n")
    shutil.move(str(home), str(tmp_path / "gone"))
    runner = CliRunner()
    offline = runner.invoke(
        app,
        ["audit", "verify", "--export", str(tmp_path / "export"), "--pubkey",
         str(tmp_path / "trusted.pub")],
    )  # fmt: skip
    assert offline.exit_code == 0, offline.output
    events = (tmp_path / "export" / "events.jsonl").read_bytes().splitlines()
    assert doc["events"] == len(events)
    shutil.move(str(tmp_path / "gone"), str(home))
    # Inclusion proofs for the item's events, verified offline.
    proved = cli("audit", "prove", ref, "--out", str(tmp_path / "proof.json"))
    assert proved.exit_code == 0, proved.output
    bundle = json.loads((tmp_path / "proof.json").read_text("utf-8"))
    topics = {json.loads(p["leaf"])["topic"] for p in bundle["proofs"]}
    assert {
        "syndicate.DisclosureItem.Published",
        "syndicate.DisclosureItem.Revised",
    } <= topics
    assert "syndicate.Delivery.Succeeded" in topics
    checked = runner.invoke(
        app, ["audit", "verify", "--proof", str(tmp_path / "proof.json"),
              "--pubkey", str(tmp_path / "trusted.pub")],
    )  # fmt: skip
    assert checked.exit_code == 0, checked.output
    bundle["proofs"][0]["leaf"] = bundle["proofs"][0]["leaf"].replace("审计员", "某人")
    (tmp_path / "bad.json").write_text(json.dumps(bundle, ensure_ascii=False), "utf-8")
    refused = runner.invoke(
        app, ["audit", "verify", "--proof", str(tmp_path / "bad.json")]
    )
    assert refused.exit_code == 1  # a failed proof is a verdict, not bad input
    assert refused.stdout.startswith("FAIL proof for leaf ")
    assert "root mismatch" in refused.stdout
    assert "trusting the bundle's own public_key" in refused.stderr


def _edit(db: Path, sql: str) -> None:
    with sqlite3.connect(db) as conn:
        changed = conn.execute(sql).rowcount
        assert changed >= 1, sql


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        (
            "UPDATE stored_events SET state = CAST(CAST(state AS TEXT) || ' ' AS BLOB) "
            "WHERE rowid = 1",
            "altered",
        ),
        ("DELETE FROM stored_events WHERE rowid = 2", "deleted"),
        (
            "DELETE FROM stored_events WHERE rowid > "
            "(SELECT max(rowid) - 2 FROM stored_events)",
            "truncated",
        ),
        # eventsourcing reads a text state as it reads the blob: the leaf must differ.
        (
            "UPDATE stored_events SET state = CAST(state AS TEXT) WHERE rowid = 2",
            "altered",
        ),
        # A row where the tree never reads, yet eventsourcing replays it: not covered.
        (
            "INSERT INTO stored_events (rowid, originator_id, originator_version, "
            "topic, state) SELECT 0, originator_id, originator_version + 100, topic, "
            "state FROM stored_events WHERE rowid = 1",
            "outside",
        ),
    ],
    ids=["altered", "deleted", "truncated", "retyped", "outside"],
)
def test_a_sqlite_file_edited_with_sqlite3_is_caught(
    tmp_path: Path, sql: str, kind: str
) -> None:
    home, cli = _home(tmp_path, {})
    assert cli("audit", "verify").exit_code == 0
    _edit(home / "data" / "deliveries.db", sql)
    verified = cli("audit", "verify")
    assert verified.exit_code == 1
    assert verified.stdout.startswith(f"FAIL {kind}: ")
    assert ("position 0" if kind == "outside" else "leaf") in verified.stdout
    doc = json.loads(cli("audit", "verify", "--json").stdout)
    assert doc["ok"] is False
    assert doc["findings"][0]["kind"] == kind


def test_a_log_re_signed_with_another_key_is_caught(tmp_path: Path) -> None:
    """Someone with the database but not the key rewrites an event, throws the
    checkpoints away, makes a new key and checkpoints again: the published key says no."""
    home, cli = _home(tmp_path, {})
    trusted = tmp_path / "published.pub"
    trusted.write_text(cli("audit", "pubkey").stdout)
    _edit(
        home / "data" / "disclosures.db",
        "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), "
        "'民政局', '财政局') AS BLOB) WHERE rowid = 1",
    )
    (home / "data" / "audit.db").unlink()
    for name in ("audit-signing.key", "audit-signing.pub"):
        (home / "keys" / name).unlink()
    assert cli("init", "--no-review").exit_code == 0  # a fresh key pair
    assert cli("audit", "checkpoint").exit_code == 0
    assert cli("audit", "verify").exit_code == 0  # against its own new key, it passes
    verified = cli("audit", "verify", "--pubkey", str(trusted))
    assert verified.exit_code == 1
    assert "FAIL signature: checkpoint #1 is not signed by the trusted key" in (
        verified.stdout
    )


def test_verify_refuses_a_missing_pubkey_or_export_clearly(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["audit", "verify", "--export", str(tmp_path)])
    assert missing.exit_code == 2
    assert "events.jsonl" in missing.stderr
    assert "Traceback" not in missing.output


def test_checkpoint_timestamps_are_aware() -> None:
    store = AuditStore(env={})
    reader = LogReader(MemoryRecorder(), MemoryRecorder())
    signer = Signer.generate("t")
    assert checkpoint(store, reader, signer, trigger="t", actor="a") is None
    rng = random.Random(3)
    reader._recorders["items"].add(rng)  # type: ignore[attr-defined]
    made = checkpoint(
        store, reader, signer, trigger="t", actor="a",
        clock=lambda: datetime(2026, 11, 22, tzinfo=UTC),
    )  # fmt: skip
    assert made is not None
    assert made.at == datetime(2026, 11, 22, tzinfo=UTC)
    assert made.size == 1


def test_leaves_read_from_the_file_equal_leaves_read_through_eventsourcing(
    tmp_path: Path,
) -> None:
    home, _ = _home(tmp_path, {})
    from syndicate.audit.service import open_reader
    from syndicate.project import Project

    project = Project.load(home, environ={})
    with open_reader(project) as (_, fast):
        end = fast.ends()
        quick = list(fast.leaves([], end))
        assert quick
        slow = LogReader(fast._recorders["items"], fast._recorders["deliveries"])
        assert [leaf.data for leaf in slow.leaves([], end)] == [q.data for q in quick]
    doc = json.loads(quick[0].data)
    assert doc["originator_id"] == str(uuid.UUID(doc["originator_id"]))
    # The hand-written encoder is the documented canonical JSON.
    assert (
        quick[0].data
        == json.dumps(
            doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()
    )


def test_workers_checkpoint_every_n_events_and_say_so_when_there_is_no_key(
    tmp_path: Path,
) -> None:
    from syndicate.audit.service import auto_checkpoint
    from syndicate.project import Project

    home, cli = _home(tmp_path, {})
    project = Project.load(home, environ={})
    assert project.audit.checkpoint_every == 1000
    (tmp_path / "v2.md").write_text(ITEM_FILE.replace("47户", "49户"), "utf-8")
    ref = "临溪县民政局/11330100MB0000006R/2026-00019"
    assert (
        cli("items", "revise", ref, str(tmp_path / "v2.md"), "--reason", "改").exit_code
        == 0
    )
    assert auto_checkpoint(project, "worker", every=1000) == ""  # 1 new event < 1000
    assert auto_checkpoint(project, "worker", every=1).startswith("checkpoint #2")
    (home / "keys" / "audit-signing.key").unlink()
    said = auto_checkpoint(project, "worker", every=1)
    assert said.startswith("note: no audit signing key")
    assert "syndicate init" in said
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write("\n[audit]\ncheckpoint_every = 0\n")
    refused = cli("status")
    assert refused.exit_code == 2
    assert "audit.checkpoint_every" in refused.stderr


def test_a_worker_checkpoints_by_count_or_after_the_interval() -> None:
    from syndicate.engine.deliveries import checkpoint_due

    assert checkpoint_due(1000, 0, 0.0, 1000, 600) == 1000  # N not covered
    assert checkpoint_due(1999, 1000, 0.0, 1000, 600) is None  # counted from covered
    assert checkpoint_due(5, 0, 599.0, 1000, 600) is None
    assert checkpoint_due(5, 0, 600.0, 1000, 600) == 1  # a few, but long enough
    assert checkpoint_due(5, 5, 9999.0, 1000, 600) is None  # nothing uncovered


def test_bad_input_is_refused_clearly_and_changes_nothing(tmp_path: Path) -> None:
    home, cli = _home(tmp_path, {})
    log_before = cli("log", "--json").stdout
    checkpoints_before = cli("audit", "checkpoints", "--json").stdout
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    cases = [
        (("audit", "export", str(tmp_path / "full")), 2, "not empty"),
        (("audit", "prove", "临溪县民政局/NO-SUCH-ITEM"), 1, "NO-SUCH-ITEM"),
        (("audit", "verify", "--pubkey", str(tmp_path / "none.pub")), 2, "not found"),
        (("audit", "verify", "--pubkey", str(tmp_path / "full" / "x")), 2, "not a public key"),
        (("audit", "verify", "--proof", str(tmp_path / "full" / "x")), 2, "cannot read"),
    ]  # fmt: skip
    for args, code, says in cases:
        result = cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert says in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    (home / "keys" / "audit-signing.key").unlink()
    (home / "keys" / "audit-signing.pub").unlink()
    for args in (("audit", "checkpoint"), ("audit", "pubkey")):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "syndicate init" in result.stderr
    assert cli("log", "--json").stdout == log_before
    assert cli("audit", "checkpoints", "--json").stdout == checkpoints_before


def _kept_checkpoint(cli: Any, tmp_path: Path, name: str) -> Path:
    """The newest checkpoint note, as an auditor would keep it."""
    out = tmp_path / f"export-{name}"
    assert cli("audit", "export", str(out)).exit_code == 0
    records = (out / "checkpoints.jsonl").read_text("utf-8").splitlines()
    kept = tmp_path / f"{name}.txt"
    kept.write_text(json.loads(records[-1])["note"], "utf-8")
    return kept


def test_removed_checkpoints_are_caught_with_a_kept_one(tmp_path: Path) -> None:
    """Deleting the checkpoint store and then rewriting an event passes the log's own
    checks only if nobody kept a checkpoint: verify says there is none, and a kept
    checkpoint (the portal publishes each) names what happened."""
    home, cli = _home(tmp_path, {})
    kept = _kept_checkpoint(cli, tmp_path, "kept")
    ok = cli("audit", "verify", "--checkpoint", str(kept))
    assert ok.exit_code == 0, ok.output
    (home / "data" / "audit.db").unlink()
    bare = cli("audit", "verify")
    assert bare.exit_code == 1
    assert bare.stdout.startswith("FAIL checkpoint: no signed checkpoint")
    removed = cli("audit", "verify", "--checkpoint", str(kept), "--json")
    kinds = [f["kind"] for f in json.loads(removed.stdout)["findings"]]
    assert removed.exit_code == 1
    assert kinds == ["checkpoint", "checkpoint"]
    assert "recorded checkpoints were removed" in removed.stdout
    _edit(
        home / "data" / "disclosures.db",
        "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), "
        "'民政局', '财政局') AS BLOB) WHERE rowid = 1",
    )
    assert cli("audit", "checkpoint").exit_code == 0  # re-signed with the same key
    rewritten = cli("audit", "verify", "--checkpoint", str(kept))
    assert rewritten.exit_code == 1
    assert "FAIL altered: the log's first " in rewritten.stdout
    # A kept file that is not a checkpoint signed by the trusted key is bad input.
    (tmp_path / "junk.txt").write_text("not a note", "utf-8")
    junk = cli("audit", "verify", "--checkpoint", str(tmp_path / "junk.txt"))
    assert junk.exit_code == 2
    assert "--checkpoint" in junk.stderr
    assert "Traceback" not in junk.output


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("items_position", "+1", "the recorded positions differ from the signed ones"),
        ("root", "not hex", "the recorded fields differ from what was signed"),
        ("size", "many", "the recorded fields differ from what was signed"),
        ("number", None, "is where #1 should be"),
        ("segment", "AAAA", "its recorded leaf hashes or peaks are not the log's"),
        ("segment", "!!", "its recorded leaf hashes or peaks are not the log's"),
        ("peaks", ["00" * 32], "its recorded leaf hashes or peaks are not the log's"),
    ],
)
def test_unsigned_record_fields_must_agree_with_the_note(
    tmp_path: Path, field: str, value: Any, said: str
) -> None:
    """Only the note is trusted: a spoilt field beside it is a finding (exit 1), not
    an unreadable export (exit 2)."""
    _, cli = _home(tmp_path, {})
    out = tmp_path / "export"
    assert cli("audit", "export", str(out)).exit_code == 0
    lines = (out / "checkpoints.jsonl").read_text("utf-8").splitlines()
    record = json.loads(lines[0])
    record[field] = record[field] + 1 if value == "+1" else value
    (out / "checkpoints.jsonl").write_text(
        json.dumps(record, ensure_ascii=False) + "\n", "utf-8"
    )
    verified = cli("audit", "verify", "--export", str(out))
    assert verified.exit_code == 1, verified.output
    assert said in verified.stdout
    # A line that is no record at all is evidence too: a checkpoint finding, exit 1.
    (out / "checkpoints.jsonl").write_text("[1, 2]\n", "utf-8")
    unreadable = cli("audit", "verify", "--export", str(out))
    assert unreadable.exit_code == 1, unreadable.output
    assert "FAIL checkpoint: checkpoints.jsonl line 1 is not a checkpoint record" in (
        unreadable.stdout
    )


@pytest.mark.parametrize(
    ("bundle", "code", "said"),
    [
        ("[]", 2, "not a proof bundle"),
        ('"text"', 2, "not a proof bundle"),
        ('{"checkpoint": "x"}', 2, "not a proof bundle"),
        ("PROOFS:[1]", 2, "proofs entry 1: malformed"),
        ('PROOFS:"ab"', 2, "not a proof bundle"),
        ("PROOFS:[]", 1, "FAIL the bundle proves no events"),
    ],
)
def test_malformed_proof_bundles_are_refused_clearly(
    tmp_path: Path, bundle: str, code: int, said: str
) -> None:
    home, cli = _home(tmp_path, {})
    ref = "临溪县民政局/11330100MB0000006R/2026-00019"
    assert cli("audit", "prove", ref, "--out", str(tmp_path / "p.json")).exit_code == 0
    if bundle.startswith("PROOFS:"):
        doc = json.loads((tmp_path / "p.json").read_text("utf-8"))
        doc["proofs"] = json.loads(bundle.removeprefix("PROOFS:"))
        bundle = json.dumps(doc)
    (tmp_path / "bad.json").write_text(bundle, "utf-8")
    key = str(home / "keys" / "audit-signing.pub")
    result = cli(
        "audit", "verify", "--proof", str(tmp_path / "bad.json"), "--pubkey", key
    )
    assert result.exit_code == code, result.output
    assert said in result.output
    assert "Traceback" not in result.output


def test_a_library_made_home_never_fails_a_worker_over_checkpoints(
    project: Any,
) -> None:
    """`Project.init` from the library makes no key and, on PostgreSQL, no checkpoint
    table: a worker's checkpoint attempts say so and the worker goes on."""
    from syndicate.audit.service import auto_checkpoint, checkpointed

    with project.disclosures() as log:
        log.publish(content(), actor="t")
    assert checkpointed(project) == 0
    said = auto_checkpoint(project, "worker", every=1)
    assert said.startswith("note: no audit signing key")
    ensure_keys(project)
    said = auto_checkpoint(project, "worker", every=1)
    if project.store.is_postgres:  # no table: `syndicate init` would have made one
        assert said.startswith("note: no checkpoint was made: the checkpoint store")
        assert "does not exist" in said
    else:  # the SQLite file is made on first use
        assert said.startswith("checkpoint #1: 1 events")
