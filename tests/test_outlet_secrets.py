"""What is shown of outlet settings (issue 13, item 5): secrets masked, URLs as
scheme://host[:port]/… only, settings from environment variables as `${NAME}`, and no
error message that repeats a variable's value."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from pydantic import BaseModel, ConfigDict, field_validator
from typer.testing import CliRunner

from syndicate.adapter import Capabilities, DeliveryJob, Receipt, Rendition
from syndicate.cli import app
from syndicate.errors import ConfigurationError
from syndicate.outlets import load_outlets, shown_url
from syndicate.project import Project
from syndicate.registry import Registry

SECRET = "whsec_" + base64.b64encode(b"q" * 32).decode()
PATHKEY = "pathkeyqxn"
QUERYKEY = "querykeyzrq"
FOLDER = "folderkeywmz"
ROBOT = "robotkey-1a2b3c4d"

CONFIG = f"""\
[outlets.cms]
kind = "webhook"
url = "${{CMS_URL}}"
secret = "${{CMS_SECRET}}"

[outlets.cms-literal]
kind = "webhook"
url = "https://hooks.example.com/h/{PATHKEY}?token={QUERYKEY}"
secret = "${{CMS_SECRET}}"

[outlets.feeds]
kind = "rss"
path = "${{FEEDS_DIR}}"
site_url = "https://www.linxi.gov.cn/portal?t={QUERYKEY}"
hub = "https://hub.example.com:8443/"

[outlets.village]
kind = "wecom_group"
webhook = "${{ROBOT_KEY}}"
portal_url = "https://www.linxi.gov.cn"
"""

ENV = {
    "CMS_URL": f"https://hooks.example.com/h/{PATHKEY}?token={QUERYKEY}#frag",
    "CMS_SECRET": SECRET,
    "FEEDS_DIR": f"out/{FOLDER}",
    "ROBOT_KEY": ROBOT,
}
CANARIES = (PATHKEY, QUERYKEY, FOLDER, ROBOT, SECRET, "frag")


def cli(tmp_path: Path, config: str, env: dict[str, str], *args: str) -> Any:
    home = tmp_path / "home"
    if not home.exists():
        Project.init(
            home, environ={}, keys=False
        )  # a store, for the commands that need one
    (home / "syndicate.toml").write_text('[store]\nurl = "sqlite"\n\n' + config)
    return CliRunner(env=env).invoke(app, ["--home", str(home), *args])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/h?token=x", "https://hooks.example.com/…"),
        (
            "https://user:pw@hooks.example.com:8443/h",
            "https://hooks.example.com:8443/…",
        ),
        ("HTTP://Hooks.example.com", "http://Hooks.example.com"),
        ("https://hooks.example.com/", "https://hooks.example.com/"),
        ("https://hooks.example.com?q=1", "https://hooks.example.com/…"),
        ("https://hooks.example.com#f", "https://hooks.example.com/…"),
        ("https://[2001:db8::1]:443/x", "https://[2001:db8::1]:443/…"),
        ("https://政府.cn/x", "https://政府.cn/…"),
        ("https://h.example;tok=x/y", "https://…/…"),
        ("https://h.example\\@evil/", "https://h.example/…"),
        ("ftp://files.example/secret", "ftp://files.example/…"),
    ],
)
def test_shown_url_keeps_scheme_host_and_port_only(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_outlets_check_never_shows_a_urls_path_query_or_an_env_value(
    tmp_path: Path,
) -> None:
    checked = cli(tmp_path, CONFIG, ENV, "outlets", "check")
    assert checked.exit_code == 0, checked.output
    for canary in CANARIES:
        assert canary not in checked.output, canary
    assert "https://hooks.example.com/…" in checked.stdout
    assert "https://hub.example.com:8443/" in checked.stdout
    assert '"path": "${FEEDS_DIR}"' in checked.stdout
    as_json = cli(tmp_path, CONFIG, ENV, "outlets", "check", "--json")
    assert as_json.exit_code == 0, as_json.output
    for canary in CANARIES:
        assert canary not in as_json.output, canary
    rows = {r["name"]: r["settings"] for r in json.loads(as_json.stdout)}
    assert rows["cms"]["url"] == "https://hooks.example.com/…"
    assert rows["cms"]["secret"] == "**********"
    assert rows["cms-literal"]["url"] == "https://hooks.example.com/…"
    assert rows["feeds"]["path"] == "${FEEDS_DIR}"
    assert rows["feeds"]["site_url"] == "https://www.linxi.gov.cn/…"
    assert rows["feeds"]["hub"] == "https://hub.example.com:8443/"
    assert rows["village"]["webhook"] == "**********"
    assert rows["village"]["portal_url"] == "https://www.linxi.gov.cn"
    # `outlets list` shows adapter kinds, never settings.
    kinds = cli(tmp_path, CONFIG, ENV, "outlets", "list")
    assert kinds.exit_code == 0
    for canary in CANARIES:
        assert canary not in kinds.output


def test_repr_of_an_outlet_holds_no_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    outlets = load_outlets(
        {"cms": {"kind": "webhook", "url": "${CMS_URL}", "secret": "${CMS_SECRET}"}},
        Registry.from_entry_points(),
        home=home,
        environ=ENV,
    )
    assert PATHKEY not in repr(outlets["cms"])
    assert QUERYKEY not in str(outlets)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # credentials in the URL: refused without echoing them
        (f"https://admin:{QUERYKEY}@hooks.example.com/h/{PATHKEY}", "user name or"),
        # not http(s): the adapter's pattern refuses it, nothing echoed
        (f"ftp://hooks.example.com/{PATHKEY}?k={QUERYKEY}", "outlets.cms.url"),
        # a host that is not plainly a host: the variable is named instead
        (f"https://hooks.example.com;{QUERYKEY}/{PATHKEY}", "${CMS_URL}"),
        # a private address: the host is shown (it helps), the rest is not
        (f"https://10.0.0.5/{PATHKEY}?token={QUERYKEY}", "10.0.0.5 is a private"),
        (f"https://localhost/{PATHKEY}?token={QUERYKEY}", "localhost is a loopback"),
    ],
)
def test_a_bad_url_in_a_variable_is_never_echoed(
    tmp_path: Path, value: str, expected: str
) -> None:
    env = {**ENV, "CMS_URL": value}
    for args in (("outlets", "check"), ("outlets", "check", "--json"), ("sync",)):
        result = cli(tmp_path, CONFIG, env, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "outlets.cms.url" in result.stderr, result.stderr
        assert expected in result.stderr, result.stderr
        for canary in (PATHKEY, QUERYKEY, "admin"):
            assert canary not in result.output, (args, canary, result.output)


class EchoSettings(BaseModel):
    """A third-party adapter whose own check repeats what it was given."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    region: str
    links: list[str] = []

    @field_validator("region")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != "north":
            raise ValueError(f"unknown region {value!r} (try north)")
        return value


class EchoAdapter:
    kind: ClassVar[str] = "echo"
    Settings: ClassVar[type[BaseModel]] = EchoSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False, retracts=False
    )

    def __init__(self, settings: BaseModel) -> None:
        self.settings = settings

    def render(self, job: DeliveryJob) -> Rendition:
        raise NotImplementedError

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        raise NotImplementedError


def test_an_adapters_message_never_repeats_a_variables_value(tmp_path: Path) -> None:
    registry = Registry({"echo": EchoAdapter})
    table = {"e": {"kind": "echo", "region": "${REGION}"}}
    with pytest.raises(ConfigurationError) as caught:
        load_outlets(
            table, registry, home=tmp_path, environ={"REGION": f"south-{QUERYKEY}"}
        )
    assert str(caught.value) == (
        "outlets.e.region: unknown region '${REGION}' (try north)"
    )
    # Nested values from variables are shown as written; URLs in lists shortened.
    outlets = load_outlets(
        {
            "e": {
                "kind": "echo",
                "region": "north",
                "links": [f"https://a.example/{PATHKEY}", "${LINK}"],
            }
        },
        registry,
        home=tmp_path,
        environ={"LINK": f"plain-{QUERYKEY}"},
    )
    assert outlets["e"].masked_settings() == {
        "region": "north",
        "links": ["https://a.example/…", "${LINK}"],
    }
