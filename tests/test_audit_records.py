"""Checkpoint records and proof bundles, field by field (issue 13, item 2): what an
independent verifier written from docs/audit.md found `verify` let through."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from syndicate.audit.log import (
    Leaf,
    ProofRejected,
    verify_leaves,
    verify_proof,
)
from syndicate.audit.merkle import MerkleTree, leaf_hash
from syndicate.audit.store import CheckpointRecord
from syndicate.cli import app
from syndicate.errors import InputError
from syndicate.signing import Signer
from tests.test_audit_log import _home, generated_log

REF = "临溪县民政局/11330100MB0000006R/2026-00019"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate("test-audit")


def _resigned(
    leaves: list[Leaf], records: list[CheckpointRecord], signer: Signer
) -> list[CheckpointRecord]:
    """The records re-made over `leaves` as given, signed with `signer` (the holder of
    the trusted key, or a bug in whatever wrote the log)."""
    tree = MerkleTree(leaf_hash(leaf.data) for leaf in leaves)
    made, start = [], 0
    for record in records:
        root = tree.root(record.size)
        body = (
            f"{signer.name}\n{record.size}\n{base64.b64encode(root).decode()}\n"
            f"positions items={record.items_position} "
            f"deliveries={record.deliveries_position}\n"
        )
        segment = b"".join(tree.leaves()[start : record.size])
        made.append(
            replace(
                record,
                root=root,
                note=signer.sign(body),
                segment=segment,
                peaks=tree.peaks(record.size),
            )
        )
        start = record.size
    return made


def test_a_leaf_order_the_signed_positions_do_not_give_is_caught(
    signer: Signer,
) -> None:
    """Leaves of an export in an order that is not the leaf order of their positions,
    even though every signed root matches them."""
    rng = random.Random(7)
    leaves, records = generated_log(rng, signer, most=12)
    assert verify_leaves(leaves, records, signer.verifier()).ok
    # Two leaves of one log, swapped: each root re-signed over the new order.
    logs = [leaf.log for leaf in leaves]
    log = "deliveries" if logs.count("deliveries") >= 2 else "items"
    i, j = [k for k, leaf in enumerate(leaves) if leaf.log == log][:2]
    swapped = list(leaves)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    verdict = verify_leaves(
        swapped, _resigned(swapped, records, signer), signer.verifier()
    )
    [finding] = verdict.findings
    assert finding.kind == "reordered"
    assert finding.leaf_index is not None
    assert i <= finding.leaf_index <= j
    assert "is not where the leaf order puts it" in finding.message
    # An items event in a deliveries segment of a later checkpoint: out of its bounds.
    moved = [leaf for leaf in leaves if leaf.log == "items"][-1]
    tail = [leaf for leaf in leaves if leaf is not moved] + [moved]
    resigned = _resigned(tail, records, signer)
    verdict = verify_leaves(tail, resigned, signer.verifier())
    assert [f.kind for f in verdict.findings] == ["reordered"]


def _note(signer: Signer, body: str) -> str:
    return signer.sign(body)


def test_a_signed_note_whose_body_is_malformed_is_named_so(signer: Signer) -> None:
    rng = random.Random(3)
    leaves, records = generated_log(rng, signer, most=5)
    first = records[0]
    root = base64.b64encode(first.root).decode()
    bad = (
        f"{signer.name}\n0{first.size}\n{root}\npositions items="
        f"{first.items_position} deliveries={first.deliveries_position}\n"
    )
    spoilt = [replace(first, note=_note(signer, bad)), *records[1:]]
    verdict = verify_leaves(leaves, spoilt, signer.verifier())
    finding = verdict.findings[0]
    assert finding.kind == "checkpoint"
    assert "signed by the trusted key, but its body is not a checkpoint" in (
        finding.message
    )
    assert "tree size" in finding.message
    assert "another key" not in finding.message


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("origin", "someone-else", "(origin)"),
        ("public_key", "OTHER", "(public_key)"),
        ("root", "UPPER", "(root)"),
        ("size", "STRING", "(size)"),
        ("number", 1.0, "is where #1 should be"),
        ("items_position", True, "the recorded positions differ"),
        ("peaks", "UPPER", "its recorded leaf hashes or peaks are not the log's"),
        ("segment", "NEWLINE", "its recorded leaf hashes or peaks are not the log's"),
    ],
)
def test_every_record_field_is_checked_strictly(
    tmp_path: Path, field: str, value: Any, said: str
) -> None:
    _, cli = _home(tmp_path, {})
    out = tmp_path / "export"
    assert cli("audit", "export", str(out)).exit_code == 0
    record = json.loads((out / "checkpoints.jsonl").read_text("utf-8"))
    if value == "OTHER":
        value = Signer.generate("x").verifier().to_text()
    elif value == "UPPER":
        value = (
            record[field].upper()
            if isinstance(record[field], str)
            else [p.upper() for p in record[field]]
        )
    elif value == "STRING":
        value = str(record[field])
    elif value == "NEWLINE":
        value = record[field][:4] + "\n" + record[field][4:]
    record[field] = value
    (out / "checkpoints.jsonl").write_text(json.dumps(record) + "\n", "utf-8")
    verified = cli("audit", "verify", "--export", str(out))
    assert verified.exit_code == 1, verified.output
    assert said in verified.stdout


def _bundle(tmp_path: Path) -> tuple[dict[str, Any], Any, Path]:
    home, cli = _home(tmp_path, {})
    assert cli("audit", "prove", REF, "--out", str(tmp_path / "p.json")).exit_code == 0
    bundle = json.loads((tmp_path / "p.json").read_text("utf-8"))
    return bundle, cli, home / "keys" / "audit-signing.pub"


@pytest.mark.parametrize(
    ("change", "code", "said"),
    [
        ({"tree_size": "+1"}, 1, "tree_size"),
        ({"tree_size": "str"}, 1, "tree_size"),
        ({"public_key": "other"}, 1, "public_key is not the key"),
        ({"format": "syndicate-inclusion-proofs/2"}, 2, "format"),
        ({"extra": 1}, 2, "unknown field(s) extra"),
        ({"not_yet_covered": None}, 2, "missing field(s) not_yet_covered"),
        ({"not_yet_covered": [1]}, 2, "not_yet_covered"),
        ({"leaf_index": "0"}, 2, "proofs entry 1: malformed"),
        ({"leaf_index": 10**6}, 1, "not in the tree"),
        ({"proof": "AAAA"}, 2, "proofs entry 1: malformed"),
        ({"entry_extra": 1}, 2, "proofs entry 1: malformed"),
    ],
    ids=str,
)
def test_every_bundle_field_is_checked(
    tmp_path: Path, change: dict[str, Any], code: int, said: str
) -> None:
    bundle, cli, key = _bundle(tmp_path)
    for name, value in change.items():
        entry = bundle["proofs"][0]
        if name == "tree_size":
            bundle[name] = bundle[name] + 1 if value == "+1" else str(bundle[name])
        elif name == "public_key":
            bundle[name] = Signer.generate("x").verifier().to_text()
        elif name in ("leaf_index", "proof"):
            entry[name] = [value] if name == "proof" else value
        elif name == "entry_extra":
            entry["extra"] = value
        elif value is None:
            del bundle[name]
        else:
            bundle[name] = value
    (tmp_path / "bad.json").write_text(json.dumps(bundle, ensure_ascii=False), "utf-8")
    result = cli(
        "audit", "verify", "--proof", str(tmp_path / "bad.json"), "--pubkey", str(key)
    )
    assert result.exit_code == code, result.output
    assert said in result.output
    assert "Traceback" not in result.output


def test_a_bundle_whose_signed_body_is_malformed_says_so(
    tmp_path: Path, signer: Signer
) -> None:
    body = f"{signer.name}\n0398\n{base64.b64encode(bytes(32)).decode()}\n"
    bundle = {
        "format": "syndicate-inclusion-proofs/1",
        "checkpoint": signer.sign(body),
        "public_key": signer.verifier().to_text(),
        "tree_size": 398,
        "proofs": [{"leaf_index": 0, "leaf": "{}", "proof": []}],
        "not_yet_covered": [],
    }
    with pytest.raises(ProofRejected, match="its body is not a checkpoint"):
        verify_proof(bundle, signer.verifier())
    with pytest.raises(InputError, match="unknown field"):
        verify_proof(bundle | {"x": 1}, signer.verifier())


def test_records_read_back_from_an_export_equal_the_stored_ones(
    tmp_path: Path,
) -> None:
    _, cli = _home(tmp_path, {})
    listed = json.loads(cli("audit", "checkpoints", "--json").stdout)
    out = tmp_path / "export"
    assert cli("audit", "export", str(out)).exit_code == 0
    lines = (out / "checkpoints.jsonl").read_text("utf-8").splitlines()
    record = CheckpointRecord.from_json(json.loads(lines[0]))
    assert record.as_json() | {"segment": None} == listed[0]
    runner = CliRunner()
    offline = runner.invoke(
        app,
        [
            "audit",
            "verify",
            "--export",
            str(out),
            "--pubkey",
            str(out / "public-key.txt"),
        ],
    )
    assert offline.exit_code == 0, offline.output


def test_a_kept_checkpoint_whose_signed_body_is_malformed_says_so(
    tmp_path: Path,
) -> None:
    from syndicate.signing import read_signer_file

    home, cli = _home(tmp_path, {})
    signer = read_signer_file(home / "keys" / "audit-signing.key")
    root = base64.b64encode(bytes(32)).decode()
    kept = tmp_path / "kept.txt"
    kept.write_text(signer.sign(f"{signer.name}\n0398\n{root}\n"), "utf-8")
    result = cli("audit", "verify", "--checkpoint", str(kept))
    assert result.exit_code == 2, result.output
    assert "but its body is not a checkpoint" in result.stderr
    assert "tree size" in result.stderr
    other = Signer.generate("elsewhere")
    kept.write_text(other.sign(f"{other.name}\n1\n{root}\n"), "utf-8")
    result = cli("audit", "verify", "--checkpoint", str(kept))
    assert result.exit_code == 2
    assert "not a checkpoint signed by" in result.stderr
