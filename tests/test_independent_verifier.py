"""Compare the independent verifier (written from docs/audit.md) with the project's.

A home is built with the CLI (several segments and a key rotation), exported, then
each case tampers with a copy of the export; both verifiers must agree on ok / not ok
and on the kind of the first finding.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.independent_verifier import verify_export

CLI = str(Path(sys.executable).parent / "syndicate")
ITEM = (
    Path(__file__).parent.parent
    / "examples/items/06-minimum-living-allowance-result.md"
)


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNDICATE_ACTOR": "tester"}
    return subprocess.run(
        [CLI, "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def ok(home: Path, *args: str) -> str:
    done = run(home, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@dataclass
class Built:
    home: Path
    export: Path
    trusted: Path  # `audit pubkey`: current key first, then the retired one
    old_key: str
    new_key: str
    old_private: str  # the retired key's private key file, copied before rotating


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    home = tmp_path_factory.mktemp("home")
    ok(home, "init", "--no-review")
    with (home / "syndicate.toml").open("a") as f:
        f.write('\n[outlets.archive]\nkind = "directory"\npath = "out"\n')
    item = home / "item.md"
    text = ITEM.read_text()
    item.write_text(text)
    ref = ok(home, "items", "publish", str(item)).split()[0]
    ok(home, "sync")  # checkpoint #1
    ok(home, "audit", "checkpoint")  # already covered
    item.write_text(text.replace("2318户", "2319户"))
    ok(home, "items", "revise", ref, str(item), "--reason", "fix")
    ok(home, "sync")  # #2
    old_key = ok(home, "audit", "pubkey").splitlines()[0]
    old_private = (home / "keys/audit-signing.key").read_text()
    ok(home, "audit", "rotate-key")  # #3, a rotation checkpoint
    item.write_text(text.replace("2318户", "2320户"))
    ok(home, "items", "revise", ref, str(item), "--reason", "fix 2")
    ok(home, "sync")  # #4, signed by the new key
    ok(home, "items", "withdraw", ref, "--reason", "gone")
    ok(home, "sync")  # #5
    ok(home, "audit", "checkpoint")
    ok(home, "items", "publish", str(ITEM.parent / "01-standardisation-notice.md"))
    # one event after the newest checkpoint (not yet covered)
    export = home / "export"
    ok(home, "audit", "export", str(export))
    trusted = home / "trusted.pub"
    trusted.write_text(ok(home, "audit", "pubkey"))
    new_key = trusted.read_text().splitlines()[0]
    assert new_key != old_key
    return Built(home, export, trusted, old_key, new_key, old_private)


# ------------------------------------------------------------------ tamper helpers

Mutation = Callable[[Path, Built], None]


def events(d: Path) -> list[bytes]:
    return (d / "events.jsonl").read_bytes().split(b"\n")[:-1]


def put_events(d: Path, lines: list[bytes], final_newline: bool = True) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    (d / "events.jsonl").write_bytes(data)


def records(d: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (d / "checkpoints.jsonl").read_text().splitlines()]


def put_records(d: Path, recs: list[dict[str, Any]]) -> None:
    (d / "checkpoints.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    )


def edit_lines(f: Callable[[list[bytes]], list[bytes]]) -> Mutation:
    return lambda d, b: put_events(d, f(events(d)))


def edit_record(index: int, f: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(d: Path, b: Built) -> None:
        recs = records(d)
        f(recs[index])
        put_records(d, recs)

    return mutate


def edit_records(f: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Mutation:
    return lambda d, b: put_records(d, f(records(d)))


def setv(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda r: r.__setitem__(key, value)


def swap(lines: list[bytes], i: int, j: int) -> list[bytes]:
    lines[i], lines[j] = lines[j], lines[i]
    return lines


def flip_sig(note: str, which: int = 0) -> str:
    body, block = note.rsplit("\n\n", 1)
    sigs = block[:-1].split("\n")
    name, b64 = sigs[which][2:].split(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[10] ^= 0x01
    sigs[which] = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}"
    return body + "\n\n" + "\n".join(sigs) + "\n"


def map_note(f: Callable[[str], str]) -> Callable[[dict[str, Any]], None]:
    return lambda r: r.__setitem__("note", f(r["note"]))


def sig_lines(f: Callable[[list[str]], list[str]]) -> Callable[[str], str]:
    def g(note: str) -> str:
        body, block = note.rsplit("\n\n", 1)
        return body + "\n\n" + "\n".join(f(block[:-1].split("\n"))) + "\n"

    return g


def other_key() -> str:
    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    name = "syndicate-audit-00000000"
    kid = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4].hex()
    b64 = base64.b64encode(b"\x01" + raw).decode()
    return f"{name}+{kid}+{b64}"


def alter_segment(r: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(r["segment"]))
    raw[0] ^= 0x01
    r["segment"] = base64.b64encode(bytes(raw)).decode()


def delete_and_edit_segment(d: Path, b: Built) -> None:
    put_events(d, [x for i, x in enumerate(events(d)) if i != 3])
    edit_record(0, alter_segment)(d, b)


def old_public_key(d: Path, b: Built) -> None:
    # record #4 (after the rotation) claiming the retired key is in force
    edit_record(3, setv("public_key", b.old_key))(d, b)


def old_public_key_on_rotation(d: Path, b: Built) -> None:
    # rotation record #3 must carry the new key (the key in force after it)
    edit_record(2, setv("public_key", b.old_key))(d, b)


def both(*mutations: Mutation) -> Mutation:
    def mutate(d: Path, b: Built) -> None:
        for m in mutations:
            m(d, b)

    return mutate


def append_record_line(line: str) -> Mutation:
    def mutate(d: Path, b: Built) -> None:
        with (d / "checkpoints.jsonl").open("a") as f:
            f.write(line + "\n")

    return mutate


def old_signature_line(b: Built, body: str) -> str:
    """A signature line by the retired key (`PRIVATE+KEY+name+id+base64(0x01 ‖ seed)`)."""
    _, _, name, kid, b64 = b.old_private.strip().split("+", 4)
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(b64)[1:])
    sig = base64.b64encode(bytes.fromhex(kid) + key.sign(body.encode())).decode()
    return f"\u2014 {name} {sig}"


def retired_key_signs(replace: bool) -> Mutation:
    """Checkpoint #4 (after the rotation) signed by the retired key, instead or too."""

    def mutate(d: Path, b: Built) -> None:
        def f(r: dict[str, Any]) -> None:
            body, block = r["note"].rsplit("\n\n", 1)
            line = old_signature_line(b, body + "\n")
            sigs = [line] if replace else [*block[:-1].split("\n"), line]
            r["note"] = body + "\n\n" + "\n".join(sigs) + "\n"

        edit_record(3, f)(d, b)

    return mutate


def nothing(d: Path, b: Built) -> None:
    pass


def write_pubkey(d: Path, b: Built) -> None:
    (d / "public-key.txt").write_text(other_key() + "\n")


# Leaf layout of the built export (0-based): 0 items1, 1-5 deliveries 1-5 | #1 (6)
# 6 items2, 7-9 deliveries 6-8 | #2 (10) | #3 rotation (10) | 10 items3, 11-13 | #4 (14)
# 14 items4, 15-17 | #5 (18) | 18 items5 (not covered).
# A case: (mutation, trusted keys: "home" | "old" | "new" | "other", xfail reason)
CASES: dict[str, tuple[Mutation, str]] = {
    "untampered": (nothing, "home"),
    "alter items leaf": (edit_lines(lambda ls: [*ls[:6], ls[6].replace(b"tester", b"tester2"), *ls[7:]]), "home"),
    "alter deliveries leaf": (edit_lines(lambda ls: [*ls[:3], ls[3].replace(b'"log":"deliveries"', b'"log": "deliveries"'), *ls[4:]]), "home"),
    "crlf in a leaf": (edit_lines(lambda ls: [*ls[:8], ls[8] + b"\r", *ls[9:]]), "home"),
    "delete line 4": (edit_lines(lambda ls: ls[:4] + ls[5:]), "home"),
    "delete first line": (edit_lines(lambda ls: ls[1:]), "home"),
    "delete last covered line": (edit_lines(lambda ls: ls[:17] + ls[18:]), "home"),
    "insert duplicate line": (edit_lines(lambda ls: [*ls[:4], ls[3], *ls[4:]]), "home"),
    "delete two lines": (edit_lines(lambda ls: ls[:4] + ls[6:]), "home"),
    "insert two empty lines": (edit_lines(lambda ls: [*ls[:4], b"", b"", *ls[4:]]), "home"),
    "overwrite line with another": (edit_lines(lambda ls: [*ls[:4], ls[12], *ls[5:]]), "home"),
    "move a line forward": (edit_lines(lambda ls: [*ls[:2], *ls[3:12], ls[2], *ls[12:]]), "home"),
    "insert empty line": (edit_lines(lambda ls: [*ls[:5], b"", *ls[5:]]), "home"),
    "swap lines in segment": (edit_lines(lambda ls: swap(ls, 2, 3)), "home"),
    "swap lines across segments": (edit_lines(lambda ls: swap(ls, 5, 6)), "home"),
    "swap far lines": (edit_lines(lambda ls: swap(ls, 1, 12)), "home"),
    "append duplicate uncovered line": (edit_lines(lambda ls: [*ls, ls[18]]), "home"),
    "append old line uncovered": (edit_lines(lambda ls: [*ls, ls[3]]), "home"),
    "truncate 3 lines": (edit_lines(lambda ls: ls[:16]), "home"),
    "truncate uncovered line": (edit_lines(lambda ls: ls[:18]), "home"),
    "truncate to empty": (edit_lines(lambda ls: []), "home"),
    "no final newline": (lambda d, b: put_events(d, events(d), final_newline=False), "home"),
    "delete leaf and edit segment": (delete_and_edit_segment, "home"),
    "flip signature byte #2": (edit_record(1, map_note(flip_sig)), "home"),
    "flip old signature of rotation": (edit_record(2, map_note(flip_sig)), "home"),
    "flip new signature of rotation": (edit_record(2, map_note(lambda n: flip_sig(n, 1))), "home"),
    "rotation signature lines reversed": (edit_record(2, map_note(sig_lines(lambda s: s[::-1]))), "home"),
    "rotation without new signature": (edit_record(2, map_note(sig_lines(lambda s: s[:1]))), "home"),
    "signature line by unknown key added": (edit_record(1, map_note(sig_lines(lambda s: [*s, "\u2014 someone AAAAAAAA"]))), "home"),
    "retired key signs #4 instead": (retired_key_signs(True), "home"),
    "retired key co-signs #4": (retired_key_signs(False), "home"),
    "signature line duplicated": (edit_record(1, map_note(sig_lines(lambda s: s + s))), "home"),
    "note size edited": (edit_record(1, map_note(lambda n: n.replace("\n10\n", "\n9\n", 1))), "home"),
    "note without final newline": (edit_record(0, map_note(lambda n: n[:-1])), "home"),
    "number 7": (edit_record(1, setv("number", 7)), "home"),
    "number as string": (edit_record(1, setv("number", "2")), "home"),
    "number as 2.0": (edit_record(1, setv("number", 2.0)), "home"),
    "number true for 1": (edit_record(0, setv("number", True)), "home"),
    "origin edited": (edit_record(1, setv("origin", "syndicate-audit-00000000")), "home"),
    "public_key old after rotation": (old_public_key, "home"),
    "size edited": (edit_record(1, setv("size", 9)), "home"),
    "size as string": (edit_record(1, setv("size", "10")), "home"),
    "items_position edited": (edit_record(1, setv("items_position", 3)), "home"),
    "deliveries_position edited": (edit_record(1, setv("deliveries_position", 7)), "home"),
    "root upper-case": (edit_record(1, lambda r: r.__setitem__("root", r["root"].upper())), "home"),
    "root other": (edit_record(1, setv("root", "0" * 64)), "home"),
    "segment altered": (edit_record(0, alter_segment), "home"),
    # record #2's segment is 4 hashes (128 bytes), so its base64 ends with one `=`
    "segment padding removed": (edit_record(1, lambda r: r.__setitem__("segment", r["segment"].rstrip("="))), "home"),
    "segment with a line break": (edit_record(1, lambda r: r.__setitem__("segment", r["segment"][:76] + "\n" + r["segment"][76:])), "home"),
    "segment trailing bits changed": (edit_record(1, lambda r: r.__setitem__("segment", r["segment"][:-2] + chr(ord(r["segment"][-2]) + 1) + "=")), "home"),
    "segment of rotation filled": (edit_record(2, setv("segment", base64.b64encode(b"\x00" * 32).decode())), "home"),
    "peaks edited": (edit_record(0, lambda r: r.__setitem__("peaks", r["peaks"][::-1])), "home"),
    "peaks upper-case": (edit_record(0, lambda r: r.__setitem__("peaks", [p.upper() for p in r["peaks"]])), "home"),
    "trigger actor at edited": (edit_record(1, lambda r: r.update(trigger="demo", actor="x", at="1999-01-01T00:00:00+00:00")), "home"),
    "unknown extra field": (edit_record(1, setv("extra", 1)), "home"),
    "actor field removed": (edit_record(1, lambda r: r.pop("actor")), "home"),
    "swap records 2 and 3": (edit_records(lambda rs: [rs[0], rs[2], rs[1], *rs[3:]]), "home"),
    "remove record 2": (edit_records(lambda rs: rs[:1] + rs[2:]), "home"),
    "duplicate record 2": (edit_records(lambda rs: rs[:2] + rs[1:]), "home"),
    "remove newest record": (edit_records(lambda rs: rs[:-1]), "home"),
    "remove all records": (edit_records(lambda rs: []), "home"),
    "unreadable record line": (append_record_line("{not json"), "home"),
    "problem record": (edit_records(lambda rs: [*rs, {"number": None, "note": "", "problem": "checkpoint store position 6 is not a readable checkpoint record"}]), "home"),
    "record without note": (edit_record(1, lambda r: r.pop("note")), "home"),
    "record not an object": (append_record_line("[]"), "home"),
    "alter uncovered leaf": (edit_lines(lambda ls: [*ls[:18], ls[18].replace(b"tester", b"tester2")]), "home"),
    "rotation public_key old": (old_public_key_on_rotation, "home"),
    "export public-key.txt replaced": (write_pubkey, "home"),
    "trust old key only": (nothing, "old"),
    "trust new key only": (nothing, "new"),
    "trust both, old first": (nothing, "old+new"),
    "trust another key": (nothing, "other"),
}  # fmt: skip

# Disagreements found (see the report); each names the passage of docs/audit.md.
# Where the two disagree, the case is marked here with the passage of docs/audit.md
# involved (strict: a case that starts agreeing must be unmarked). None at present: the
# six found first (the order of findings; a garbled checkpoints.jsonl line) were settled
# by stating the order in "What `verify` does" and by making such a line a finding.
XFAIL: dict[str, str] = {}


def project_verdict(
    export: Path, pubkey: Path, kept: list[Path] | None = None
) -> tuple[bool, str | None]:
    extra = [a for k in kept or [] for a in ("--checkpoint", str(k))]
    done = subprocess.run(
        [
            CLI,
            "audit",
            "verify",
            "--export",
            str(export),
            "--pubkey",
            str(pubkey),
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 2:
        return False, "bad input (exit 2): " + done.stderr.strip()[-200:]
    report = json.loads(done.stdout)
    assert (done.returncode == 0) == report["ok"]
    findings = report["findings"]
    return report["ok"], (findings[0]["kind"] if findings else None)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=XFAIL[n]))
        if n in XFAIL
        else n
        for n in CASES
    ],
)
def test_agrees(name: str, built: Built, tmp_path: Path) -> None:
    mutate, keys = CASES[name]
    export = tmp_path / "export"
    shutil.copytree(built.export, export)
    mutate(export, built)
    key_text = {
        "home": built.trusted.read_text(),
        "old": built.old_key + "\n",
        "new": built.new_key + "\n",
        "old+new": f"{built.old_key}\n\n{built.new_key}\n",
        "other": other_key() + "\n",
    }[keys]
    pubkey = tmp_path / "trusted.pub"
    pubkey.write_text(key_text)
    mine = verify_export(export, key_text.splitlines())
    theirs = project_verdict(export, pubkey)
    assert mine == theirs, f"independent {mine} vs project {theirs}"


# ------------------------------------------------ kept checkpoints (`--checkpoint FILE`)


def forged_note(b: Built) -> str:
    """A note of the log's origin signed by a key nobody trusts."""
    rec = records(b.export)[-1]
    body = rec["note"].split("\n\n")[0] + "\n"
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = rec["origin"]
    kid = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]
    sig = base64.b64encode(kid + key.sign(body.encode())).decode()
    return f"{body}\n\u2014 {name} {sig}\n"


def record_note(
    index: int, f: Callable[[str], str] = lambda n: n
) -> Callable[[Built], str]:
    return lambda b: f(records(b.export)[index]["note"])


# A case: (mutation of the export, the kept note)
KEPT: dict[str, tuple[Mutation, Callable[[Built], str]]] = {
    "kept newest, untampered": (nothing, record_note(-1)),
    "kept first, untampered": (nothing, record_note(0)),
    "kept rotation, untampered": (nothing, record_note(2)),
    "kept newest, newest record removed": (edit_records(lambda rs: rs[:-1]), record_note(-1)),
    "kept newest, newest record and its events removed": (
        both(edit_records(lambda rs: rs[:-1]), edit_lines(lambda ls: ls[:14])),
        record_note(-1),
    ),
    "kept newest, newest record removed and a now uncovered leaf altered": (
        both(edit_records(lambda rs: rs[:-1]), edit_lines(lambda ls: [*ls[:15], ls[15] + b" ", *ls[16:]])),
        record_note(-1),
    ),
    "kept newest, a covered leaf altered": (edit_lines(lambda ls: [*ls[:6], ls[6] + b" ", *ls[7:]]), record_note(-1)),
    "kept signed by an unknown key": (nothing, forged_note),
    "kept with its body edited": (nothing, record_note(-1, lambda n: n.replace("\n18\n", "\n17\n", 1))),
    "kept without final newline": (nothing, record_note(-1, lambda n: n[:-1])),
}  # fmt: skip

KEPT_XFAIL: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KEPT_XFAIL[n]))
        if n in KEPT_XFAIL
        else n
        for n in KEPT
    ],
)
def test_kept_agrees(name: str, built: Built, tmp_path: Path) -> None:
    mutate, note_of = KEPT[name]
    export = tmp_path / "export"
    shutil.copytree(built.export, export)
    note = note_of(built)
    mutate(export, built)
    kept = tmp_path / "kept.txt"
    kept.write_text(note)
    text = built.trusted.read_text()
    try:
        mine = verify_export(export, text.splitlines(), [note])
    except ValueError:
        mine = (False, "bad input")
    theirs = project_verdict(export, built.trusted, [kept])
    if theirs[1] is not None and theirs[1].startswith("bad input"):
        theirs = (False, "bad input")
    assert mine == theirs, f"independent {mine} vs project {theirs}"
