"""examples/portal_backend, driven over HTTP on a loopback port as a portal's CMS would:
publish, refuse bad input (nothing written), deliver, show status, revise, withdraw.

The home here does not review (`[review] levels = []`): each write is released at once.
Its review screen is tested in tests/test_review_example.py."""

from __future__ import annotations

import base64
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from werkzeug.serving import make_server

from syndicate import Engine, Project
from tests.conftest import content

APP = Path(__file__).resolve().parent.parent / "examples" / "portal_backend" / "app.py"
EDITOR = {"X-Editor": quote("县民政局 王敏")}  # headers are Latin-1


def _create_app() -> Any:
    spec = importlib.util.spec_from_file_location("portal_backend_app", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_app


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "home"
    made = Engine.init(home, environ={}, review=False)
    with Engine(made.project) as engine:
        engine.add_outlet("archive", "directory", {"path": "outlets/archive"})
    server = make_server("127.0.0.1", 0, _create_app()(home), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", home
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxy from the environment
        yield session


def item_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = content().model_dump(mode="json")
    data.update(overrides)
    return data


def log_position(home: Path) -> int:
    with Project.load(home, environ={}).disclosures() as log:
        return log.position()


def test_publish_deliver_and_status_over_http(
    backend: tuple[str, Path], http: requests.Session
) -> None:
    url, home = backend
    roster = base64.b64encode("姓名,金额\n张三,680\n".encode()).decode()
    body = item_json(attachments=[{"name": "发放名单.csv", "base64": roster}])
    answer = http.post(f"{url}/items", json=body, headers=EDITOR, timeout=30)
    assert answer.status_code == 201, answer.text
    ref = answer.json()["ref"]
    assert answer.json()["version"] == 1
    assert answer.json()["released"] is True  # no review: out at the next delivery
    assert answer.json()["event"] == "Published"

    # Nothing delivered yet: no rows until the planner has seen the item.
    status = http.get(f"{url}/items/{ref}/status", timeout=30).json()
    assert status["outlets"] == []

    delivered = http.post(f"{url}/deliver", timeout=60).json()
    assert delivered == {"ok": True, "outcomes": {"succeeded": 1}}
    status = http.get(f"{url}/items/{ref}/status", timeout=30).json()
    assert [
        (r["outlet"], r["state"], r["live_version"]) for r in status["outlets"]
    ] == [("archive", "succeeded", 1)]
    archived = list((home / "outlets" / "archive").glob("*.json"))
    assert len(archived) == 1
    assert "发放名单.csv" in archived[0].read_text("utf-8")

    page = http.get(f"{url}/items/{ref}", timeout=30)
    assert page.headers["Content-Type"].startswith("text/html")
    assert content().title in page.text
    assert "<td>succeeded</td>" in page.text

    revised = item_json(body=content().body + "\n\n补充：发放时间为每月10日。")
    answer = http.post(
        f"{url}/items/{ref}/revise",
        json={"content": revised, "reason": "补充发放时间"},
        headers=EDITOR,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == 2
    http.post(f"{url}/deliver", timeout=60)
    status = http.get(f"{url}/items/{ref}/status", timeout=30).json()
    assert status["version"] == 2
    assert status["outlets"][0]["live_version"] == 2

    answer = http.post(
        f"{url}/items/{ref}/withdraw",
        json={"reason": "名单有误", "public_note": "该名单已撤回，更正后另行公示。"},
        headers=EDITOR,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    http.post(f"{url}/deliver", timeout=60)
    status = http.get(f"{url}/items/{ref}/status", timeout=30).json()
    assert status["status"] == "withdrawn"
    assert status["outlets"][0]["live_version"] == "withdrawn"
    assert list((home / "outlets" / "archive").glob("*.json")) == []


def test_bad_requests_name_the_field_and_write_nothing(
    backend: tuple[str, Path], http: requests.Session
) -> None:
    url, home = backend
    before = log_position(home)
    bad = item_json(title="", formed_on="2026-13-01")
    answer = http.post(f"{url}/items", json=bad, headers=EDITOR, timeout=30)
    assert answer.status_code == 400
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"title", "formed_on"} <= fields

    answer = http.post(f"{url}/items", json=item_json(), timeout=30)  # no editor
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "X-Editor"

    attachment = [{"name": "../名单.csv", "base64": "aGk="}]
    answer = http.post(
        f"{url}/items",
        json=item_json(attachments=attachment),
        headers=EDITOR,
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"].startswith("attachments[0]")

    answer = http.post(
        f"{url}/items",
        json=item_json(attachments=[{"name": "a.csv", "base64": "not base64!"}]),
        headers=EDITOR,
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "attachments[0].base64"

    answer = http.post(f"{url}/items", data="[]", headers=EDITOR, timeout=30)
    assert answer.status_code == 400
    assert log_position(home) == before

    missing = http.get(f"{url}/items/临溪县民政局/no-such-item/status", timeout=30)
    assert missing.status_code == 404


def test_publishing_twice_is_a_conflict_not_a_second_item(
    backend: tuple[str, Path], http: requests.Session
) -> None:
    url, home = backend
    first = http.post(f"{url}/items", json=item_json(), headers=EDITOR, timeout=30)
    assert first.status_code == 201
    position = log_position(home)
    again = http.post(f"{url}/items", json=item_json(), headers=EDITOR, timeout=30)
    assert again.status_code == 409
    assert "already" in again.json()["error"]
    assert log_position(home) == position
