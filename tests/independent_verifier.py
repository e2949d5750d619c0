"""An independent verifier of `syndicate audit export` directories.

Written from docs/audit.md alone (plus RFC 6962 / RFC 9162 and C2SP signed-note),
without reading syndicate's own code, to check that the document is a complete
specification. Section names in the comments ("§Leaves", "§Checkpoints", ...) are the
headings of docs/audit.md; "step N" is a step of its "What `verify` does" list.

`verify_export(dir, trusted_key_lines)` returns (ok, kind of the first finding).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# §Leaves: "decided on a window of 8 leaves"
WINDOW = 8
HEX64 = re.compile(r"[0-9a-f]{64}")
DECIMAL = re.compile(r"0|[1-9][0-9]*")
POSITIONS = re.compile(r"positions items=(0|[1-9][0-9]*) deliveries=(0|[1-9][0-9]*)")


class Finding(Exception):
    """The first finding; `kind` is one of the kinds docs/audit.md names."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


# ---------------------------------------------------------------- hashing (§Leaves)


def leaf_hash(data: bytes) -> bytes:
    # §Leaves: leaf hash = SHA-256(0x00 ‖ leaf data)
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    # §Leaves: interior node = SHA-256(0x01 ‖ left ‖ right)
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes: list[bytes]) -> bytes:
    # §Leaves: RFC 6962 §2.1, split at the largest power of two below n
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def peaks(hashes: list[bytes], size: int) -> list[bytes]:
    # §Checkpoints table, `peaks`: one complete subtree per set bit of size, largest first
    out: list[bytes] = []
    start = 0
    for bit in reversed(range(size.bit_length())):
        width = 1 << bit
        if size & width:
            out.append(mth(hashes[start : start + width]))
            start += width
    return out


# ------------------------------------------------------------- keys (§Checkpoints, §Keys)


def canonical_b64(text: str) -> bytes | None:
    # §Checkpoints: "base64 must be canonical (a changed spelling ... is refused)"
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None


def key_id(name: str, public: bytes) -> bytes:
    # §Checkpoints: key id = first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)
    return hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]


@dataclass(frozen=True)
class Key:
    name: str
    id: bytes
    public: bytes
    text: str

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_key(text: str) -> Key | None:
    # §Checkpoints: `<name>+<key id, 8 hex digits>+<base64(0x01 ‖ public key)>`,
    # split at its first two `+` only
    parts = text.split("+", 2)
    if len(parts) != 3 or not parts[0] or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        return None
    raw = canonical_b64(parts[2])
    if raw is None or len(raw) != 33 or raw[0] != 0x01:
        return None
    kid = key_id(parts[0], raw[1:])
    if kid.hex() != parts[1]:
        return None
    return Key(parts[0], kid, raw[1:], text)


def parse_key_set(lines: list[str]) -> list[Key]:
    # §Keys "A key set": one key text per line, blank lines ignored
    keys = []
    for line in lines:
        line = line.strip("\n")
        if not line.strip():
            continue
        key = parse_key(line)
        if key is None:
            raise ValueError(f"not a public key: {line!r}")
        keys.append(key)
    return keys


# --------------------------------------------------------------- notes (§Checkpoints)


@dataclass(frozen=True)
class Body:
    origin: str
    size: int
    root: bytes
    items: int
    deliveries: int
    rotation: tuple[Key, Key] | None


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """C2SP signed note: body (final newline included), blank line, signature lines.

    Raises Finding("signature") for a note that is not a signed note at all."""
    # §Checkpoints: "The note itself must end with `\n`"
    if not note.endswith("\n") or "\n\n" not in note:
        raise Finding("signature", "the note is not a signed note")
    cut = note.rindex("\n\n")
    body, block = note[: cut + 1], note[cut + 2 :]
    sigs = []
    for line in block[:-1].split("\n"):
        # §Checkpoints: `— <key name> <base64(4-byte key id ‖ 64-byte signature)>`
        if not line.startswith("\u2014 "):
            raise Finding("signature", "a signature line is malformed")
        fields = line[2:].split(" ")
        raw = canonical_b64(fields[1]) if len(fields) == 2 else None
        if raw is None or len(raw) < 5:
            raise Finding("signature", "a signature line is malformed")
        sigs.append((fields[0], raw[:4], raw[4:]))
    return body, sigs


def signed_by(key: Key, body: str, sigs: list[tuple[str, bytes, bytes]]) -> bool:
    # C2SP: a signature line counts for the key whose name and id it carries;
    # §Checkpoints/§Keys: lines by other keys are ignored, in any order;
    # step 1: "a note that a key signs twice is malformed"
    mine = [s for n, i, s in sigs if n == key.name and i == key.id]
    if len(mine) > 1:
        raise Finding("signature", "a key signs the note twice")
    return len(mine) == 1 and key.verify(mine[0], body.encode())


def parse_body(body: str) -> Body | None:
    # §Checkpoints: origin / size / base64 root / positions [/ key-rotation OLD NEW]
    lines = body.split("\n")[:-1]
    if len(lines) not in (4, 5) or not lines[0]:
        return None
    size_ok = DECIMAL.fullmatch(lines[1])
    root = canonical_b64(lines[2])
    pos = POSITIONS.fullmatch(lines[3])
    if not size_ok or root is None or len(root) != 32 or not pos:
        return None
    rotation = None
    if len(lines) == 5:
        words = lines[4].split(" ")
        if len(words) != 3 or words[0] != "key-rotation":
            return None
        old, new = parse_key(words[1]), parse_key(words[2])
        # "both keys have the log's name"
        if old is None or new is None or old.name != lines[0] or new.name != lines[0]:
            return None
        rotation = (old, new)
    return Body(lines[0], int(lines[1]), root, int(pos[1]), int(pos[2]), rotation)


# ------------------------------------------------------------------------ records


def is_int(value: Any) -> bool:
    # §Checkpoints: "a JSON integer"; `true` for 1 or `1.0` is a spelling never written
    return isinstance(value, int) and not isinstance(value, bool)


def check_record_types(rec: dict[str, Any]) -> list[bytes]:
    """The types of the §Checkpoints table; returns the decoded `segment`."""
    for field in ("number", "size", "items_position", "deliveries_position"):
        if not is_int(rec.get(field)):
            raise Finding("checkpoint", f"{field} is not a JSON integer")
    for field in ("note", "origin", "public_key"):
        if not isinstance(rec.get(field), str):
            raise Finding("checkpoint", f"{field} is not a string")
    if not isinstance(rec.get("root"), str) or not HEX64.fullmatch(rec["root"]):
        raise Finding("checkpoint", "root is not 64 lower-case hex digits")
    seg = rec.get("segment")
    raw = canonical_b64(seg) if isinstance(seg, str) else None
    if raw is None or len(raw) % 32:
        raise Finding("checkpoint", "segment is not canonical base64 of 32-byte hashes")
    pk = rec.get("peaks")
    if not isinstance(pk, list) or not all(
        isinstance(p, str) and HEX64.fullmatch(p) for p in pk
    ):
        raise Finding("checkpoint", "peaks is not a list of 64-hex-digit strings")
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


@dataclass
class Trusted:
    """A checkpoint whose note verified: only the note is trusted (§Checkpoints)."""

    record: dict[str, Any]
    body: Body
    segment: list[bytes]


def check_records(records: list[Any], trusted_keys: list[Key]) -> list[Trusted]:
    """Step 1 of "What `verify` does"; raises the first finding."""
    in_force: Key | None = None  # §Keys: the key of the checkpoint before
    out: list[Trusted] = []
    for place, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise Finding("checkpoint", f"checkpoint record {place} is unreadable")
        if rec.get("number") is None and "problem" in rec:
            # §Checkpoints: an unreadable store row, carried as `problem`
            raise Finding("checkpoint", str(rec["problem"]))
        # §Checkpoints table `number`: its place, 1 for the first record, then +1
        if not is_int(rec.get("number")):
            raise Finding("checkpoint", "number is not a JSON integer")
        if rec["number"] != place:
            raise Finding("checkpoint", f"#{rec['number']} is where #{place} should be")
        segment = check_record_types(rec)
        body_text, sigs = split_note(rec["note"])
        # §Keys: #1 by a key in T; later ones by the key in force
        candidates = trusted_keys if in_force is None else [in_force]
        signer = next((k for k in candidates if signed_by(k, body_text, sigs)), None)
        if signer is None:
            raise Finding(
                "signature", f"checkpoint #{place} not signed by the key valid for it"
            )
        body = parse_body(body_text)
        if body is None:
            raise Finding(
                "checkpoint", "its note is signed, but its body is not a checkpoint"
            )
        after = signer
        if body.rotation is not None:
            old, new = body.rotation
            # §Keys: a rotation by the key in force (its old key) and by the new key
            if old.text != signer.text:
                raise Finding("signature", "a rotation from a key that is not in force")
            if not signed_by(new, body_text, sigs):
                raise Finding("signature", "a rotation not signed by its new key")
            after = new
        # step 1: its origin is the key's name
        if body.origin != signer.name:
            raise Finding("checkpoint", "the note's origin is not its key's name")
        # §Checkpoints table: every field agrees with the note
        if rec["origin"] != body.origin:
            raise Finding("checkpoint", "origin differs from the note")
        if rec["public_key"] != after.text:
            raise Finding("checkpoint", "public_key is not the key in force after it")
        if (rec["size"], rec["items_position"], rec["deliveries_position"]) != (
            body.size,
            body.items,
            body.deliveries,
        ):
            raise Finding("checkpoint", "size or positions differ from the note")
        if rec["root"] != body.root.hex():
            raise Finding("checkpoint", "root differs from the note")
        # step 1: never shrink
        if out:
            prev = out[-1].body
            if (
                body.size < prev.size
                or body.items < prev.items
                or body.deliveries < prev.deliveries
            ):
                raise Finding("consistency", "a checkpoint shrinks")
        in_force = after
        out.append(Trusted(rec, body, segment))
    return out


# ----------------------------------------------------------------- leaves (steps 2, 3)


def classify(recorded: list[bytes], current: list[bytes], i: int) -> str:
    """Step 3: the kind of the change at the first differing index i."""
    if i >= len(current):
        return "truncated"
    n = min(WINDOW, len(recorded) - i, len(current) - i - 1)
    if n > 0 and recorded[i : i + n] == current[i + 1 : i + 1 + n]:
        return "inserted"
    n = min(WINDOW, len(current) - i, len(recorded) - i - 1)
    if n > 0 and current[i : i + n] == recorded[i + 1 : i + 1 + n]:
        return "deleted"
    r, c = recorded[i], current[i]
    r_gone, c_new = r not in current, c not in recorded
    if i + 1 < len(recorded) and c == recorded[i + 1] and r_gone:
        return "deleted"
    if i + 1 < len(current) and current[i + 1] == r and c_new:
        return "inserted"
    if not r_gone and not c_new:
        return "reordered"
    if r_gone and c_new:
        return "altered"
    return "deleted" if r_gone else "inserted"


def check_leaves(trusted: list[Trusted], current: list[bytes]) -> None:
    """Steps 2-4."""
    for cp in trusted:
        size = cp.body.size
        if size <= len(current) and mth(current[:size]) == cp.body.root:
            continue
        # step 3: use the recorded segments only if they reproduce every signed root
        recorded = [h for t in trusted for h in t.segment]
        if all(
            t.body.size <= len(recorded) and mth(recorded[: t.body.size]) == t.body.root
            for t in trusted
        ):
            i = next(
                (
                    j
                    for j in range(size)
                    if j >= len(current) or current[j] != recorded[j]
                ),
                size,
            )
            raise Finding(classify(recorded, current, i), f"leaf {i} changed")
        raise Finding("truncated" if len(current) < size else "altered", "leaf range")
    # step 4: each record's segment and peaks agree with the log
    prev = 0
    for cp in trusted:
        size = cp.body.size
        if cp.segment != current[prev:size]:
            raise Finding("checkpoint", "segment does not match the log")
        if cp.record["peaks"] != [p.hex() for p in peaks(current, size)]:
            raise Finding("checkpoint", "peaks do not match the log")
        prev = size


def check_order(trusted: list[Trusted], lines: list[bytes]) -> None:
    """Step 6 and §Leaf order: each line's `log` and `position` against its segment."""
    bounds: list[tuple[int, int | None, int | None]] = [
        (t.body.size, t.body.items, t.body.deliveries) for t in trusted
    ]
    bounds.append((len(lines), None, None))  # events after the newest checkpoint
    start, lo_i, lo_d = 0, 0, 0
    for end, hi_i, hi_d in bounds:
        expect_log, last = "items", lo_i
        for index in range(start, max(start, end)):
            try:
                leaf = json.loads(lines[index].decode())
                log, pos = leaf["log"], leaf["position"]
            except (ValueError, KeyError, TypeError):
                raise Finding("reordered", f"line {index} is out of place") from None
            if expect_log == "items" and log == "deliveries":
                expect_log, last = "deliveries", lo_d
            hi = hi_i if log == "items" else hi_d
            if (
                log != expect_log
                or not is_int(pos)
                or pos <= last
                or (hi is not None and pos > hi)
            ):
                raise Finding("reordered", f"line {index} is out of place")
            last = pos
        start = end
        lo_i = hi_i if hi_i is not None else lo_i
        lo_d = hi_d if hi_d is not None else lo_d


# ------------------------------------------------------------------------------ entry


def read_lines(path: Path) -> list[bytes]:
    # §Leaves: only `\n` ends a line; a missing final `\n` is tolerated;
    # an empty line is a leaf of empty data
    data = path.read_bytes()
    if not data:
        return []
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()
    return parts


def check_kept(
    note: str, trusted_keys: list[Key], trusted: list[Trusted], current: list[bytes]
) -> None:
    """Step 5 / the auditor's step 4: a checkpoint kept from outside (`--checkpoint`).

    Bad input (exit 2 in the CLI) raises ValueError."""
    # §Checkpoints: "a kept `--checkpoint FILE` must" end with `\n`
    try:
        body_text, sigs = split_note(note)
    except Finding:
        raise ValueError("the kept checkpoint is not a signed note") from None
    # signed by a trusted key, or one a trusted key handed over to in the log
    reachable = list(trusted_keys) + [
        t.body.rotation[1] for t in trusted if t.body.rotation is not None
    ]
    signers = [k for k in reachable if signed_by(k, body_text, sigs)]
    if not signers:
        raise ValueError("the kept checkpoint is not signed by a trusted key")
    body = parse_body(body_text)
    if body is None:
        raise ValueError("the kept checkpoint's body is not a checkpoint")
    if body.origin != signers[0].name:
        raise ValueError("the kept checkpoint is of another origin")
    # the log's first size events still give its root (else altered or truncated)
    if body.size > len(current):
        raise Finding("truncated", "the log ends before the kept checkpoint's size")
    if mth(current[: body.size]) != body.root:
        raise Finding("altered", "the log no longer gives the kept checkpoint's root")
    # it is still among the recorded checkpoints (else checkpoint)
    match = [
        t for t in trusted if t.record["note"].split("\n\n")[0] + "\n" == body_text
    ]
    if not match:
        raise Finding(
            "checkpoint", "the kept checkpoint is not among the recorded ones"
        )
    # signed by the key valid for that checkpoint (else signature): the key in force
    # before it (that recorded checkpoint's own signer), per §Keys
    index = trusted.index(match[0])
    valid = (
        [parse_key(trusted[index - 1].record["public_key"])]
        if index
        else list(trusted_keys)
    )
    if not any(k is not None and signed_by(k, body_text, sigs) for k in valid):
        raise Finding("signature", "the kept checkpoint is not signed by its valid key")


def verify_export(
    export_dir: Path, pubkey_lines: list[str], kept: list[str] | None = None
) -> tuple[bool, str | None]:
    """Verify an export against trusted public key lines; (ok, first finding's kind).

    `kept` are checkpoint notes kept from outside (`--checkpoint FILE`); bad input
    (the CLI's exit 2) raises ValueError."""
    trusted_keys = parse_key_set(pubkey_lines)
    lines = read_lines(export_dir / "events.jsonl")
    try:
        records: list[Any] = []
        for raw in read_lines(export_dir / "checkpoints.jsonl"):
            try:
                records.append(json.loads(raw.decode()))
            except ValueError:
                # §Checkpoints: an unreadable record is a `checkpoint` finding
                records.append(None)
        trusted = check_records(records, trusted_keys)
        current = [leaf_hash(line) for line in lines]
        check_leaves(trusted, current)
        # step 5 (export only, reached only when steps 1-4 found nothing): the lines'
        # order against the signed positions
        check_order(trusted, lines)
        # step 6: a log with events and no checkpoint fails; then kept checkpoints
        if lines and not trusted:
            raise Finding("checkpoint", "events but no signed checkpoint")
        for note in kept or []:
            check_kept(note, trusted_keys, trusted, current)
    except Finding as finding:
        return False, finding.kind
    return True, None
