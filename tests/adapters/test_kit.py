"""The adapter kit (`syndicate.adapterkit`) and the optional-capability protocols."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from pydantic import BaseModel, ConfigDict
from syndicate_adapters.dingtalk_group import DingTalkGroupAdapter
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings
from syndicate_adapters.kiosk import KioskAdapter
from syndicate_adapters.noticeboard import NoticeboardAdapter
from syndicate_adapters.portal import PortalAdapter
from syndicate_adapters.rss import RssAdapter
from syndicate_adapters.webhook import WebhookAdapter
from syndicate_adapters.wechat_mp import WechatMpAdapter
from syndicate_adapters.wecom_group import WeComGroupAdapter

from syndicate.adapter import (
    Capabilities,
    ChannelAdapter,
    ChecksContent,
    Confirms,
    DeliveryJob,
    ExpectsFiles,
    ReadsBack,
    Receipt,
    Rendition,
    TakesInventory,
    Witnesses,
    adapter_label,
)
from syndicate.adapterkit import (
    BaseAdapter,
    FolderWriter,
    QuerySecrets,
    RequestFailed,
    file_errors,
    file_set,
    file_set_rendition,
    read_file_set,
    unsent_failure,
)
from syndicate.errors import (
    ConfigurationError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from syndicate.registry import Registry, kind_label

# -- the optional capabilities, as mypy and the core see them --------------------------

# mypy checks each adapter against the protocols it claims, here and where it inherits
# them (a wrong signature there is an incompatible override).
READS_BACK: tuple[type[ReadsBack], ...] = (
    DirectoryAdapter,
    KioskAdapter,
    NoticeboardAdapter,
    PortalAdapter,
    RssAdapter,
)
CONFIRMS: tuple[type[Confirms], ...] = (WechatMpAdapter,)
TAKES_INVENTORY: tuple[type[TakesInventory], ...] = (
    DirectoryAdapter,
    KioskAdapter,
    PortalAdapter,
    RssAdapter,
    WechatMpAdapter,
)
WITNESSES: tuple[type[Witnesses], ...] = (PortalAdapter, RssAdapter)
EXPECTS_FILES: tuple[type[ExpectsFiles], ...] = (
    DirectoryAdapter,
    KioskAdapter,
    PortalAdapter,
    RssAdapter,
)
CHECKS_CONTENT: tuple[ChecksContent, ...] = (WechatMpAdapter,)  # the class itself
EVERY: tuple[type[ChannelAdapter], ...] = (
    DingTalkGroupAdapter,
    DirectoryAdapter,
    KioskAdapter,
    NoticeboardAdapter,
    PortalAdapter,
    RssAdapter,
    WebhookAdapter,
    WechatMpAdapter,
    WeComGroupAdapter,
)
OPTIONAL: dict[str, tuple[type, tuple[object, ...]]] = {
    "read_back": (ReadsBack, READS_BACK),
    "confirm": (Confirms, CONFIRMS),
    "inventory": (TakesInventory, TAKES_INVENTORY),
    "witness": (Witnesses, WITNESSES),
    "expected_files": (ExpectsFiles, EXPECTS_FILES),
    "check_content": (ChecksContent, CHECKS_CONTENT),
}


@pytest.mark.parametrize("method", sorted(OPTIONAL))
def test_isinstance_agrees_with_the_method_the_core_looked_for(method: str) -> None:
    """`isinstance(adapter, ReadsBack)` answers what `getattr(adapter, "read_back")`
    did, for every built-in adapter, so the core may ask either way."""
    protocol, claimed = OPTIONAL[method]
    for cls in EVERY:
        has = callable(getattr(cls, method, None))
        assert issubclass(cls, protocol) == has == (cls in claimed), (cls, method)
        assert isinstance(cls, protocol) == has  # on the class: `check_content`


def test_an_adapter_that_claims_a_capability_must_implement_it() -> None:
    class Forgetful(BaseAdapter[DirectorySettings], ReadsBack):
        kind: ClassVar[str] = "forgetful"
        capabilities: ClassVar[Capabilities] = Capabilities(
            edits_in_place=True, retracts=True
        )

        def render(self, job: DeliveryJob) -> Rendition:
            raise NotImplementedError

        def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
            raise NotImplementedError

    with pytest.raises(TypeError, match="abstract"):
        Forgetful(DirectorySettings(path=Path("x")))  # type: ignore[abstract]


# -- labels ----------------------------------------------------------------------------

# What audit reports have always called the built-in kinds (the report's old table).
REPORT_LABELS = {
    "dingtalk_group": "钉钉群",
    "gazette": "政府公报",
    "kiosk": "自助终端",
    "noticeboard": "政务公开栏",
    "portal": "政府门户网站",
    "rss": "RSS订阅",
    "screen": "电子显示屏",
    "webhook": "Webhook推送",
    "wechat_mp": "微信公众号",
    "wechat_relay": "村民微信群（网格员转发）",
    "wecom_group": "企业微信群",
    "weibo": "政务微博",
}


def test_built_in_kinds_keep_the_names_reports_showed() -> None:
    registry = Registry.from_entry_points()
    for kind in registry:
        if registry.info(kind).module.startswith("syndicate_adapters"):
            assert kind_label(kind) == REPORT_LABELS.get(kind, kind)
            assert adapter_label(registry[kind]) == REPORT_LABELS.get(kind)
    assert kind_label("no_such_kind") == "no_such_kind"  # an old log's kind


def test_a_label_must_be_a_name() -> None:
    class Blank(DirectoryAdapter):
        label: ClassVar[str | None] = " "

    with pytest.raises(ConfigurationError, match="label"):
        Registry({"directory": Blank})
    assert Registry({"directory": DirectoryAdapter}).label("directory") == "directory"


# -- BaseAdapter -----------------------------------------------------------------------


class EchoSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    word: str = "回声"


class EchoAdapter(BaseAdapter[EchoSettings]):
    kind: ClassVar[str] = "echo"
    label: ClassVar[str | None] = "回声"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False, retracts=False
    )

    def render(self, job: DeliveryJob) -> Rendition:
        return Rendition.of(self.settings.word.encode(), "text/plain", key="k")

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        return Receipt(detail={"at": self.clock().isoformat()})


def test_base_adapter_takes_settings_from_its_type_parameter() -> None:
    assert EchoAdapter.Settings is EchoSettings
    adapter = EchoAdapter(EchoSettings(word="你好"))
    assert adapter.settings.word == "你好"  # typed EchoSettings for mypy
    assert isinstance(adapter, ChannelAdapter)
    assert Registry({"echo": EchoAdapter}).label("echo") == "回声"
    assert adapter.clock().utcoffset() is not None  # aware, replaceable in tests


def test_base_adapter_refuses_other_settings() -> None:
    with pytest.raises(TypeError, match="EchoAdapter needs EchoSettings"):
        EchoAdapter(DirectorySettings(path=Path("x")))


def test_a_settings_class_that_contradicts_the_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="BaseAdapter of EchoSettings"):

        class Confused(BaseAdapter[EchoSettings]):
            Settings: ClassVar[type[BaseModel]] = DirectorySettings


# -- secrets ---------------------------------------------------------------------------


def test_query_secrets_are_redacted_and_masked() -> None:
    secrets = QuerySecrets("key", "sign")
    text = "POST /send?key=abc123&monkey=ok&sign=xyz HTTP/1.1 token TOKEN-0123456789ab"
    assert secrets.redact(text) == (
        "POST /send?key=***&monkey=ok&sign=*** HTTP/1.1 token TOKEN-0123456789ab"
    )
    assert secrets.scrub(text, ["TOKEN-0123456789ab", ""]).endswith("token …89ab")


def test_query_secrets_hide_in_urllib3_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    before = len(logger.filters)
    QuerySecrets("kit_test_key").hide_in_logs()
    QuerySecrets("kit_test_key").hide_in_logs()
    assert len(logger.filters) == before + 1
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logger.debug('"POST /x?kit_test_key=%s HTTP/1.1" 200', "s3cret")
    assert "kit_test_key=***" in caplog.text
    assert "s3cret" not in caplog.text


# -- HTTP ------------------------------------------------------------------------------


def test_unsent_failures_are_told_from_requests_that_may_have_arrived() -> None:
    bad_url = unsent_failure(RequestFailed("bad", code="url", sent=False), "WeChat")
    assert isinstance(bad_url, PermanentDeliveryError)
    assert bad_url.code == "url"
    dns = RequestFailed("cannot resolve x: DNS lookup failed", code="dns", sent=False)
    unsent = unsent_failure(dns, "the receiver", scrub=str.upper)
    assert isinstance(unsent, TransientDeliveryError)
    assert str(unsent).startswith("cannot reach the receiver: CANNOT RESOLVE X")
    sent = RequestFailed("timed out", code="timeout", sent=True)
    assert unsent_failure(sent, "WeChat") is None


# -- files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (PermissionError(errno.EACCES, "denied"), PermanentDeliveryError, "EACCES"),
        (OSError(errno.ENOSPC, "disk full"), TransientDeliveryError, "ENOSPC"),
        (
            OSError(errno.ENAMETOOLONG, "too long"),
            PermanentDeliveryError,
            "ENAMETOOLONG",
        ),
    ],
)
def test_file_errors_become_delivery_errors(
    error: OSError, kind: type[Exception], code: str
) -> None:
    with (
        pytest.raises(kind) as caught,
        file_errors("cannot write x", name_advice="rename it"),
    ):
        raise error
    assert getattr(caught.value, "code", None) == code
    assert str(caught.value).startswith("cannot write x: ")
    assert ("rename it" in str(caught.value)) == (code == "ENAMETOOLONG")


def test_delivery_errors_pass_through_file_errors() -> None:
    refusal = PermanentDeliveryError("refusing")
    with pytest.raises(PermanentDeliveryError) as caught, file_errors("cannot write"):
        raise refusal
    assert caught.value is refusal


def test_a_folder_writer_stays_in_its_folder(tmp_path: Path) -> None:
    folder = FolderWriter(tmp_path / "out")
    for name in ("", ".hidden", "a/b", "..\\x"):
        with pytest.raises(PermanentDeliveryError, match="file name"):
            folder.file(name)
    with pytest.raises(PermanentDeliveryError, match="outside"):
        folder.write("../escape.txt", b"x")
    assert not (tmp_path / "escape.txt").exists()
    assert folder.write("a/b.txt", b"1")
    assert not folder.write("a/b.txt", b"1")  # unchanged: left alone
    assert folder.remove("a/b.txt")
    assert not folder.remove("a/b.txt")


def _owned(root: Path) -> Iterable[Path]:
    return sorted(p for p in root.rglob("*.txt") if p.is_file())


def test_a_file_set_replaces_only_the_outlets_own_files(tmp_path: Path) -> None:
    root = tmp_path / "out"
    folder = FolderWriter(root, durable=False)
    folder.write_set({"old.txt": "旧", "keep/a.txt": "a"}, _owned)
    (root / "notes.md").write_text("not ours", "utf-8")
    rendition = file_set_rendition(
        {"keep/a.txt": "a", "new.txt": "新"}, "application/x-test", key="k"
    )
    folder.write_set(file_set(rendition), _owned, last=("new.txt",))
    assert read_file_set(root, _owned) == rendition.data
    assert (root / "notes.md").read_text("utf-8") == "not ours"
    assert read_file_set(tmp_path / "missing", _owned) is None
