"""The review screen of examples/portal_backend (先审后发), driven with Flask's test
client: the queue, one version with its diff, approve (bound to the content hash the
reviewer read), return, urgent release and approval afterwards; refusals answer 400,
404 or 409 and write nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from syndicate import Engine, Project
from syndicate.testing import log_snapshot
from tests.conftest import content

APP = Path(__file__).resolve().parent.parent / "examples" / "portal_backend" / "app.py"
FIRST, SECOND = "科室初审", "分管领导审签"
REVIEW = f"""\
levels = ["{FIRST}", "{SECOND}"]
[review.reviewers]
"{FIRST}" = ["李静"]
"{SECOND}" = ["陈明"]
"""
REF = content().ref


def who(header: str, name: str) -> dict[str, str]:
    return {header: quote(name)}  # headers are Latin-1: names travel percent-encoded


EDITOR = who("X-Editor", "县民政局 王敏")
LI = who("X-Reviewer", "李静")
CHEN = who("X-Reviewer", "陈明")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    made = Engine.init(home, environ={})
    config = made.project.config_path
    text = config.read_text("utf-8")
    assert text.count('levels = ["审核"]\n') == 1
    config.write_text(text.replace('levels = ["审核"]\n', REVIEW), "utf-8")
    with Engine.open(home, environ={}) as engine:
        engine.add_outlet("archive", "directory", {"path": "outlets/archive"})
    return home


@pytest.fixture
def client(home: Path) -> FlaskClient:
    spec = importlib.util.spec_from_file_location("portal_backend_review", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.create_app(home)
    app.testing = True
    client: FlaskClient = app.test_client()
    return client


def snapshot(home: Path) -> list[tuple[int, str, bytes]]:
    with Project.load(home, environ={}).disclosures() as log:
        return log_snapshot(log)


def item_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = content(**overrides).model_dump(mode="json")
    return data


def archived(home: Path) -> list[dict[str, Any]]:
    folder = home / "outlets" / "archive"
    return [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.json"))]


def test_approval_names_the_version_read_and_the_last_level_releases_it(
    client: FlaskClient, home: Path
) -> None:
    answer = client.post("/items", json=item_json(), headers=EDITOR)
    assert answer.status_code == 201, answer.text
    submitted = answer.get_json()
    assert submitted["released"] is False
    assert submitted["awaiting"] == FIRST

    queue = client.get("/review").get_json()
    assert [(e["ref"], e["state"], e["awaiting"]) for e in queue] == [
        (REF, "pending", FIRST)
    ]
    assert client.get("/review", query_string={"level": SECOND}).get_json() == []
    detail = client.get(f"/review/{REF}").get_json()
    assert detail["live"] is None  # never released: nothing public to compare with
    assert f"+title = {content().title}" in detail["diff"]
    read = detail["review_hash"]

    # Nothing under review reaches an outlet.
    delivered = client.post("/deliver").get_json()
    assert delivered["ok"] is True
    assert archived(home) == []

    # The editor changes the item after the reviewer read it: the reviewer's hash is
    # stale, so the approval is refused and nothing is written.
    changed = item_json(body=content().body + "\n\n监督电话：0571-00000000")
    answer = client.post(
        f"/items/{REF}/revise",
        json={"content": changed, "reason": "补充监督电话"},
        headers=EDITOR,
    )
    assert answer.status_code == 200, answer.text
    assert answer.get_json()["released"] is False
    before = snapshot(home)
    stale = client.post(
        f"/review/{REF}/approve",
        json={"level": FIRST, "content_hash": read},
        headers=LI,
    )
    assert stale.status_code == 409
    assert "changed after you read it" in stale.get_json()["error"]
    assert snapshot(home) == before

    # Other refusals: no reviewer named (400), a level that does not exist (400), a
    # skipped level (409), the author or someone not named for the level (409), an
    # unknown item (404). None writes anything.
    fresh = client.get(f"/review/{REF}").get_json()
    assert "+监督电话：0571-00000000" in fresh["diff"]
    current = fresh["review_hash"]
    assert current != read
    refusals = [
        ({"level": FIRST, "content_hash": current}, {}, 400, "X-Reviewer"),
        ({"level": "终审", "content_hash": current}, LI, 400, "level"),
        ({"level": SECOND, "content_hash": current}, CHEN, 409, "in order"),
        (
            {"level": FIRST, "content_hash": current},
            who("X-Reviewer", "县民政局 王敏"),
            409,
            "cannot approve it",  # the author
        ),
        ({"level": FIRST, "content_hash": current}, CHEN, 409, "not a reviewer"),
    ]
    for body, headers, status, says in refusals:
        answer = client.post(f"/review/{REF}/approve", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert says in answer.text, answer.text
    missing = client.post(
        "/review/临溪县民政局/no-such-item/approve",
        json={"level": FIRST, "content_hash": current},
        headers=LI,
    )
    assert missing.status_code == 404
    assert client.get("/review/临溪县民政局/no-such-item").status_code == 404
    assert snapshot(home) == before

    answer = client.post(
        f"/review/{REF}/approve",
        json={"level": FIRST, "content_hash": current, "comment": "已核对"},
        headers=LI,
    )
    assert answer.status_code == 200, answer.text
    assert (answer.get_json()["released"], answer.get_json()["awaiting"]) == (
        False,
        SECOND,
    )
    twice = client.post(
        f"/review/{REF}/approve",
        json={"level": FIRST, "content_hash": current},
        headers=LI,
    )
    assert twice.status_code == 409  # another reviewer (or this one) acted first
    client.post("/deliver")
    assert archived(home) == []  # one level is not enough

    answer = client.post(
        f"/review/{REF}/approve",
        json={"level": SECOND, "content_hash": current},
        headers=CHEN,
    )
    assert answer.status_code == 200, answer.text
    assert answer.get_json()["released"] is True
    assert answer.get_json()["event"] == "Released"
    assert client.get("/review").get_json() == []
    assert client.get(f"/review/{REF}").status_code == 409  # nothing under review

    delivered = client.post("/deliver").get_json()
    assert delivered == {"ok": True, "outcomes": {"succeeded": 1}}
    [document] = archived(home)
    assert "监督电话：0571-00000000" in json.dumps(document, ensure_ascii=False)
    status = client.get(f"/items/{REF}/status").get_json()
    assert status["status"] == "published"
    assert [(r["outlet"], r["state"]) for r in status["outlets"]] == [
        ("archive", "succeeded")
    ]


def test_return_needs_a_comment_and_sends_the_version_back(
    client: FlaskClient, home: Path
) -> None:
    client.post("/items", json=item_json(), headers=EDITOR)
    before = snapshot(home)
    for body, headers in (({}, LI), ({"comment": "  "}, LI), ({"comment": "x"}, {})):
        answer = client.post(f"/review/{REF}/return", json=body, headers=headers)
        assert answer.status_code == 400, (body, answer.text)
    assert snapshot(home) == before

    answer = client.post(
        f"/review/{REF}/return",
        json={"comment": "监督电话未注明受理时间，请补充。"},
        headers=LI,
    )
    assert answer.status_code == 200, answer.text
    [entry] = client.get("/review").get_json()
    assert entry["state"] == "returned"
    assert entry["returned"]["comment"] == "监督电话未注明受理时间，请补充。"
    assert entry["returned"]["reviewer"] == "李静"
    approve = client.post(
        f"/review/{REF}/approve",
        json={"level": FIRST, "content_hash": entry["review_hash"]},
        headers=LI,
    )
    assert approve.status_code == 409  # returned: waits for the author

    revised = item_json(body=content().body + "\n\n监督电话：0571-00000000（工作日）")
    answer = client.post(
        f"/items/{REF}/revise",
        json={"content": revised, "reason": "按审核意见补充"},
        headers=EDITOR,
    )
    assert answer.get_json()["awaiting"] == FIRST
    [entry] = client.get("/review").get_json()
    assert entry["state"] == "pending"


def test_an_urgent_release_goes_out_at_once_and_is_approved_afterwards(
    client: FlaskClient, home: Path
) -> None:
    answer = client.post(
        "/items", json={**item_json(), "urgent": "汛情预警"}, headers=EDITOR
    )
    assert answer.status_code == 201, answer.text
    assert answer.get_json()["released"] is True
    assert client.get("/review").get_json() == []
    [entry] = client.get("/review", query_string={"overdue": "1"}).get_json()
    assert (entry["state"], entry["awaiting"], entry["reason"]) == (
        "urgent",
        FIRST,
        "汛情预警",
    )
    assert client.post("/deliver").get_json()["outcomes"] == {"succeeded": 1}
    assert len(archived(home)) == 1

    for level, headers in ((FIRST, LI), (SECOND, CHEN)):
        answer = client.post(
            f"/review/{REF}/approve-afterwards",
            json={"level": level, "content_hash": entry["review_hash"]},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
    assert client.get("/review", query_string={"overdue": "1"}).get_json() == []
