"""Outlet configuration: validated per adapter, errors named, secrets only from the environment."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from typer.testing import CliRunner

from syndicate.cli import app
from syndicate.errors import ConfigurationError
from syndicate.project import Project
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()

CONFIG = """\
[store]
url = "sqlite"

[outlets.county-cms]
kind = "webhook"
channel = "portal"
url = "http://127.0.0.1:9/hook"
secret = "${CMS_SECRET}"
allow_private_network = true   # an intranet receiver

[outlets.liutang-village]
kind = "directory"
channel = "group"
agencies = ["临溪县青石镇人民政府"]
areas = ["涉农补贴"]
path = "out/liutang"
"""


def home_with(tmp_path: Path, config: str) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "syndicate.toml").write_text(config, "utf-8")
    return home


def test_outlets_are_validated_by_their_adapters(tmp_path: Path) -> None:
    home = home_with(tmp_path, CONFIG)
    outlets = Project.load(home, environ={"CMS_SECRET": SECRET}).outlets
    assert sorted(outlets) == ["county-cms", "liutang-village"]
    cms = outlets["county-cms"]
    assert cms.settings.secret.get_secret_value() == SECRET  # type: ignore[attr-defined]
    assert cms.masked_settings()["secret"] == "**********"
    village = outlets["liutang-village"]
    assert village.settings.path == (home / "out" / "liutang").resolve()  # type: ignore[attr-defined]
    assert village.filter.areas == ("agricultural_subsidies",)


def test_filters_and_channels_decide_what_an_outlet_takes(tmp_path: Path) -> None:
    home = home_with(tmp_path, CONFIG)
    outlets = Project.load(home, environ={"CMS_SECRET": SECRET}).outlets
    township = content(agency="临溪县青石镇人民政府", area="涉农补贴")
    assert outlets["liutang-village"].accepts(township)
    assert not outlets["liutang-village"].accepts(content())  # other agency
    assert not outlets["liutang-village"].accepts(
        content(agency="临溪县青石镇人民政府", area="涉农补贴", channels=["portal"])
    )
    assert outlets["county-cms"].accepts(content())
    assert not outlets["county-cms"].accepts(content(channels=["kiosk"]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c.replace('secret = "${CMS_SECRET}"', f'secret = "{SECRET}"'),
            "outlets.county-cms.secret: a secret; write it as",
        ),
        (
            lambda c: c.replace('kind = "webhook"', 'kind = "carrier-pigeon"'),
            "outlets.county-cms.kind: no adapter of kind 'carrier-pigeon'",
        ),
        (
            lambda c: c.replace('url = "http://127.0.0.1:9/hook"', 'url = "ftp://x"'),
            "outlets.county-cms.url:",
        ),
        (
            lambda c: c.replace('channel = "portal"', 'channel = "tv"'),
            "outlets.county-cms.channel: unknown channel 'tv'",
        ),
        (
            lambda c: c.replace('areas = ["涉农补贴"]', 'areas = ["火星"]'),
            "outlets.liutang-village.areas: unknown pilot area",
        ),
        (
            lambda c: c.replace('path = "out/liutang"', 'path = "x"\ncolour = "red"'),
            "outlets.liutang-village.colour: unknown field",
        ),
        (
            lambda c: c.replace("[outlets.county-cms]", "[outlets.'county cms']"),
            "outlets.county cms: outlet names use letters",
        ),
    ],
    ids=[
        "literal-secret",
        "unknown-kind",
        "bad-url",
        "bad-channel",
        "bad-area",
        "unknown-setting",
        "bad-name",
    ],
)
def test_configuration_errors_name_outlet_and_field(
    tmp_path: Path, change: object, message: str
) -> None:
    home = home_with(tmp_path, change(CONFIG))  # type: ignore[operator]
    with pytest.raises(ConfigurationError) as info:
        _ = Project.load(home, environ={"CMS_SECRET": SECRET}).outlets
    assert message in str(info.value)
    assert SECRET not in str(info.value)


def test_missing_secret_variable_is_named(tmp_path: Path) -> None:
    home = home_with(tmp_path, CONFIG)
    with pytest.raises(ConfigurationError, match="CMS_SECRET is not set"):
        _ = Project.load(home, environ={}).outlets


def test_cli_lists_kinds_and_checks_outlets_with_secrets_masked(tmp_path: Path) -> None:
    home = home_with(tmp_path, CONFIG)
    runner = CliRunner(env={"CMS_SECRET": SECRET})
    kinds = runner.invoke(app, ["outlets", "list"])
    assert kinds.exit_code == 0
    assert "webhook" in kinds.stdout
    assert "syndicate_adapters.directory:DirectoryAdapter" in kinds.stdout
    checked = runner.invoke(app, ["--home", str(home), "outlets", "check"])
    assert checked.exit_code == 0, checked.output
    assert "ok  county-cms  kind=webhook" in checked.stdout
    assert "**********" in checked.stdout
    assert SECRET not in checked.output
    broken = CliRunner(env={}).invoke(app, ["--home", str(home), "outlets", "check"])
    assert broken.exit_code == 2
    assert (
        "error: outlets.county-cms.secret: environment variable CMS_SECRET"
        in broken.stderr
    )
