"""Sealed attachments: personal data that is public for a while, erasable for good.

A 公示 list (names, masked ID numbers, amounts) is lawfully public during its notice
period and must go afterwards. The items log is append-only and hashed into signed
checkpoints, so nothing in it can be removed without breaking `audit verify`. An
attachment marked `sealed` is therefore never stored in clear: it is encrypted with a
key of its own item, and the log and the attachment store hold only the ciphertext (the
attachment's `sha256` and `size` are the sealed blob's). The keys live in a folder
beside the attachment store, never in an event store. Erasing the item destroys its
key: the ciphertext stays, verifiable and unreadable, and `audit verify` still passes.

The cipher is AES-256-GCM (the `cryptography` package, already used for signatures). The
nonce is derived from the key and the plaintext (HMAC-SHA256), so the same file sealed
for the same item gives the same blob: publishing an item file again is recognised as
identical. That reveals only whether two sealed files of one item are equal.

A blob: `SYNSEAL1` (8 bytes) + nonce (12 bytes) + ciphertext with its 16-byte tag. The
item id is the associated data: a blob moved to another item does not open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from syndicate.errors import StoreError
from syndicate.fsutil import fsync_dir, write_atomically

__all__ = [
    "KEYS_DIR",
    "MAGIC",
    "KeyStore",
    "is_sealed",
    "open_attachment",
    "seal",
    "unseal",
]

MAGIC = b"SYNSEAL1"
# Beside the attachment store (`<data_dir>/attachments`), under the same data directory.
KEYS_DIR = "sealing-keys"
_OVERHEAD = len(MAGIC) + 12 + 16


def is_sealed(blob: bytes) -> bool:
    """Whether `blob` is a sealed attachment."""
    return blob.startswith(MAGIC) and len(blob) >= _OVERHEAD


def seal(key: bytes, item_id: UUID, plaintext: bytes) -> bytes:
    """The sealed blob of `plaintext` for the item `item_id` (deterministic)."""
    nonce = hmac.new(key, b"nonce" + item_id.bytes + plaintext, hashlib.sha256).digest()
    nonce = nonce[:12]
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, item_id.bytes)


def unseal(key: bytes, item_id: UUID, blob: bytes) -> bytes:
    """The plaintext of a sealed blob; `ValueError` if it is not one of this item's."""
    if not is_sealed(blob):
        raise ValueError("not a sealed attachment")
    nonce, body = blob[len(MAGIC) : len(MAGIC) + 12], blob[len(MAGIC) + 12 :]
    try:
        return AESGCM(key).decrypt(nonce, body, item_id.bytes)
    except InvalidTag:
        raise ValueError(
            "the sealed attachment does not open with this item's key"
        ) from None


class KeyStore:
    """One key file per item with sealed parts: `<root>/<item id>.key`, 32 random
    bytes, readable by its owner only. Destroying it erases the item's sealed parts."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def beside(cls, attachments_root: Path) -> KeyStore:
        """The key store of the attachment store at `attachments_root`."""
        return cls(attachments_root.parent / KEYS_DIR)

    def path_of(self, item_id: UUID) -> Path:
        return self.root / f"{item_id}.key"

    def get(self, item_id: UUID) -> bytes | None:
        """The item's key, or None when it has none (never sealed, or erased);
        `StoreError` when the key file is damaged or unreadable."""
        path = self.path_of(item_id)
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"cannot read the sealing key {path}: {exc.strerror}"
            ) from None
        if len(key) != 32:
            raise StoreError(
                f"the sealing key {path} is damaged ({len(key)} bytes, not 32): "
                "restore it from a backup of the data directory; without it the "
                "item's sealed files cannot be opened"
            )
        return key

    @staticmethod
    def new_key() -> bytes:
        """A fresh random key (written with `put`)."""
        return secrets.token_bytes(32)

    def put(self, item_id: UUID, key: bytes) -> None:
        """Write the item's key durably, owner-only (never over an existing one)."""
        if self.get(item_id) is not None:
            raise StoreError(f"item {item_id} has a sealing key already")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        write_atomically(self.path_of(item_id), key, mode=0o600)

    def get_or_create(self, item_id: UUID) -> bytes:
        """The item's key, made (and written durably, owner-only) on first use."""
        key = self.get(item_id)
        if key is None:
            key = self.new_key()
            self.put(item_id, key)
        return key

    def destroy(self, item_id: UUID) -> bool:
        """Overwrite the key file, then remove it (durably); False if there was none.

        On a copy-on-write or flash file system the old blocks may survive the
        overwrite: the key's secrecy also rests on the data directory's protection and
        on backups not keeping the folder (docs/personal-data.md)."""
        path = self.path_of(item_id)
        try:
            with path.open("r+b") as handle:
                handle.write(secrets.token_bytes(32))
                handle.flush()
                os.fsync(handle.fileno())
        except FileNotFoundError:
            return False
        path.unlink()
        fsync_dir(self.root)
        return True


def open_attachment(
    store_root: Path, item_id: UUID, sha256: str, *, sealed: bool
) -> bytes | None:
    """The bytes of an item's attachment as outlets publish them: a `sealed` one (as
    its metadata says, never guessed from the bytes) opened with the item's key, any
    other as stored. None when it is sealed and the key is gone (erased);
    `FileNotFoundError` when the blob is missing; `ValueError` when a sealed blob does
    not open."""
    blob = (store_root / sha256[:2] / sha256).read_bytes()
    if not sealed:
        return blob
    # The blob must be the one the log names: another blob of the same item (an older
    # list) would open with the same key.
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise ValueError("the sealed file in the store does not match its sha256")
    key = KeyStore.beside(store_root).get(item_id)
    if key is None:
        return None
    return unseal(key, item_id, blob)
