"""Ed25519 signed checkpoints for the audit log (C2SP signed-note and tlog-checkpoint).

A checkpoint body is ``<origin>\\n<tree size>\\n<base64 root hash>\\n`` plus optional
extension lines. A signed note is the body, an empty line, then signature lines
``— <key name> <base64(4-byte key ID || signature)>\\n``; the key ID is
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``. Key texts have the forms of Go's
``golang.org/x/mod/sumdb/note``, so its tools read our keys and notes and vice versa.

No repr or exception message produced here contains private key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ed25519

from syndicate.fsutil import fsync_dir

__all__ = [
    "ROTATION",
    "Checkpoint",
    "CheckpointFormatError",
    "KeyChain",
    "KeyFileError",
    "KeyFormatError",
    "SignatureError",
    "Signer",
    "Verifier",
    "read_signer_file",
    "read_verifier_file",
    "read_verifiers",
    "rotation_of",
    "sign_checkpoint",
    "sign_note",
    "verify_checkpoint",
    "write_signer_file",
    "write_verifier_file",
]

ED25519 = b"\x01"  # the signed-note signature type byte for Ed25519
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_SIZE = re.compile(r"0|[1-9][0-9]*")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


class SignatureError(ValueError):
    """A note is malformed, unsigned by the expected key, or its signature fails."""


class CheckpointFormatError(SignatureError):
    """A checkpoint body breaks the tlog-checkpoint format."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"malformed checkpoint: {problem}")


class KeyFormatError(ValueError):
    """A key name or key text is malformed (messages never echo private key text)."""


class KeyFileError(ValueError):
    """A key file is missing, unreadable, malformed or readable by group/others."""


def _check_name(name: str) -> None:
    if not name.isprintable() or any(c.isspace() or c == "+" for c in name or " "):
        raise KeyFormatError(f"invalid key name {name!r}: empty, or has space or '+'")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes | None:
    """Strict, canonical standard padded base64 (RFC 4648 §4), or None if `text` is
    not that. Canonical: the unused bits of the last character are zero, so one value
    has one spelling and a changed signature line can never still verify."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return data if _b64(data) == text else None


def _check_text(text: str, what: str) -> None:
    if not text.endswith("\n"):
        raise SignatureError(f"malformed {what}: does not end with a newline")
    if _CONTROL.search(text):
        raise SignatureError(f"malformed {what}: contains a control character")


def _parse_key(text: str, kind: str, prefix: str = "") -> tuple[str, str, bytes]:
    """Split `<prefix><name>+<hex8>+<base64(0x01 || 32 bytes)>`; never echoes `text`."""
    name, _, rest = text.strip().removeprefix(prefix).partition("+")
    key_id, _, data = rest.partition("+")
    raw = _unb64(data)
    if (
        not text.strip().startswith(prefix)
        or not _HEX8.fullmatch(key_id)
        or raw is None
    ):
        raise KeyFormatError(
            f"malformed {kind} key: expected {prefix}<name>+<8 hex>+<base64>"
        )
    if len(raw) != 33 or raw[:1] != ED25519:
        raise KeyFormatError(f"malformed {kind} key: not an Ed25519 (type 0x01) key")
    return name, key_id.lower(), raw[1:]


@dataclass(frozen=True)
class Checkpoint:
    """A transparency-log tree head: origin, tree size, RFC 6962 root hash, extensions.

    Checked on construction: `origin` and each extension a non-empty single line, `size`
    non-negative, `root` exactly 32 bytes. `Checkpoint.parse(c.body()) == c` always.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for i, line in enumerate((self.origin, *self.extensions)):
            if not line or "\n" in line or _CONTROL.search(line):
                where = f"line {i + 3} (extension)" if i else "line 1 (origin)"
                raise CheckpointFormatError(f"{where} is empty or not a single line")
        if self.size < 0:
            raise CheckpointFormatError("line 2 (tree size) is negative")
        if len(self.root) != 32:
            raise CheckpointFormatError(
                f"line 3 (root) is {len(self.root)} bytes, not 32"
            )

    def body(self) -> str:
        """The note text: one newline-terminated line per field."""
        lines = (self.origin, str(self.size), _b64(self.root), *self.extensions)
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body strictly; CheckpointFormatError names the bad line."""
        if not body.endswith("\n"):
            raise CheckpointFormatError("body does not end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointFormatError(f"{len(lines)} lines; need origin, size, root")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise CheckpointFormatError(
                "line 2 (tree size) is not a decimal without sign or leading zeros"
            )
        raw = _unb64(root)
        if raw is None or _b64(raw) != root:
            raise CheckpointFormatError("line 3 (root hash) is not canonical base64")
        return cls(origin, int(size), raw, tuple(extensions))


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 public key (32 bytes) with its signed-note key name."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != 32:
            raise KeyFormatError(f"public key is {len(self.public_key)} bytes, not 32")

    @property
    def key_id(self) -> bytes:
        """SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
        data = self.name.encode() + b"\n" + ED25519 + self.public_key
        return hashlib.sha256(data).digest()[:4]

    @property
    def label(self) -> str:
        """`<name>+<hex key ID>`: how messages name this key."""
        return f"{self.name}+{self.key_id.hex()}"

    @classmethod
    def from_text(cls, text: str) -> Verifier:
        """Parse `<name>+<8 hex key ID>+<base64(0x01 || key)>`; the ID must match."""
        name, key_id, public_key = _parse_key(text, "verifier")
        verifier = cls(name, public_key)
        if verifier.key_id.hex() != key_id:
            raise KeyFormatError(f"verifier key {name}+{key_id}: ID does not match key")
        return verifier

    def to_text(self) -> str:
        """The verifier key text (public)."""
        return f"{self.label}+{_b64(ED25519 + self.public_key)}"

    def verify(self, note: str) -> str:
        """Return the body of `note` if this key signed it; else raise SignatureError.

        Signatures by other keys are skipped (the signed-note rule), but a failing
        signature by this key (same name and key ID) rejects the whole note.
        """
        body, sigs = _split_note(note)
        mine = [
            sig[4:] for name, sig in sigs if (name, sig[:4]) == (self.name, self.key_id)
        ]
        if not mine:
            others = sorted({sig[:4].hex() for name, sig in sigs if name == self.name})
            hint = (
                f"; signed by a different key: {self.name}+{others[0]}"
                if others
                else ""
            )
            raise SignatureError(f"no signature by key {self.label}{hint}")
        if len(mine) > 1:
            raise SignatureError(f"malformed note: key {self.label} signs it twice")
        key = ed25519.Ed25519PublicKey.from_public_bytes(self.public_key)
        for sig in mine:
            try:
                key.verify(sig, body.encode())
            except InvalidSignature:
                raise SignatureError(
                    f"signature by {self.label} does not verify"
                ) from None
        return body


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a signed note into its body and (key name, key ID || signature) pairs."""
    _check_text(note, "note")
    cut = note.rfind("\n\n")
    if cut < 0 or cut + 2 == len(note):
        raise SignatureError("malformed note: no blank line followed by signatures")
    body, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise SignatureError(f"malformed note: over {MAX_SIGNATURES} signatures")
    sigs = []
    for n, line in enumerate(lines, start=1):
        fields = line.split(" ")
        sig = _unb64(fields[2]) if len(fields) == 3 else None
        if sig is None or len(sig) < 5 or fields[0] != "\u2014" or not fields[1]:
            raise SignatureError(
                f"malformed note: signature line {n} is not '\u2014 <name> <base64>'"
            )
        sigs.append((fields[1], sig))
    return body, sigs


class Signer:
    """An Ed25519 private key with its key name. repr/str never show the key."""

    __slots__ = ("_key", "key_id", "name")

    def __init__(self, name: str, private_key: ed25519.Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        self.key_id: bytes = self.verifier().key_id

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A fresh random key named `name`."""
        return cls(name, ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str) -> Signer:
        """Parse `PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>`."""
        name, key_id, seed = _parse_key(text, "signer", "PRIVATE+KEY+")
        signer = cls(name, ed25519.Ed25519PrivateKey.from_private_bytes(seed))
        if signer.key_id.hex() != key_id:
            raise KeyFormatError(f"signer key {name}+{key_id}: ID does not match key")
        return signer

    def to_text(self) -> str:
        """The secret PRIVATE+KEY line; store it only with write_signer_file."""
        raw = ser.Encoding.Raw
        seed = self._key.private_bytes(raw, ser.PrivateFormat.Raw, ser.NoEncryption())
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{_b64(ED25519 + seed)}"

    def verifier(self) -> Verifier:
        """The matching public key."""
        public = self._key.public_key()
        return Verifier(self.name, public.public_bytes_raw())

    def sign(self, body: str) -> str:
        """The signed note: `body` (newline-terminated), a blank line, one signature."""
        _check_text(body, "note body")
        return f"{body}\n{self.signature_line(body)}"

    def signature_line(self, body: str) -> str:
        """This key's signature line for `body`: `— <name> <base64(key ID ‖ sig)>\\n`."""
        sig = _b64(self.key_id + self._key.sign(body.encode()))
        return f"\u2014 {self.name} {sig}\n"

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id.hex()!r})"

    __str__ = __repr__


def sign_note(body: str, *signers: Signer) -> str:
    """The signed note of `body` with one signature line per signer, in order."""
    _check_text(body, "note body")
    return f"{body}\n" + "".join(s.signature_line(body) for s in signers)


# -- key rotation -------------------------------------------------------------------------

ROTATION = "key-rotation"


def rotation_of(checkpoint: Checkpoint) -> tuple[Verifier, Verifier] | None:
    """The (old, new) keys a rotation checkpoint names in its extension line
    `key-rotation <old key text> <new key text>`, or None if it is not one.
    CheckpointFormatError if the line is malformed (two of them, a key that does not
    parse, keys of different names, the same key twice)."""
    lines = [e for e in checkpoint.extensions if e.split(" ", 1)[0] == ROTATION]
    if not lines:
        return None
    parts = lines[0].split(" ")
    if len(lines) > 1 or len(parts) != 3:
        raise CheckpointFormatError(
            f"a {ROTATION} line must be `{ROTATION} <old key> <new key>`, once"
        )
    try:
        old, new = Verifier.from_text(parts[1]), Verifier.from_text(parts[2])
    except KeyFormatError as exc:
        raise CheckpointFormatError(f"{ROTATION}: {exc}") from None
    if old.name != new.name or old == new:
        raise CheckpointFormatError(
            f"{ROTATION}: the new key must be another key of the same name"
        )
    return old, new


class KeyChain:
    """Follows a log's signing key through its checkpoints, oldest first.

    The first checkpoint must be signed by a key in `trusted`; every later one by the
    key in force: the key that signed the one before, or, after a rotation checkpoint
    (`key-rotation OLD NEW`, signed by both OLD, the key in force, and NEW), the new
    key. So a key not in `trusted` is accepted only when a trusted key handed over to
    it; a rotation signed by the new key alone, or by any key but the one in force,
    is refused. A checkpoint that fails leaves the key in force as it was.
    """

    def __init__(self, trusted: Sequence[Verifier]) -> None:
        self.trusted = list(dict.fromkeys(trusted))
        self.current: Verifier | None = None
        self.used: list[Verifier] = []  # the keys that signed, in order

    def expected(self) -> str:
        """How messages name the key(s) a checkpoint must be signed by now."""
        if self.current is not None:
            return f"the key in force {self.current.label}"
        labels = ", ".join(k.label for k in self.trusted) or "none"
        return f"a trusted key ({labels})"

    def verify(self, note: str) -> tuple[Checkpoint, Verifier]:
        """The checkpoint in `note` and the key that signed it for the log (for a
        rotation: the new key, in force from then on). SignatureError if it is not
        signed by the key valid for it; CheckpointFormatError if it is, but its body is
        not a checkpoint (or its rotation line is malformed). The origin is not checked
        here (callers compare it with the key's name)."""
        candidates = self.trusted if self.current is None else [self.current]
        problems: list[str] = []
        for key in candidates:
            try:
                text = key.verify(note)
            except SignatureError as exc:
                problems.append(str(exc))
                continue
            break
        else:
            if not problems:
                raise SignatureError(f"no key to check it with ({self.expected()})")
            raise SignatureError(
                f"not signed by {self.expected()}: {problems[0]}"
                if len(problems) == 1
                else f"not signed by {self.expected()}"
            )
        body = Checkpoint.parse(text)
        rotation = rotation_of(body)
        if rotation is None:
            self._use(key)
            return body, key
        old, new = rotation
        if old not in candidates:
            raise SignatureError(
                f"a key rotation from {old.label}, which is not "
                + (f"the key in force {key.label}" if self.current else "trusted")
            )
        try:
            old.verify(note)
        except SignatureError as exc:
            raise SignatureError(
                f"a key rotation from {old.label} not signed by it ({exc})"
            ) from None
        try:
            new.verify(note)
        except SignatureError as exc:
            raise SignatureError(
                f"a key rotation to {new.label} not co-signed by it ({exc})"
            ) from None
        self._use(old)
        self._use(new)
        return body, new

    def _use(self, key: Verifier) -> None:
        self.current = key
        if key not in self.used:
            self.used.append(key)


def sign_checkpoint(signer: Signer, checkpoint: Checkpoint) -> str:
    """The checkpoint as a note signed by `signer`."""
    return signer.sign(checkpoint.body())


def verify_checkpoint(
    note: str, verifier: Verifier, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in `note`, once its signature by `verifier` verifies and its
    origin is `origin` (by default the key's name, which names our logs)."""
    checkpoint = Checkpoint.parse(verifier.verify(note))
    expected = verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise SignatureError(
            f"checkpoint of log {checkpoint.origin!r}, not of {expected!r}"
        )
    return checkpoint


def _create(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_EXCL: never overwrite (FileExistsError); the mode applies from the first byte.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, mode)  # exactly `mode`, whatever the umask
            handle.write(text.encode())
            handle.flush()
            os.fsync(fd)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _read(path: Path, what: str, *, private: bool) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileError(
            f"{what} {path} is missing; `syndicate init` creates it"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"cannot open {what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise KeyFileError(f"{what} {path} is not a regular file")
        if private and mode & 0o077:
            raise KeyFileError(
                f"{what} {path} is accessible by group or others (mode "
                f"{stat.S_IMODE(mode):03o}); run `chmod 600 {path}`"
            )
        try:
            return handle.read(64 * 1024).decode()
        except (OSError, UnicodeDecodeError):
            raise KeyFileError(f"cannot read {what} {path} as UTF-8 text") from None


def write_signer_file(path: Path, signer: Signer) -> None:
    """Create `path` with mode 0600 (parent 0700 if new); FileExistsError if it exists."""
    _create(path, signer.to_text() + "\n", 0o600)


def read_signer_file(path: Path) -> Signer:
    """Load a signer key; KeyFileError if missing, malformed or group/other-readable."""
    text = _read(path, "signing key file", private=True)
    try:
        return Signer.from_text(text)
    except ValueError:
        raise KeyFileError(f"signing key file {path} holds no valid key") from None


def write_verifier_file(path: Path, verifier: Verifier) -> None:
    """Create `path` with mode 0644 holding the key text; FileExistsError if it exists."""
    _create(path, verifier.to_text() + "\n", 0o644)


def read_verifiers(path: Path) -> list[Verifier]:
    """Load a key set: one verifier key per line (blank lines skipped), at least one;
    KeyFileError if missing or if any line is not a key."""
    text = _read(path, "verifier key file", private=False)
    keys: list[Verifier] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            keys.append(Verifier.from_text(line))
        except KeyFormatError as exc:
            raise KeyFileError(
                f"verifier key file {path}, line {number}: {exc}"
            ) from None
    if not keys:
        raise KeyFileError(f"verifier key file {path} holds no key")
    return list(dict.fromkeys(keys))


def read_verifier_file(path: Path) -> Verifier:
    """Load a verifier key; KeyFileError if missing or malformed."""
    text = _read(path, "verifier key file", private=False)
    try:
        return Verifier.from_text(text)
    except KeyFormatError as exc:
        raise KeyFileError(f"verifier key file {path}: {exc}") from None
