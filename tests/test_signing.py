"""Signed checkpoints: C2SP signed-note / tlog-checkpoint formats, keys and key files."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from syndicate.signing import (
    Checkpoint,
    CheckpointFormatError,
    KeyFileError,
    KeyFormatError,
    SignatureError,
    Signer,
    Verifier,
    read_signer_file,
    read_verifier_file,
    sign_checkpoint,
    verify_checkpoint,
    write_signer_file,
    write_verifier_file,
)

ROOT = hashlib.sha256(b"root").digest()
CHECKPOINT = Checkpoint("audit.example/log", 42, ROOT)

# From the documented examples of Go's golang.org/x/mod/sumdb/note (example_test.go).
GO_SKEY = (
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
)
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def secrets_of(signer: Signer) -> list[str]:
    """Every spelling of the signer's private seed a leak could take."""
    data = signer.to_text().split("+", 4)[4]
    seed = base64.b64decode(data)[1:]
    return [data, base64.b64encode(seed).decode(), seed.hex(), signer.to_text()]


def test_round_trip() -> None:
    signer = Signer.generate("audit.example/log")
    note = sign_checkpoint(signer, CHECKPOINT)
    assert note.startswith(CHECKPOINT.body() + "\n\u2014 audit.example/log ")
    assert verify_checkpoint(note, signer.verifier()) == CHECKPOINT
    again = Signer.from_text(signer.to_text())
    assert again.key_id == signer.key_id
    assert again.verifier() == signer.verifier()
    verifier = Verifier.from_text(signer.verifier().to_text())
    assert verifier == signer.verifier()
    assert verifier.verify(again.sign("hello\n")) == "hello\n"


def test_checkpoint_body_format() -> None:
    b64root = base64.b64encode(ROOT).decode()
    assert CHECKPOINT.body() == f"audit.example/log\n42\n{b64root}\n"
    with_ext = Checkpoint("o", 0, ROOT, ("ext one", "ext two"))
    assert with_ext.body() == f"o\n0\n{b64root}\next one\next two\n"
    assert Checkpoint.parse(with_ext.body()) == with_ext


def test_key_id_is_the_spec_hash() -> None:
    signer = Signer.generate("audit.example/log")
    public = signer.verifier().public_key
    expected = hashlib.sha256(b"audit.example/log" + b"\n" + b"\x01" + public)
    assert signer.key_id == expected.digest()[:4]
    assert signer.verifier().key_id == expected.digest()[:4]
    assert signer.verifier().to_text() == (
        "audit.example/log+"
        + expected.hexdigest()[:8]
        + "+"
        + base64.b64encode(b"\x01" + public).decode()
    )
    line = signer.sign("x\n").splitlines()[-1]
    assert base64.b64decode(line.split(" ")[2])[:4] == expected.digest()[:4]


def test_go_note_package_example_vectors() -> None:
    assert Verifier.from_text(GO_VKEY).verify(GO_NOTE) == GO_TEXT
    signer = Signer.from_text(GO_SKEY)
    assert signer.verifier().to_text() == GO_VKEY
    assert signer.to_text() == GO_SKEY
    assert signer.sign(GO_TEXT) == GO_NOTE  # Ed25519 is deterministic


@pytest.mark.parametrize(
    "tampered",
    [
        Checkpoint("audit.example/log", 43, ROOT),
        Checkpoint("audit.example/log", 42, hashlib.sha256(b"other").digest()),
        Checkpoint("audit.example/other", 42, ROOT),
    ],
)
def test_tampered_body_rejected(tampered: Checkpoint) -> None:
    signer = Signer.generate("audit.example/log")
    note = sign_checkpoint(signer, CHECKPOINT)
    forged = tampered.body() + note[len(CHECKPOINT.body()) :]
    with pytest.raises(SignatureError, match="does not verify"):
        verify_checkpoint(forged, signer.verifier())


def test_signature_by_another_key_with_the_same_name_rejected() -> None:
    mine, impostor = Signer.generate("log"), Signer.generate("log")
    note = impostor.sign(CHECKPOINT.body())
    with pytest.raises(SignatureError) as info:
        mine.verifier().verify(note)
    message = str(info.value)
    assert f"no signature by key log+{mine.key_id.hex()}" in message
    assert f"different key: log+{impostor.key_id.hex()}" in message


def test_unsigned_by_this_key_rejected() -> None:
    with pytest.raises(SignatureError, match="no signature by key"):
        Signer.generate("b").verifier().verify(Signer.generate("a").sign("x\n"))


def test_unknown_key_signatures_are_skipped() -> None:
    signer, witness = Signer.generate("log"), Signer.generate("witness")
    body = CHECKPOINT.body()
    own = signer.sign(body)[len(body) + 1 :]
    other = witness.sign(body)[len(body) + 1 :]
    rotated = Signer.generate("log").sign(body)[len(body) + 1 :]  # same name, other ID
    for sigs in (own + other, other + own, other + rotated + own):
        assert signer.verifier().verify(f"{body}\n{sigs}") == body


def test_bad_signature_by_this_key_rejects_the_whole_note() -> None:
    signer = Signer.generate("log")
    note = signer.sign("x\n")
    sig = bytearray(base64.b64decode(note.split(" ")[-1]))
    sig[-1] ^= 1
    bad = f"\u2014 log {base64.b64encode(bytes(sig)).decode()}\n"
    with pytest.raises(SignatureError, match="signs it twice"):
        signer.verifier().verify(note + bad)
    with pytest.raises(SignatureError, match="does not verify"):
        signer.verifier().verify(note[: -len(note.split("\n")[-2]) - 1] + bad)


def test_a_signer_line_given_twice_is_rejected() -> None:
    """reliability.md §9: a duplicate signer makes the note malformed (as in Go's
    sumdb/note), even when both copies verify."""
    signer = Signer.generate("log")
    note = signer.sign("x\n")
    line = note.split("\n")[-2] + "\n"
    assert signer.verifier().verify(note) == "x\n"
    with pytest.raises(SignatureError, match="signs it twice"):
        signer.verifier().verify(note + line)


def test_a_checkpoint_of_another_log_is_rejected() -> None:
    """Signed by the trusted key, but for another origin: not this log's checkpoint."""
    signer = Signer.generate("linxi-audit")
    other = Checkpoint(origin="other-log", size=3, root=b"\x01" * 32)
    note = signer.sign(other.body())
    with pytest.raises(SignatureError, match="not of 'linxi-audit'"):
        verify_checkpoint(note, signer.verifier())
    assert verify_checkpoint(note, signer.verifier(), origin="other-log") == other


def test_body_may_contain_blank_lines() -> None:
    signer = Signer.generate("log")
    body = "para one\n\npara two\n"
    assert signer.verifier().verify(signer.sign(body)) == body


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda n: n.replace("\n\n", "\n"), "no blank line"),
        (lambda n: n[:-1], "newline"),
        (lambda n: n.replace("=\n", "!\n"), "signature line 1"),  # bad base64
        (lambda n: n[:-6] + "\n", "signature line 1"),  # truncated, bad padding
        (lambda n: n.replace("\u2014 ", "- "), "signature line 1"),  # no em dash
        (lambda n: n.replace("\u2014 ", "\u2014"), "signature line 1"),
        (lambda n: n.replace(" log ", " log  "), "signature line 1"),
        (lambda n: n.replace("x\n", "x\r\n", 1), "control character"),
        (lambda n: n.split("\u2014")[0], "no blank line followed by signatures"),
    ],
)
def test_malformed_notes_rejected(mangle: Callable[[str], str], reason: str) -> None:
    signer = Signer.generate("log")
    note = signer.sign("x\n")
    with pytest.raises(SignatureError, match=reason) as info:
        signer.verifier().verify(mangle(note))
    assert str(info.value).startswith(("malformed note", "no signature"))


def test_truncated_signature_rejected() -> None:
    signer = Signer.generate("log")
    note = signer.sign("x\n")
    sig = base64.b64decode(note.split(" ")[-1])
    for keep in (3, 4, 40):  # too short to hold an ID, ID only, cut signature
        short = note.rsplit(" ", 1)[0] + " " + base64.b64encode(sig[:keep]).decode()
        with pytest.raises(SignatureError):
            signer.verifier().verify(short + "\n")


def test_private_key_never_in_repr_str_or_errors(tmp_path: Path) -> None:
    signer = Signer.generate("log")
    secrets = secrets_of(signer)
    messages = [repr(signer), str(signer), f"{signer}", repr([signer])]
    text = signer.to_text()
    bad_texts = [
        text[:-4],  # truncated key data
        text.replace("+KEY+log+", "+KEY+lo g+"),  # bad name
        text.replace(f"+{signer.key_id.hex()}+", "+00000000+"),  # wrong key ID
        text.replace("PRIVATE+KEY+", "PRIVATE+KEYS+"),
        text + "!",
    ]
    for bad in bad_texts:
        with pytest.raises(KeyFormatError) as info:
            Signer.from_text(bad)
        messages.append(str(info.value))
    for i, bad in enumerate(bad_texts):
        path = tmp_path / f"bad{i}.key"
        path.write_text(bad)
        path.chmod(0o600)
        with pytest.raises(KeyFileError) as file_info:
            read_signer_file(path)
        messages.append(str(file_info.value))
        assert file_info.value.__cause__ is None
    open_path = tmp_path / "open" / "signer.key"
    write_signer_file(open_path, signer)
    open_path.chmod(0o644)
    with pytest.raises(KeyFileError) as open_info:
        read_signer_file(open_path)
    messages.append(str(open_info.value))
    for message in messages:
        for secret in secrets:
            assert secret not in message


def test_signer_file_mode_and_no_overwrite(tmp_path: Path) -> None:
    signer = Signer.generate("log")
    path = tmp_path / "keys" / "signer.key"
    old_umask = os.umask(0)  # even a permissive umask must not widen the modes
    try:
        write_signer_file(path, signer)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text() == signer.to_text() + "\n"
    assert read_signer_file(path).verifier() == signer.verifier()
    with pytest.raises(FileExistsError):
        write_signer_file(path, Signer.generate("log"))
    assert read_signer_file(path).key_id == signer.key_id


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o610])
def test_group_or_other_accessible_key_file_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "signer.key"
    write_signer_file(path, Signer.generate("log"))
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=f"chmod 600 {path}"):
        read_signer_file(path)


def test_missing_key_files_explained(tmp_path: Path) -> None:
    path = tmp_path / "nope.key"
    with pytest.raises(KeyFileError) as info:
        read_signer_file(path)
    assert str(path) in str(info.value)
    assert "syndicate init" in str(info.value)
    with pytest.raises(KeyFileError, match="syndicate init"):
        read_verifier_file(path)


def test_verifier_file(tmp_path: Path) -> None:
    verifier = Signer.generate("log").verifier()
    path = tmp_path / "pub" / "log.pub"
    write_verifier_file(path, verifier)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == verifier.to_text() + "\n"
    assert read_verifier_file(path) == verifier
    with pytest.raises(FileExistsError):
        write_verifier_file(path, verifier)
    bad = tmp_path / "bad.pub"
    bad.write_text(verifier.to_text().replace("+", "+0", 1))
    with pytest.raises(KeyFileError, match="malformed verifier key"):
        read_verifier_file(bad)


def test_verifier_key_text_checked() -> None:
    text = Signer.generate("log").verifier().to_text()
    name, key_id, data = text.split("+", 2)
    other = Signer.generate("log").verifier().to_text().split("+", 2)[2]
    for bad in (
        f"{name}+{key_id}+{other}",  # ID does not match the key
        f"{name}+{key_id}",
        f"{name}+{key_id[:7]}+{data}",
        f"{name}+{key_id}+" + base64.b64encode(b"\x02" + bytes(32)).decode(),
        f"{name}+{key_id}+" + base64.b64encode(b"\x01" + bytes(31)).decode(),
        f"+{key_id}+{data}",
    ):
        with pytest.raises(KeyFormatError):
            Verifier.from_text(bad)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u3000b", "a\x00b"])
def test_invalid_key_names_refused(name: str) -> None:
    with pytest.raises(KeyFormatError, match="invalid key name"):
        Signer.generate(name)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("o\n01\n{root}\n", "line 2"),
        ("o\n-1\n{root}\n", "line 2"),
        ("o\n+1\n{root}\n", "line 2"),
        ("o\n 1\n{root}\n", "line 2"),
        ("o\n\n{root}\n", "line 2"),
        ("o\n1\n{short}\n", "line 3"),
        ("o\n1\nnot base64!\n", "line 3"),
        ("o\n1\n{root}", "newline"),
        ("\n1\n{root}\n", "line 1"),
        ("o\n1\n", "2 lines"),
        ("o\n1\n{root}\n\n", "line 4"),
    ],
)
def test_checkpoint_parse_strict(body: str, reason: str) -> None:
    text = body.format(
        root=base64.b64encode(ROOT).decode(),
        short=base64.b64encode(ROOT[:31]).decode(),
    )
    with pytest.raises(CheckpointFormatError, match=reason) as info:
        Checkpoint.parse(text)
    assert str(info.value).startswith("malformed checkpoint: ")
    assert isinstance(info.value, SignatureError)


def test_checkpoint_parse_accepts_edges() -> None:
    b64root = base64.b64encode(ROOT).decode()
    assert Checkpoint.parse(f"o\n0\n{b64root}\n") == Checkpoint("o", 0, ROOT)
    big = 2**63 + 1
    assert Checkpoint.parse(f"o\n{big}\n{b64root}\n").size == big


def test_checkpoint_construction_checked() -> None:
    with pytest.raises(CheckpointFormatError, match="line 3"):
        Checkpoint("o", 1, ROOT[:31])
    with pytest.raises(CheckpointFormatError, match="line 2"):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(CheckpointFormatError, match="line 1"):
        Checkpoint("o\nx", 1, ROOT)
    with pytest.raises(CheckpointFormatError, match="line 4"):
        Checkpoint("o", 1, ROOT, ("",))


def test_signed_checkpoint_with_bad_body_rejected() -> None:
    signer = Signer.generate("log")
    note = signer.sign("o\n01\n" + base64.b64encode(ROOT).decode() + "\n")
    with pytest.raises(CheckpointFormatError, match="line 2"):
        verify_checkpoint(note, signer.verifier())


def test_sign_refuses_bad_body() -> None:
    signer = Signer.generate("log")
    with pytest.raises(SignatureError, match="newline"):
        signer.sign("no newline")
    with pytest.raises(SignatureError, match="control"):
        signer.sign("tab\there\n")
