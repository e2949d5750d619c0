"""The library service layer (`syndicate.Engine`, `PreparedAttachment`, `ItemContent`,
`Project.init`) and the Flask example, used the way a careless or hostile caller would.

Written in a hostile review of the library surface: the tests under "defects" each
failed before its fix (docs/security.md, "Careless or hostile library callers"); the
others pin behaviour that held up from the start.
"""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from pydantic import BaseModel, ConfigDict

from syndicate import (
    ConfigurationError,
    DeliveryState,
    Engine,
    InputError,
    ItemContent,
    ItemNotFound,
    PreparedAttachment,
    Project,
    SyndicateError,
)
from syndicate.adapter import Capabilities, DeliveryJob, Receipt, Rendition
from syndicate.engine import StopFlag
from syndicate.errors import PermanentDeliveryError, UnknownOutcomeError
from syndicate.fsutil import replacing, write_atomically
from syndicate.registry import Registry
from tests.conftest import content

APP = Path(__file__).resolve().parent.parent / "examples" / "portal_backend" / "app.py"
EDITOR = {"X-Editor": "%E7%8E%8B%E6%95%8F"}  # 王敏, percent-encoded UTF-8
WHSEC = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="
SECRET = "S3cr3tValue-ZZZ"


# -- a tiny adapter that fails on purpose ------------------------------------------------


class FlakySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: str = "refuse"  # "refuse": fails for good; "unknown": unconfirmed; "ok"


class FlakyAdapter:
    """Fails for good, leaves the outcome unknown, or succeeds (`behaviour` can
    override the settings while a test runs)."""

    kind: ClassVar[str] = "flaky"
    Settings: ClassVar[type[BaseModel]] = FlakySettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False, retracts=False
    )
    behaviour: ClassVar[dict[str, str]] = {}

    def __init__(self, settings: BaseModel) -> None:
        assert isinstance(settings, FlakySettings)
        self.settings = settings

    def render(self, job: DeliveryJob) -> Rendition:
        return Rendition.of(b"x", "text/plain", key=str(job.delivery_id))

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        mode = self.behaviour.get("mode", self.settings.mode)
        if mode == "unknown":
            raise UnknownOutcomeError("timed out after sending")
        if mode == "refuse":
            raise PermanentDeliveryError("refused for good")
        return Receipt()


REGISTRY = Registry({"flaky": FlakyAdapter})


def home_with(tmp_path: Path, mode: str) -> Path:
    """A home with one flaky outlet `bad` and one item delivered (and failed) there."""
    home = tmp_path / "home"
    Engine.init(home, environ={}, review=False)
    with Engine.open(home, environ={}, registry=REGISTRY) as engine:
        engine.add_outlet("bad", "flaky", {"mode": mode})
        engine.items.publish(content(), actor="县民政局 王敏")
        engine.sync()
    return home


def logged(engine: Engine) -> int:
    return engine.deliveries.recorder.max_notification_id() or 0


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    Engine.init(path, environ={}, review=False)
    return path


# == defects ============================================================================

# -- content that skipped validation poisons the log -------------------------------------


@pytest.mark.parametrize("update", [{"title": ""}, {"agency": "县/局"}])
def test_publish_refuses_unvalidated_content_and_the_log_stays_readable(
    home: Path, update: dict[str, Any]
) -> None:
    # pydantic's own copy skips validation (ItemContent.model_copy validates).
    bad = BaseModel.model_copy(content(), update=update)
    with Engine.open(home, environ={}) as engine, pytest.raises(InputError):
        engine.items.publish(bad, actor="县民政局 王敏")
    with Engine.open(home, environ={}) as engine:
        assert engine.items.items() == []
        assert engine.status() == []


# -- add_outlet ------------------------------------------------------------------------


def test_two_writers_adding_outlets_at_once_keep_both(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both writers have read the file before either replaces it: what two processes
    # (two web workers, a setup script and an operator) do when their calls overlap.
    barrier = threading.Barrier(2, timeout=1)

    def write_when_both_read(*args: Any, **kwargs: Any) -> None:
        # A writer that serialises the two calls breaks the barrier: fine too.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        write_atomically(*args, **kwargs)

    monkeypatch.setattr("syndicate.project.write_atomically", write_when_both_read)
    errors: list[BaseException] = []

    def add(name: str) -> None:
        try:
            with Engine.open(home, environ={}) as engine:
                engine.add_outlet(name, "directory", {"path": f"out/{name}"})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert Project.load(home, environ={}).outlet_names == ["first", "second"]


def test_add_outlet_refuses_allow_private_network_that_is_not_a_bool(
    home: Path,
) -> None:
    before = (home / "syndicate.toml").read_bytes()
    engine = Engine.open(home, environ={"S": WHSEC})
    with engine, pytest.raises(ConfigurationError):
        engine.add_outlet(
            "intranet",
            "webhook",
            {"url": "http://10.0.0.5/hook", "secret": "${S}"},
            allow_private_network="false",  # type: ignore[arg-type]
        )
    assert (home / "syndicate.toml").read_bytes() == before


def test_add_outlet_refuses_internal_that_is_not_a_bool(home: Path) -> None:
    before = (home / "syndicate.toml").read_bytes()
    with Engine.open(home, environ={}) as engine, pytest.raises(ConfigurationError):
        engine.add_outlet(
            "public-archive",
            "directory",
            {"path": "out/public"},
            internal="no",  # type: ignore[arg-type]
        )
    assert (home / "syndicate.toml").read_bytes() == before


def test_add_outlet_does_not_split_a_string_filter_into_characters(home: Path) -> None:
    with Engine.open(home, environ={}) as engine:
        try:
            described = engine.add_outlet(
                "agency-only",
                "directory",
                {"path": "out/a"},
                agencies="临溪县民政局",  # a str is a Sequence[str]
            )
        except ConfigurationError:
            return  # refusing a string is as good as taking it whole
        assert described.agencies == ("临溪县民政局",)
        engine.items.publish(content(), actor="县民政局 王敏")
        engine.sync()
        assert [row.outlet for row in engine.status()] == ["agency-only"]


# -- attachments -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [" .htaccess", "\u3000.env"])
def test_a_dot_file_cannot_be_smuggled_behind_whitespace(name: str) -> None:
    with pytest.raises(InputError):
        PreparedAttachment.from_bytes(b"Options +ExecCGI\n", name=name)


def test_an_attachment_name_with_a_lone_surrogate_is_an_input_error() -> None:
    with pytest.raises(InputError):
        PreparedAttachment.from_bytes(b"x", name="名单\ud800.csv")


def test_attachment_metadata_must_match_the_bytes(home: Path) -> None:
    blob = PreparedAttachment.from_bytes(b"abc", name="a.csv")
    lie = {**blob.meta.model_dump(), "size": 10**9}
    item = ItemContent.model_validate({**content().model_dump(), "attachments": [lie]})
    with Engine.open(home, environ={}) as engine, pytest.raises(InputError):
        engine.items.publish(item, actor="县民政局 王敏", attachments=[blob])


# -- the worker --------------------------------------------------------------------------


@pytest.mark.parametrize("poll", [0, -1, float("nan")])
def test_run_worker_refuses_a_poll_that_would_spin(home: Path, poll: float) -> None:
    """A poll of 0 (or less, or NaN) would be a busy loop that never looks at its stop
    Event: refused before the worker starts."""
    with Engine.open(home, environ={}) as engine, pytest.raises(InputError) as caught:
        engine.run_worker(poll=poll, stop=threading.Event())
    assert caught.value.problems[0].field == "poll"


def test_itemcontent_model_copy_validates_like_new_content() -> None:
    with pytest.raises(InputError) as caught:
        content().model_copy(update={"title": ""})
    assert caught.value.problems[0].field == "title"
    same = content().model_copy(update={"title": "新的标题"})
    assert same.title == "新的标题"


# -- operator decisions ------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["", "   ", "王敏\n伪造的一行", "\x1b[2J"])
def test_retry_refuses_a_bad_actor_and_writes_nothing(
    tmp_path: Path, actor: str
) -> None:
    home = home_with(tmp_path, "refuse")
    with Engine.open(home, environ={}, registry=REGISTRY) as engine:
        before = logged(engine)
        with pytest.raises(InputError):
            engine.retry(actor=actor)
        assert logged(engine) == before


@pytest.mark.parametrize("actor", ["", "a\x00b"])
def test_resolve_refuses_a_bad_actor_and_writes_nothing(
    tmp_path: Path, actor: str
) -> None:
    home = home_with(tmp_path, "unknown")
    with Engine.open(home, environ={}, registry=REGISTRY) as engine:
        (row,) = engine.status()
        before = logged(engine)
        with pytest.raises(InputError):
            engine.resolve(str(row.delivery_id), sent=True, actor=actor)
        assert logged(engine) == before


def test_record_checkpoint_refuses_a_bad_actor(home: Path) -> None:
    with Engine.open(home, environ={}) as engine:
        engine.items.publish(content(), actor="县民政局 王敏")
        with pytest.raises(InputError):
            engine.record_checkpoint(actor="a\n\x1b[2J")


@pytest.mark.parametrize("delivery", ["", "   "])
def test_resolve_refuses_an_empty_delivery_id(tmp_path: Path, delivery: str) -> None:
    home = home_with(tmp_path, "unknown")
    with Engine.open(home, environ={}, registry=REGISTRY) as engine:
        before = logged(engine)
        with pytest.raises(InputError):
            engine.resolve(delivery, sent=True, actor="县民政局 王敏")
        assert logged(engine) == before


def test_resolve_takes_an_upper_case_id(tmp_path: Path) -> None:
    home = home_with(tmp_path, "unknown")
    with Engine.open(home, environ={}, registry=REGISTRY) as engine:
        (row,) = engine.status()
        done = engine.resolve(
            str(row.delivery_id)[:8].upper(), sent=True, actor="县民政局 王敏"
        )
        assert done.delivery_id == row.delivery_id


def test_retry_refuses_an_empty_ref(tmp_path: Path) -> None:
    home = home_with(tmp_path, "refuse")
    engine = Engine.open(home, environ={}, registry=REGISTRY)
    with engine, pytest.raises(InputError):
        engine.retry("", actor="县民政局 王敏")


def test_retry_does_not_replan_a_delivery_that_succeeded_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = home_with(tmp_path, "refuse")
    with Engine.open(home, environ={}, registry=REGISTRY) as engine:
        stale = engine.deliveries.all_deliveries()  # another operator's earlier read
        assert engine.retry(actor="甲") == 1
        monkeypatch.setitem(FlakyAdapter.behaviour, "mode", "ok")
        engine.sync()
        (row,) = engine.status()
        assert row.state is DeliveryState.SUCCEEDED
        log = engine.deliveries
        setattr(log, "all_deliveries", lambda after=0: stale)  # noqa: B010
        try:
            engine.retry(actor="乙")
        finally:
            delattr(log, "all_deliveries")
        (row,) = engine.status()
        assert row.state is DeliveryState.SUCCEEDED


# -- making a home -----------------------------------------------------------------------


def test_engine_init_puts_the_key_where_its_environ_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNDICATE_AUDIT_KEY", raising=False)
    key = tmp_path / "vault" / "audit.key"
    made = Engine.init(
        tmp_path / "home", environ={"SYNDICATE_AUDIT_KEY": str(key)}, review=False
    )
    assert made.private_key == key
    assert key.is_file()
    assert not (tmp_path / "home" / "keys" / "audit-signing.key").exists()


def test_engine_init_does_not_let_store_url_write_toml(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        Engine.init(home, environ={}, store_url='sqlite"\n[outlets.evil]\nkind = "dir')
    except SyndicateError:
        return  # refused: fine
    assert Project.load(home, environ={}).outlet_names == []


def test_two_first_inits_of_one_home_at_once(tmp_path: Path) -> None:
    """Three processes make one new home at the same moment (two operators, two
    containers): all succeed, one of them creates it, the others find it made."""
    home = tmp_path / "home"
    script = (
        "import sys\n"
        "from syndicate import Engine\n"
        "made = Engine.init(sys.argv[1], environ={})\n"
        "print('created' if made.created else 'kept')\n"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(home)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], results
    assert sorted(out.strip() for out, _ in results) == ["created", "kept", "kept"]
    with Engine.open(home, environ={}) as engine:
        assert engine.status() == []


# -- errors that are not SyndicateErrors -------------------------------------------------


def test_a_log_used_after_its_engine_closed_says_so(home: Path) -> None:
    with Engine.open(home, environ={}) as engine:
        log = engine.items
    with pytest.raises(SyndicateError, match="closed"):
        log.items()


def test_export_log_into_a_file_is_an_input_error(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    with Engine.open(home, environ={}) as engine, pytest.raises(InputError):
        engine.export_log(target)


# -- the Flask example -------------------------------------------------------------------


def _app(home: Path) -> Any:
    spec = importlib.util.spec_from_file_location("portal_backend_hostile", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_app(home)


def log_position(home: Path) -> int:
    with Project.load(home, environ={}).disclosures() as log:
        return log.position()


@pytest.fixture
def client(home: Path) -> Any:
    with Engine.open(home, environ={}) as engine:
        engine.add_outlet("archive", "directory", {"path": "outlets/archive"})
    return _app(home).test_client()


def item_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = content().model_dump(mode="json")
    data.update(overrides)
    return data


def test_example_refuses_a_null_reason(client: Any, home: Path) -> None:
    ref = client.post("/items", json=item_json(), headers=EDITOR).get_json()["ref"]
    revised = item_json(body="更正后的正文。")
    answer = client.post(
        f"/items/{ref}/revise",
        json={"content": revised, "reason": None},
        headers=EDITOR,
    )
    assert answer.status_code == 400
    assert log_position(home) == 1


def test_example_does_not_publish_none_as_a_public_note(
    client: Any, home: Path
) -> None:
    ref = client.post("/items", json=item_json(), headers=EDITOR).get_json()["ref"]
    answer = client.post(
        f"/items/{ref}/withdraw",
        json={"reason": "信息有误", "public_note": None},
        headers=EDITOR,
    )
    if answer.status_code == 400:
        return
    with Engine.open(home, environ={}) as engine:
        withdrawal = engine.items.get(ref).withdrawal
    assert withdrawal is not None
    assert withdrawal.public_note != "None"


def test_example_answers_a_surrogate_attachment_name_with_400(
    client: Any, home: Path
) -> None:
    body = '{"attachments": [{"name": "a\\ud800.csv", "base64": "eA=="}]}'
    answer = client.post(
        "/items", data=body, content_type="application/json", headers=EDITOR
    )
    assert answer.status_code == 400
    assert log_position(home) == 0


# == behaviour that held up =============================================================


@pytest.mark.parametrize(
    "value",
    [
        'outlets/x"\n[evil]\na = 1',
        "x]\n[outlets.y]\nkind = 'directory'",
        "a\x1bb\x7f\tc",
        "\\u0041 '''\"\"\" # not a comment",
        "../../elsewhere",
    ],
)
def test_add_outlet_writes_hostile_values_as_data(home: Path, value: str) -> None:
    with Engine.open(home, environ={}) as engine:
        engine.add_outlet("hostile", "directory", {"path": value})
    data = tomllib.loads((home / "syndicate.toml").read_text("utf-8"))
    assert data["outlets"] == {"hostile": {"kind": "directory", "path": value}}
    assert set(data) == {"store", "review", "guard", "notice", "outlets"}


@pytest.mark.parametrize(
    "name", ["", "../x", "a b", "a]", "a\n", "-a", "\uff41rchive", "x" * 65, "a.b"]
)
def test_add_outlet_refuses_names_that_are_not_names(home: Path, name: str) -> None:
    before = (home / "syndicate.toml").read_bytes()
    with Engine.open(home, environ={}) as engine, pytest.raises(ConfigurationError):
        engine.add_outlet(name, "directory", {"path": "out/x"})
    assert (home / "syndicate.toml").read_bytes() == before


def test_add_outlet_refuses_a_duplicate_and_literal_secrets(home: Path) -> None:
    with Engine.open(home, environ={"BAD": SECRET, "S": WHSEC}) as engine:
        engine.add_outlet("archive", "directory", {"path": "out/a"})
        before = (home / "syndicate.toml").read_bytes()
        with pytest.raises(ConfigurationError, match="already in"):
            engine.add_outlet("archive", "directory", {"path": "out/b"})
        with pytest.raises(ConfigurationError, match="a secret"):
            engine.add_outlet(
                "cms", "webhook", {"url": "https://example.com/h", "secret": WHSEC}
            )
        with pytest.raises(ConfigurationError, match="a secret"):
            engine.add_outlet(
                "bot", "wecom_group", {"webhook": SECRET, "portal_url": "https://a.cn"}
            )
        with pytest.raises(ConfigurationError) as caught:
            engine.add_outlet(
                "cms", "webhook", {"url": "https://example.com/h", "secret": "${BAD}"}
            )
        assert SECRET not in str(caught.value)
        with pytest.raises(ConfigurationError, match="not an adapter setting"):
            engine.add_outlet("x", "directory", {"path": "o", "internal": True})
        assert (home / "syndicate.toml").read_bytes() == before
    assert SECRET not in (home / "syndicate.toml").read_text("utf-8")


def test_opening_a_missing_or_half_made_home_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError, match="not a syndicate home"):
        Engine.open(tmp_path / "nowhere", environ={})
    half = tmp_path / "half"
    half.mkdir()
    (half / "syndicate.toml").write_text("")
    with pytest.raises(ConfigurationError, match="data_dir"):
        Engine.open(half, environ={})
    (half / "syndicate.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigurationError, match="invalid TOML"):
        Engine.open(half, environ={})


@pytest.mark.parametrize("data", [None, [], "x", 1, [("agency", "a")]])
def test_item_content_from_anything_but_a_mapping_is_an_input_error(
    data: Any,
) -> None:
    with pytest.raises(InputError):
        ItemContent.model_validate(data)


@pytest.mark.parametrize(
    "name", ["a/b", "a\\b", "..", ".", "", " ", ".env", "a\x00b", "a\nb", "名" * 81]
)
def test_attachment_names_that_are_not_plain_file_names(name: str) -> None:
    with pytest.raises(InputError):
        PreparedAttachment.from_bytes(b"x", name=name)


@pytest.mark.parametrize(
    "media_type", ["text/html\r\nX-Evil: 1", "text/html; charset=utf-8", "*/*", "x"]
)
def test_attachment_media_types_cannot_carry_headers(media_type: str) -> None:
    with pytest.raises(InputError):
        PreparedAttachment.from_bytes(b"x", name="a.pdf", media_type=media_type)


@pytest.mark.parametrize("stop", [StopFlag(), threading.Event()])
def test_a_worker_stopped_before_it_starts_returns_at_once(
    home: Path, stop: StopFlag | threading.Event
) -> None:
    stop.set()
    started = time.monotonic()
    with Engine.open(home, environ={}) as engine:
        ran = engine.run_worker(poll=5, stop=stop)
    assert ran.outcomes == {}
    assert time.monotonic() - started < 3


def test_odd_refs_and_delivery_ids_are_refused(tmp_path: Path) -> None:
    home = home_with(tmp_path, "refuse")
    with Engine.open(home, environ={}, registry=REGISTRY) as engine:
        for ref in (" ", "%", "\x00", "临溪县民政局/", "/x", "12345"):
            with pytest.raises(InputError):
                engine.status(ref)
        with pytest.raises(ItemNotFound):
            engine.status("../..")
        for outlet in ("", "BAD", "bad\n"):
            with pytest.raises(InputError):
                engine.status(outlet=outlet)
        with pytest.raises(InputError):
            engine.trail("")
        with pytest.raises(InputError):
            engine.attest("", _posting(), actor="县民政局 王敏")


def _posting() -> Any:
    from syndicate.engine import Attestation

    return Attestation.of(by="张敏")


def test_example_refuses_bad_requests_and_writes_nothing(
    client: Any, home: Path
) -> None:
    answers = [
        client.post("/items", data="not json", headers=EDITOR),
        client.post("/items", json=[item_json()], headers=EDITOR),
        client.post("/items", json=item_json()),  # no X-Editor
        client.post("/items", json=item_json(), headers={"X-Editor": "%0A"}),
        client.post("/items", json=item_json(), headers={"X-Editor": "a%00b"}),
        client.post("/items", json=item_json(attachments={"a": 1}), headers=EDITOR),
        client.post("/items", json=item_json(attachments=["x"]), headers=EDITOR),
        client.post(
            "/items",
            json=item_json(attachments=[{"name": "../a.csv", "base64": "eA=="}]),
            headers=EDITOR,
        ),
        client.post(
            "/items",
            json=item_json(attachments=[{"name": "a.csv", "base64": "not base64!"}]),
            headers=EDITOR,
        ),
        client.post("/items", json=item_json(title="\u202e"), headers=EDITOR),
        client.get("/items/%00/status"),
    ]
    assert [a.status_code for a in answers] == [400] * len(answers)
    assert all(a.is_json for a in answers)
    assert client.get("/items/../x/status").status_code == 404
    assert log_position(home) == 0


def test_example_page_escapes_what_editors_typed(client: Any) -> None:
    body = item_json(title="<script>alert(1)</script>低保公示")
    ref = client.post("/items", json=body, headers=EDITOR).get_json()["ref"]
    client.post("/deliver")
    page = client.get(f"/items/{ref}").get_data(as_text=True)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;低保公示" in page


def test_a_streamed_replacement_is_whole_or_not_at_all(tmp_path: Path) -> None:
    """`fsutil.replacing` (replay's manifests, repair's copies): a block that raises
    leaves the old file and no temporary one; one that ends replaces it, readable by
    others."""
    target = tmp_path / "out" / "manifest.json"
    write_atomically(target, b"old")

    def cut_short() -> None:
        with replacing(target) as handle:
            handle.write(b"half")
            raise RuntimeError("cut short")

    with pytest.raises(RuntimeError):
        cut_short()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["manifest.json"]
    with replacing(target) as handle:
        handle.write(b"new ")
        handle.write(b"whole")
    assert target.read_bytes() == b"new whole"
    assert target.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["manifest.json"]
