"""The portal keeps its state outside the web root, and moves an old `.syndicate/` out."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
import requests
from pydantic import ValidationError
from syndicate_adapters.portal import PortalAdapter, PortalSettings

from bench.portal import item_view_for, job_for

SITE = "https://www.linxi.gov.cn"
SESSION = requests.Session()


def portal(root: Path, **settings: object) -> PortalAdapter:
    return PortalAdapter(
        PortalSettings.model_validate({"path": root, "site_url": SITE, **settings})
    )


def deliver(adapter: PortalAdapter, n: int) -> bytes:
    rendition = adapter.render(job_for(item_view_for(n)))
    adapter.deliver(rendition, SESSION)
    return rendition.data


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


def test_state_lives_beside_the_web_root_by_default(tmp_path: Path) -> None:
    root = tmp_path / "www"
    adapter = portal(root)
    data = deliver(adapter, 1)
    state = tmp_path / "www.syndicate"
    assert adapter.site.state == state
    entry = json.loads(data)["entry"]["id"]
    assert (state / "entries" / f"{entry}.json").read_bytes() == data
    assert (state / "lock").exists()
    hidden = [p for p in root.rglob(".*") if p.name != ".well-known"]
    assert hidden == []  # nothing of the state is in the web root


def test_state_path_setting_and_its_checks(tmp_path: Path) -> None:
    root = tmp_path / "www"
    adapter = portal(root, state_path=tmp_path / "private" / "portal")
    deliver(adapter, 2)
    assert any((tmp_path / "private" / "portal" / "entries").iterdir())
    assert not (tmp_path / "www.syndicate").exists()
    for inside in (root / "state", root, tmp_path):
        with pytest.raises(ValidationError, match="outside the web root"):
            portal(root, state_path=inside)


def _old_layout(tmp_path: Path) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A site as older versions left it: the state in `<web root>/.syndicate/`."""
    root = tmp_path / "www"
    adapter = portal(root)
    for n in range(4):
        deliver(adapter, n)
    state = tmp_path / "www.syndicate"
    site, saved = files(root), files(state)
    shutil.move(state, root / ".syndicate")
    return root, site, saved


def test_an_old_state_folder_is_moved_out_on_first_use(tmp_path: Path) -> None:
    root, site, saved = _old_layout(tmp_path)
    adapter = portal(root)  # opening the site moves it
    assert not (root / ".syndicate").exists()
    assert files(tmp_path / "www.syndicate") == saved
    assert files(root) == site
    # It works as before: read back, and a next delivery updates the same state.
    job = job_for(item_view_for(1))
    assert adapter.read_back(job, SESSION) == adapter.render(job).data
    deliver(adapter, 9)
    assert adapter.site.rebuild() > 0
    assert not (root / ".syndicate").exists()


def test_a_move_across_file_systems_copies_then_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _site, saved = _old_layout(tmp_path)
    real = os.rename
    calls: list[str] = []

    def rename(src: object, dst: object) -> None:
        calls.append(str(src))
        if str(src) == str(root / ".syndicate"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", rename)
    portal(root)
    assert calls[0] == str(root / ".syndicate")
    assert not (root / ".syndicate").exists()
    assert files(tmp_path / "www.syndicate") == saved
    assert not list(tmp_path.glob(".*moving"))


def test_an_old_state_folder_that_cannot_move_stays_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _site, _saved = _old_layout(tmp_path)

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "rename", refuse)
    adapter = portal(root)
    assert adapter.site.state == root / ".syndicate"
    job = job_for(item_view_for(1))
    assert adapter.read_back(job, SESSION) == adapter.render(job).data


def test_a_state_left_in_the_web_root_is_reported_as_extra(tmp_path: Path) -> None:
    """Both folders exist (someone copied an old one back): the one in the web root is
    not used, not moved over the real one, and consistency lists its files."""
    from syndicate.audit.consistency import compare_folder

    root = tmp_path / "www"
    adapter = portal(root)
    renditions = [adapter.render(job_for(item_view_for(n))) for n in range(3)]
    for r in renditions:
        adapter.deliver(r, SESSION)
    shutil.copytree(tmp_path / "www.syndicate", root / ".syndicate")
    portal(root)
    assert (root / ".syndicate").is_dir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    folder = adapter.expected_files(scratch, renditions, (), None)
    found = compare_folder(scratch, folder)
    assert found
    assert {f.verdict for f in found} == {"extra"}
    assert all(f.path.startswith(".syndicate/") for f in found)
    shutil.rmtree(root / ".syndicate")
    assert compare_folder(scratch, folder) == []


def test_state_path_in_syndicate_toml_is_relative_to_the_home(tmp_path: Path) -> None:
    from tests.test_outlet_files import make_home
    from tests.test_repair import OUTLETS  # no WebSub hub

    outlets = OUTLETS.replace(
        'path = "out/portal"\n', 'path = "out/portal"\nstate_path = "private/portal"\n'
    )
    home, cli = make_home(tmp_path, outlets)
    synced = cli("sync")
    assert synced.exit_code == 0, synced.output
    assert len(list((home / "private" / "portal" / "entries").iterdir())) == 2
    assert not (home / "out" / "portal.syndicate").exists()
    assert [p.name for p in (home / "out" / "portal").glob(".*")] == [".well-known"]
    assert cli("audit", "consistency").exit_code == 0
    inside = outlets.replace('"private/portal"', '"out/portal/state"')
    (home / "syndicate.toml").write_text(
        (home / "syndicate.toml").read_text("utf-8").replace(outlets, inside), "utf-8"
    )
    refused = cli("sync")
    assert refused.exit_code == 2, refused.output
    assert "outlets.portal.state_path: " in refused.stderr
    assert "must be outside the web root" in refused.stderr
    checked = cli("audit", "consistency")  # reported, not checked, as any bad table
    assert (
        "note: outlet portal not checked: outlets.portal.state_path" in checked.stderr
    )
