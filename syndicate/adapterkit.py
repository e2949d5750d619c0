"""The adapter kit: what adapters have in common, written once. Stable extension API.

`syndicate.adapter` says what an adapter is (the protocol, the values it is given and
returns, the optional capabilities); this module holds the code adapters would otherwise
each write again. Built-in adapters import only these two modules and `syndicate.errors`
(an import-linter contract holds them to it), so a third party's adapter can do anything
a built-in one does.

- **The class.** `BaseAdapter[SettingsT]`: the settings type guard, `self.settings`
  typed for mypy, the optional `label`, an injectable `clock`.
- **Secrets.** `mask` (what may be shown of a secret) and `QuerySecrets` (secret query
  parameters blanked in messages and in urllib3's debug log).
- **HTTP.** `exchange` (one bounded request through the session; the network guard's
  helper), `Exchange`, `RequestFailed`, `retry_after`, and `unsent_failure` (the
  delivery error of a request that never left).
- **Files.** `FolderWriter` (writes that stay inside the outlet's folder: atomic and
  durable for `deliver`, plain for the scratch copies of `expected_files`),
  `file_errors` (file-system errors as delivery errors), `write_file`, `remove_file`,
  `write_atomically`, `fsync_dir`, `sync_written` (many files written without an
  fsync each made durable at once, for `DeliversMany`), and the file-set renditions of outlets whose
  rendition is a whole folder (`file_set_rendition`, `file_set`, `read_file_set`).
- **Publishing a site.** The headers `syndicate serve` sends (`PAGE_HEADERS`,
  `ATTACHMENT_HEADERS`, `ATTACHMENT_TYPE`, the `ATTACHMENTS` folder), for outlets that
  write web-server configuration.
- **Audit checkpoints.** `checked_checkpoints`: the checkpoints a `witness` call was
  given, verified under the key in force for each, as `PublishedCheckpoint`s.
- **Rendering.** `CHINA_TZ` (the display time zone), `canonical_json` (sorted keys,
  UTF-8: the bytes renditions and hashes are made of), `UUID_PATTERN` (an item id in a
  file name or link).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final, Generic, TypeVar, cast, get_args, get_origin

from pydantic import BaseModel

from syndicate.adapter import (
    ChannelAdapter,
    DeliveryJob,
    Operation,
    Rendition,
    WitnessedCheckpoint,
)
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import canonical_json
from syndicate.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from syndicate.fsutil import fsync_dir, sync_written, write_atomically
from syndicate.netguard import Exchange, RequestFailed, exchange, retry_after
from syndicate.sealing import open_attachment
from syndicate.signing import KeyChain, Verifier
from syndicate.sitehttp import (
    ATTACHMENT_HEADERS,
    ATTACHMENT_TYPE,
    ATTACHMENTS,
    PAGE_HEADERS,
)

__all__ = [
    "ATTACHMENTS",
    "ATTACHMENT_HEADERS",
    "ATTACHMENT_TYPE",
    "CHINA_TZ",
    "PAGE_HEADERS",
    "UUID_PATTERN",
    "BaseAdapter",
    "Exchange",
    "FolderWriter",
    "PublishedCheckpoint",
    "QuerySecrets",
    "RequestFailed",
    "canonical_json",
    "checked_checkpoints",
    "exchange",
    "file_errors",
    "file_set",
    "file_set_rendition",
    "fsync_dir",
    "mask",
    "open_attachment",
    "read_file_set",
    "refuse_review_notice",
    "remove_file",
    "retry_after",
    "sync_written",
    "unsent_failure",
    "write_atomically",
    "write_file",
]

# An item id as outlets write it in file names and links (any case of hex digits).
UUID_PATTERN: Final = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


# -- the adapter class -------------------------------------------------------------------

SettingsT = TypeVar("SettingsT", bound=BaseModel)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BaseAdapter(ChannelAdapter, Generic[SettingsT]):
    """A base for adapter classes: settings typed and checked, a label, a clock.

    ```python
    class MailboxAdapter(BaseAdapter[MailboxSettings]):
        kind = "mailbox"
        label = "电子邮箱"
        capabilities = Capabilities(edits_in_place=False, retracts=False)

        def render(self, job: DeliveryJob) -> Rendition: ...
        def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt: ...
    ```

    - `Settings` is the type parameter (`MailboxSettings`); a class body that sets it
      too must name the same model.
    - `__init__(settings)` keeps the validated settings as `self.settings`, typed as
      the parameter for mypy. The core always passes an instance of `Settings`;
      anything else is a programming error and raises TypeError. Subclasses that need
      more set-up call `super().__init__(settings)` first.
    - `label` (default None: the kind is shown as itself) is the kind's display name.
    - `clock` gives `deliver` the time (a signature's timestamp, a `Retry-After` date);
      tests replace it. `render` never reads it: renditions depend on the job alone.

    `kind` and `capabilities` have no default: mypy refuses to instantiate a subclass
    without them, like one without `render` or `deliver`.
    """

    label: ClassVar[str | None] = None
    Settings: ClassVar[type[BaseModel]]
    settings: SettingsT
    clock: Callable[[], datetime]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        model = _settings_parameter(cls)
        if model is None:
            return  # still generic (a shared base), or a subclass of a concrete adapter
        declared = cls.__dict__.get("Settings", model)
        if declared is not model:
            raise TypeError(
                f"{cls.__name__}.Settings is {declared!r}, but the class is a "
                f"BaseAdapter of {model.__name__}"
            )
        cls.Settings = model

    def __init__(self, settings: BaseModel) -> None:
        expected = type(self).Settings
        if not isinstance(settings, expected):
            raise TypeError(f"{type(self).__name__} needs {expected.__name__}")
        # Safe: __init_subclass__ made `Settings` the class's type parameter.
        self.settings = cast(SettingsT, settings)
        self.clock = _utc_now


def _settings_parameter(cls: type) -> type[BaseModel] | None:
    """The settings model a class gives its BaseAdapter base, e.g. `BaseAdapter[X]` or
    `RobotAdapter[X]`; None when it gives a type variable or no parameter."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = get_origin(base)
        if isinstance(origin, type) and issubclass(origin, BaseAdapter):
            args = get_args(base)
            if (
                len(args) == 1
                and isinstance(args[0], type)
                and issubclass(args[0], BaseModel)
            ):
                return args[0]
    return None


# -- secrets -------------------------------------------------------------------------


def mask(secret: str) -> str:
    """A form of a secret safe to show: `…` and at most its last four characters (none
    of a secret shorter than 16, which four characters would give away)."""
    return "…" + secret[-4:] if len(secret) >= 16 else "…"


# urllib3 logs each request line, query string included, at DEBUG level.
_URL_LOGGERS: Final = ("urllib3.connectionpool", "urllib3.util.retry")


class QuerySecrets:
    """Query parameters whose values are secrets (a robot key, an access token).

    Channels that put a credential in the URL must keep it out of everything a person
    reads: `redact(text)` blanks the parameters' values (`key=***`), `scrub(text,
    secrets)` also masks the given secret values wherever they appear, and
    `hide_in_logs()` installs a filter on urllib3's loggers that redacts each record
    (once per set of names, however often it is called).
    """

    def __init__(self, *names: str) -> None:
        self.names = tuple(names)
        alternatives = "|".join(re.escape(name) for name in self.names)
        self._pattern = re.compile(rf"(?<![A-Za-z0-9_])({alternatives})=[^&\s\"'#]*")

    def redact(self, text: str) -> str:
        """`text` with the value of every secret parameter blanked."""
        return self._pattern.sub(r"\1=***", text)

    def scrub(self, text: str, secrets: Iterable[str]) -> str:
        """`text` with each of `secrets` masked (`mask`) and the parameters redacted."""
        for secret in secrets:
            if secret:
                text = text.replace(secret, mask(secret))
        return self.redact(text)

    def hide_in_logs(self) -> QuerySecrets:
        """Redact these parameters in urllib3's log records; returns self."""
        for name in _URL_LOGGERS:
            logger = logging.getLogger(name)
            if not any(
                isinstance(f, _RedactQuerySecrets) and f.secrets.names == self.names
                for f in logger.filters
            ):
                logger.addFilter(_RedactQuerySecrets(self))
        return self


class _RedactQuerySecrets(logging.Filter):
    """Blanks secret query parameters in a log record's message."""

    def __init__(self, secrets: QuerySecrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return True
        redacted = self.secrets.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


# -- HTTP ----------------------------------------------------------------------------


def unsent_failure(
    failure: RequestFailed,
    receiver: str,
    *,
    setting: str = "base_url",
    scrub: Callable[[str], str] | None = None,
) -> DeliveryError | None:
    """The delivery error of a request `exchange` could not send, or None if it may
    have been sent.

    An invalid URL fails for good (fix the outlet's `setting`); a failure before any
    byte left (DNS, refused, TLS handshake) is transient and always safe to retry.
    When the receiver may have seen the request, what that means (an unknown outcome,
    a lost answer to look up) is the adapter's to say. `receiver` names the other
    side in messages ("WeChat", "the receiver"); `scrub` cleans the cause's text.
    """
    if failure.code == "url":
        return PermanentDeliveryError(
            f"the URL of {receiver} is not valid; check the outlet's {setting}",
            code="url",
        )
    if failure.sent is False:
        what = scrub(failure.what) if scrub else failure.what
        return TransientDeliveryError(
            f"cannot reach {receiver}: {what}", code=failure.code
        )
    return None


# -- files ---------------------------------------------------------------------------


@contextlib.contextmanager
def file_errors(action: str, *, name_advice: str | None = None) -> Iterator[None]:
    """File-system errors in the block as delivery errors, worded `{action}: {cause}`.

    - permission denied: permanent (code `EACCES`): retrying cannot help until someone
      fixes the folder's permissions;
    - a name the file system refuses (too long, invalid): permanent, with `name_advice`
      (what the operator changes) when given;
    - any other error (disk full, a folder briefly missing, a network file system
      hiccup): transient, coded with the errno's name.

    Delivery errors raised in the block pass through unchanged.
    """
    try:
        yield
    except PermissionError as exc:
        raise PermanentDeliveryError(
            f"{action}: permission denied{_where(exc, action)}", code="EACCES"
        ) from exc
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "OSError")
        said = f"{action}: {exc.strerror or exc}{_where(exc, action)}"
        if exc.errno in (errno.ENAMETOOLONG, errno.EINVAL):
            advice = f"; {name_advice}" if name_advice else ""
            raise PermanentDeliveryError(said + advice, code=code) from exc
        raise TransientDeliveryError(said, code=code) from exc


def _where(exc: OSError, action: str) -> str:
    """` (the file)` when the error names a file the action does not."""
    name = exc.filename
    return f" ({name})" if name and str(name) not in action else ""


def write_file(
    target: Path, data: bytes, *, durable: bool = True, scratch: Path | None = None
) -> bool:
    """Put `data` in `target` unless it holds them already; True if it wrote.

    Durable: `write_atomically` (readers never see half a file; it survives a power
    loss; `scratch`: where its temporary copy goes, see there). Otherwise still atomic
    and world-readable, without the fsyncs: for scratch copies, and for writers that
    make many files durable at once at the end (`sync_written`).
    """
    if target.is_file() and target.read_bytes() == data:
        return False
    if durable:
        if scratch is None:
            write_atomically(target, data)
        else:
            write_atomically(target, data, scratch=scratch)
        return True
    if scratch is not None:
        write_atomically(target, data, scratch=scratch, sync=False)
        return True
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{target.name}")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return True


def remove_file(target: Path, *, durable: bool = True) -> bool:
    """Delete `target` if it is a file (durably: its folder is synced); True if it did."""
    if not target.is_file():
        return False
    target.unlink()
    if durable:
        fsync_dir(target.parent)
    return True


@dataclass(frozen=True)
class FolderWriter:
    """Writes into the folder an outlet owns, and nowhere else.

    Names come from renditions, which are stored and may be replayed years later: a
    name that would land outside `root` is refused (PermanentDeliveryError) before
    anything is written. `durable=False` is for the scratch copies `expected_files`
    writes (nothing there needs to survive a power loss).
    """

    root: Path
    durable: bool = True

    def path(self, relative: str) -> Path:
        """`root / relative`, refused unless it stays inside `root` (after links)."""
        target = self.root / relative
        if not target.resolve().is_relative_to(self.root.resolve()):
            raise PermanentDeliveryError(f"refusing to write outside {self.root}")
        return target

    def file(self, name: str) -> Path:
        """A file directly in `root`: no empty name, no folder, no dot-file."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise PermanentDeliveryError(f"refusing to write file name {name!r}")
        return self.path(name)

    def write(self, relative: str, data: bytes) -> bool:
        """Write one file (unchanged bytes are left alone); True if it wrote."""
        return write_file(self.path(relative), data, durable=self.durable)

    def remove(self, relative: str) -> bool:
        """Delete one file if it is there; True if it did."""
        return remove_file(self.path(relative), durable=self.durable)

    def write_set(
        self,
        files: Mapping[str, str],
        owned: Callable[[Path], Iterable[Path]],
        *,
        last: Sequence[str] = (),
    ) -> None:
        """Make the folder hold `files` ({relative path: text}, UTF-8) and none other of
        the files `owned(root)` lists as the outlet's own.

        Files are written in name order, those named in `last` at the end in their
        order, and stale files go only after that: a reader that polls a manifest (put
        it in `last`) finds everything it names in place, and nothing the old one named
        disappears before the new one is there. Files `owned` does not list are never
        touched.
        """
        first = sorted(name for name in files if name not in last)
        for relative in [*first, *(name for name in last if name in files)]:
            self.write(relative, files[relative].encode("utf-8"))
        for stale in owned(self.root):
            if stale.relative_to(self.root).as_posix() not in files:
                remove_file(stale, durable=self.durable)


# Outlets whose rendition is a whole folder (feeds, a kiosk bundle) carry it as one
# canonical JSON document, so it is hashed, stored and compared like any rendition.


def file_set_rendition(
    files: Mapping[str, str], media_type: str, *, key: str
) -> Rendition:
    """A rendition of a whole set of files: `{"files": {relative path: text}}`."""
    return Rendition.of(canonical_json({"files": dict(files)}), media_type, key=key)


def file_set(rendition: Rendition) -> dict[str, str]:
    """The files of a `file_set_rendition`."""
    files: dict[str, str] = json.loads(rendition.data)["files"]
    return files


def read_file_set(root: Path, owned: Callable[[Path], Iterable[Path]]) -> bytes | None:
    """The files `owned(root)` lists, in the form `file_set_rendition` gives (what
    `read_back` returns); None when there is no folder. Bytes that are not UTF-8 are
    read with replacement characters: they differ from any rendition, as they should."""
    if not root.is_dir():
        return None
    files = {
        p.relative_to(root).as_posix(): p.read_bytes().decode("utf-8", "replace")
        for p in owned(root)
    }
    return canonical_json({"files": files})


# -- audit checkpoints -------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A witnessed checkpoint once checked: its note verifies and agrees with its fields."""

    number: int
    size: int
    root_hex: str
    at: datetime
    note: str
    origin: str


def checked_checkpoints(
    checkpoints: Sequence[WitnessedCheckpoint], public_key: str
) -> tuple[str, list[PublishedCheckpoint]]:
    """The key set text (one key per line: the current key, then the retired ones)
    and the checkpoints sorted by number, oldest first.

    Each note must be signed by the key valid for it (`KeyChain`: the first by a key
    of the set, then by the key in force, a key rotation by the old and the new key).
    Raises ValueError when a key is malformed, a note does not verify so, a note's
    origin is not its key's name, its tree size or root differs from the checkpoint's
    fields, or two checkpoints share a number: an outlet never publishes a checkpoint
    an auditor would reject.
    """
    lines = [line.strip() for line in public_key.splitlines() if line.strip()]
    keys = [Verifier.from_text(line) for line in lines]  # KeyFormatError: ValueError
    if not keys:
        raise ValueError("no public key to check the checkpoints with")
    key = "\n".join(lines)
    for c in checkpoints:
        if not isinstance(c.number, int) or isinstance(c.number, bool) or c.number < 0:
            raise ValueError(f"checkpoint number {c.number!r} is not a whole number")
    chain = KeyChain(keys)
    found: dict[int, PublishedCheckpoint] = {}
    for c in sorted(checkpoints, key=lambda c: c.number):
        if c.number in found:
            raise ValueError(f"checkpoint #{c.number} is given twice")
        try:
            body, signer = chain.verify(c.note)
            if body.origin != signer.name:
                raise ValueError(
                    f"checkpoint of log {body.origin!r}, not of {signer.name!r}"
                )
        except ValueError as exc:
            raise ValueError(f"checkpoint #{c.number}: {exc}") from None
        if body.size != c.size or body.root.hex() != c.root_hex.lower():
            raise ValueError(
                f"checkpoint #{c.number}: its note says size {body.size}, root "
                f"{body.root.hex()}, not size {c.size}, root {c.root_hex}"
            )
        found[c.number] = PublishedCheckpoint(
            number=c.number,
            size=c.size,
            root_hex=body.root.hex(),
            at=c.at,
            note=c.note,
            origin=body.origin,
        )
    return key, [found[n] for n in sorted(found)]


def refuse_review_notice(job: DeliveryJob, kind: str) -> None:
    """Refuse a review notice (`Operation.REVIEW_NOTICE`) in the `render` of a kind that
    cannot take one: config validation keeps `review_queue` off such outlets, so this is
    a guard, never rendering an item in a notice's place."""
    if job.operation is Operation.REVIEW_NOTICE:
        raise PermanentDeliveryError(
            f"{kind} outlets cannot take review notices (only kinds whose capabilities "
            "say review_notices may be a review_queue)",
            code="unsupported",
        )
