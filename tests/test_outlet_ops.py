"""A home and its outlets from Python (issue 14, items 3 and 6): `Engine.init` makes the
audit key pair as `syndicate init` does; outlets are listed, added, checked and detached
through the engine; syndicate.toml's tables are pydantic models with the messages
operators know."""

from __future__ import annotations

import base64
import json
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from syndicate.cli import app
from syndicate.engine import Engine
from syndicate.errors import ConfigurationError, InputError
from syndicate.outlets import outlet_kinds, outlet_toml
from syndicate.project import AuditSettings, DeliverySettings, Project
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
ENV = {"CMS_SECRET": SECRET}
HOOK = {"url": "https://cms.example.gov.cn/hook", "secret": "${CMS_SECRET}"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    made = Engine.init(tmp_path / "home", environ=ENV, review=False)
    assert made.created
    assert made.key_created
    return made.project.home


def test_init_makes_the_home_the_cli_makes_with_its_key_pair(tmp_path: Path) -> None:
    made = Engine.init(tmp_path / "home", environ={})
    assert made.project.config_path.is_file()
    assert made.private_key == tmp_path / "home" / "keys" / "audit-signing.key"
    assert made.public_key.read_text("utf-8").strip() == made.public_key_text
    assert made.public_key_text not in repr(made)
    again = Engine.init(tmp_path / "home", environ={})
    assert not again.created
    assert not again.key_created
    assert again.public_key_text == made.public_key_text
    # The CLI says the same about the same home: it calls the same operation.
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "init"])
    assert result.exit_code == 0, result.output
    assert f"kept existing audit signing key {made.private_key}" in result.stdout
    assert f"audit public key ({made.public_key}): {made.public_key_text}" in (
        result.stdout
    )
    # A library-made home checkpoints: it has its key and its checkpoint store.
    with Engine.open(tmp_path / "home", environ={}) as engine:
        engine.items.publish(content(), actor="张三")
    checkpoint = CliRunner().invoke(
        app, ["--home", str(tmp_path / "home"), "audit", "checkpoint"]
    )
    assert checkpoint.exit_code == 0, checkpoint.output


def test_kinds_are_listed_with_their_capabilities_and_settings() -> None:
    kinds = {k.kind: k for k in outlet_kinds()}
    assert kinds["wecom_group"].capabilities.max_per_minute == 20
    assert "webhook" in kinds["wecom_group"].settings.model_fields
    assert kinds["webhook"].as_json() == {
        "kind": "webhook",
        "module": "syndicate_adapters.webhook:WebhookAdapter",
        "distribution": kinds["webhook"].distribution,
        "version": kinds["webhook"].version,
    }


def test_an_added_outlet_is_appended_checked_planned_and_the_file_kept(
    home: Path,
) -> None:
    config = home / "syndicate.toml"
    before = config.read_text("utf-8")
    with Engine.open(home, environ=ENV) as engine:
        assert engine.check_outlets() == []
        engine.items.publish(content(), actor="张三")
        engine.plan()
        shown = engine.add_outlet(
            "county-cms",
            "webhook",
            HOOK,
            channel="portal",
            areas=["社会救助"],
            rate_per_minute=30,
        )
        assert shown.settings == {
            "url": "https://cms.example.gov.cn/…",
            "secret": "**********",
            "timeout": "15.0",
        }
        assert shown.areas == ("social_assistance",)
        assert [o.as_json() for o in engine.check_outlets()] == [shown.as_json()]
        [status] = engine.outlets()
        assert (status.state, status.attached_at) == ("new", None)
        engine.plan()  # this engine plans for it at once: attached and backfilled
        [status] = engine.outlets()
        assert status.state == "ok"
        assert status.attached_at is not None
        deliveries = engine.deliveries.all_deliveries().values()
        assert [d.outlet for d in deliveries] == ["county-cms"]
    text = config.read_text("utf-8")
    assert text.startswith(before)  # comments and all: appended, nothing rewritten
    assert SECRET not in text
    assert tomllib.loads(text)["outlets"]["county-cms"] == {
        "kind": "webhook",
        "channel": "portal",
        "areas": ["社会救助"],
        "rate_per_minute": 30,
        **HOOK,
    }
    # The CLI reads what the library wrote.
    checked = CliRunner(env=ENV).invoke(
        app, ["--home", str(home), "outlets", "check", "--json"]
    )
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout) == [shown.as_json()]


@pytest.mark.parametrize(
    ("name", "kind", "settings", "options", "message"),
    [
        (
            "cms",
            "webhook",
            {**HOOK, "secret": SECRET},
            {},
            'outlets.cms.secret: a secret; write it as "${ENV_VAR}"',
        ),
        (
            "cms",
            "webhook",
            {**HOOK, "secret": "${UNSET_SECRET}"},
            {},
            "outlets.cms.secret: environment variable UNSET_SECRET is not set",
        ),
        ("cms", "pigeon", HOOK, {}, "outlets.cms.kind: no adapter of kind 'pigeon'"),
        (
            "cms",
            "webhook",
            {**HOOK, "colour": "red"},
            {},
            "outlets.cms.colour: unknown field",
        ),
        (
            "cms",
            "webhook",
            {**HOOK, "url": "http://10.0.0.5/hook"},
            {},
            "outlets.cms.url: 10.0.0.5 is a private address",
        ),
        ("cms", "webhook", HOOK, {"channel": "tv"}, "outlets.cms.channel: unknown"),
        ("cms", "webhook", HOOK, {"rate_per_minute": 0}, "rate_per_minute: must be"),
        ("cms", "webhook", {**HOOK, "internal": True}, {}, "outlets.cms.internal: not"),
        ("a b", "webhook", HOOK, {}, "outlets.a b: outlet names use letters"),
        (
            "cms",
            "webhook",
            {**HOOK, "timeout": Decimal("15")},
            {},
            "outlets.cms.timeout: a Decimal cannot be written",
        ),
    ],
    ids=[
        "literal-secret",
        "unset-variable",
        "unknown-kind",
        "unknown-setting",
        "private-url",
        "bad-channel",
        "bad-rate",
        "reserved-key-in-settings",
        "bad-name",
        "not-toml",
    ],
)
def test_an_outlet_that_would_not_load_is_refused_and_nothing_written(
    home: Path,
    name: str,
    kind: str,
    settings: dict[str, Any],
    options: dict[str, Any],
    message: str,
) -> None:
    config = home / "syndicate.toml"
    before = config.read_bytes()
    with (
        Engine.open(home, environ=ENV) as engine,
        pytest.raises(ConfigurationError) as refused,
    ):
        engine.add_outlet(name, kind, settings, **options)
    assert message in str(refused.value)
    assert SECRET not in str(refused.value)
    assert config.read_bytes() == before


def test_a_name_in_the_file_is_refused_even_one_added_since_loading(home: Path) -> None:
    config = home / "syndicate.toml"
    with Engine.open(home, environ=ENV) as engine:
        engine.add_outlet("cms", "webhook", HOOK)
        with pytest.raises(ConfigurationError, match=r"outlets\.cms: already in"):
            engine.add_outlet("cms", "webhook", HOOK)
        # Someone else adds a table after this engine loaded the file.
        with config.open("a", encoding="utf-8") as handle:
            handle.write('\n[outlets.archive]\nkind = "directory"\npath = "a"\n')
        with pytest.raises(ConfigurationError, match=r"outlets\.archive: already in"):
            engine.add_outlet("archive", "directory", {"path": "b"})


def test_a_file_whose_outlets_cannot_take_a_table_is_left_alone(home: Path) -> None:
    config = home / "syndicate.toml"
    config.write_text(
        'outlets = { archive = { kind = "directory", path = "a" } }\n'
        + config.read_text("utf-8"),
        "utf-8",
    )
    before = config.read_bytes()
    with (
        Engine.open(home, environ=ENV) as engine,
        pytest.raises(ConfigurationError, match="add the table by hand"),
    ):
        engine.add_outlet("cms", "webhook", HOOK)
    assert config.read_bytes() == before


def test_values_and_paths_from_python_read_back_as_given(home: Path) -> None:
    project = Project.load(home, environ=ENV)
    outlet = project.add_outlet("archive", "directory", {"path": Path("out/ar chive")})
    assert outlet.settings.path == home / "out" / "ar chive"  # type: ignore[attr-defined]
    assert Project.load(home, environ=ENV).outlets["archive"].settings == (
        outlet.settings
    )
    tricky = {"a": 'q"uo\\te\n\x7f中文', "b": [1, 2.5, True], "c": {"x y": "z"}}
    text = outlet_toml("t", tricky)
    assert tomllib.loads(text) == {"outlets": {"t": tricky}}


def test_outlet_statuses_and_detach(home: Path) -> None:
    config = home / "syndicate.toml"
    template = config.read_text("utf-8")
    with Engine.open(home, environ=ENV) as engine:
        engine.add_outlet("cms", "webhook", HOOK)
        engine.add_outlet("archive", "directory", {"path": "out/archive"})
        engine.plan()
        with pytest.raises(InputError, match=r"still in syndicate\.toml"):
            engine.detach_outlet("archive", actor="张三")
    # The archive's table goes; the webhook's secret is no longer set.
    cms_only = tomllib.loads(config.read_text("utf-8"))["outlets"]["cms"]
    config.write_text(template + "\n" + outlet_toml("cms", cms_only), "utf-8")
    with Engine.open(home, environ={}) as engine:
        statuses = {s.name: s for s in engine.outlets()}
        assert {n: s.state for n, s in statuses.items()} == {
            "archive": "removed",
            "cms": "invalid",
        }
        assert "CMS_SECRET is not set" in (statuses["cms"].problem or "")
        assert statuses["cms"].kind == "webhook"
        assert statuses["archive"].kind is None
        engine.detach_outlet("archive", actor="张三")
        assert [s.name for s in engine.outlets()] == ["cms"]
        with pytest.raises(InputError, match="'archive' is not attached"):
            engine.detach_outlet("archive", actor="张三")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[stor]\n", "syndicate.toml: unknown section(s) stor"),
        ("store = 1\n", "syndicate.toml: [store] must be a table"),
        ("[store]\nurl = 5\n", "store.url: must be a string"),
        ("[store]\nschema = 5\n", "store.schema: must be a string"),
        ("[store]\npassword = 5\n", "store.password: must be a string"),
        (
            "[store]\nport = 1\n",
            "store: unknown key(s) port; expected data_dir, password, schema, url",
        ),
        ("[store]\npassword = 'pw'\n", 'store.password: write it as "${ENV_VAR}"'),
        (
            "[store]\ndata_dir = '${NOPE}'\n",
            "store.data_dir: environment variable NOPE",
        ),
        ("delivery = 1\n", "[delivery] must be a table"),
        ("[delivery]\nclaim_seconds = 0\n", "delivery.claim_seconds: must be a whole"),
        (
            "[delivery]\nmax_age_hours = true\n",
            "delivery.max_age_hours: must be a whole",
        ),
        ("[delivery]\nfirst_check_seconds = 1.5\n", "first_check_seconds: must be"),
        (
            "[delivery]\nlease = 1\n",
            "delivery: unknown key(s) lease; expected claim_seconds, "
            "first_check_seconds, max_age_hours",
        ),
        ("audit = 'x'\n", "[audit] must be a table"),
        (
            "[audit]\ncheckpoint_every = '9'\n",
            "audit.checkpoint_every: must be a whole",
        ),
        ("[audit]\nevery = 1\n", "audit: unknown key(s) every; expected checkpoint_e"),
    ],
)
def test_the_files_sections_are_models_with_the_messages_operators_know(
    tmp_path: Path, config: str, message: str
) -> None:
    (tmp_path / "syndicate.toml").write_text(config, "utf-8")
    with pytest.raises(ConfigurationError) as refused:
        Project.load(tmp_path, environ={})
    assert message in str(refused.value)


def test_settings_are_read_into_their_models(tmp_path: Path) -> None:
    (tmp_path / "syndicate.toml").write_text(
        "[delivery]\nclaim_seconds = 30\n[audit]\ncheckpoint_minutes = 5\n"
        "[store]\nschema = 'disclosure'\ndata_dir = '${DATA}'\n",
        "utf-8",
    )
    project = Project.load(tmp_path, environ={"DATA": "var"})
    assert project.delivery == DeliverySettings(claim_seconds=30)
    assert project.audit == AuditSettings(checkpoint_minutes=5)
    assert project.store.schema == "disclosure"
    assert project.store.data_dir == tmp_path.resolve() / "var"


def test_the_python_example_in_the_configuration_guide_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text(
        "utf-8"
    )
    [example] = re.findall(r"```python\n(.*?)```", text, re.S)
    monkeypatch.setenv("COUNTY_CMS_SECRET", SECRET)
    code = example.replace('"/srv/disclosure"', repr(str(tmp_path / "home")))
    exec(compile(code, "configuration.md", "exec"), {})  # noqa: S102 - our own docs
    printed = capsys.readouterr().out
    assert "county-cms {'url': 'https://platform.example/…'" in printed
    assert "county-cms new" in printed
