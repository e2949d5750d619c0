"""Shared fixtures: a project on SQLite and on PostgreSQL, a fixed clock, item content.

PostgreSQL tests use a fresh schema per test on the server named by SYNDICATE_TEST_PG_URL
(default: the local server, database `test`). Locally they skip when no server answers;
under CI (CI=true or SYNDICATE_REQUIRE_POSTGRES=1) an unreachable server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from syndicate.domain.content import ItemContent
from syndicate.project import Project
from syndicate.testing import FixedClock

PG_URL = os.environ.get(
    "SYNDICATE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PG_REQUIRED = (
    os.environ.get("CI", "").lower() == "true"
    or os.environ.get("SYNDICATE_REQUIRE_POSTGRES") == "1"
)
_pg_error: list[str] = []


def _pg_reachable() -> bool:
    if _pg_error:
        return _pg_error[0] == ""
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        _pg_error.append("")
    except psycopg.Error as exc:
        _pg_error.append(str(exc).strip() or type(exc).__name__)
    return _pg_error[0] == ""


def require_postgres() -> None:
    """Skip (locally) or fail (under CI) when the PostgreSQL server is unreachable."""
    if _pg_reachable():
        return
    message = f"PostgreSQL at {PG_URL} is unreachable: {_pg_error[0]}"
    if PG_REQUIRED:
        pytest.fail(message + " (mandatory under CI)")
    pytest.skip(message)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema, dropped afterwards."""
    require_postgres()
    name = f"syn_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _store_url(request: pytest.FixtureRequest) -> tuple[str, str]:
    if request.param == "sqlite":
        return "sqlite", "public"
    schema: str = request.getfixturevalue("pg_schema")
    return PG_URL, schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(store url, schema) for each backend: the same tests run on both."""
    return _store_url(request)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def environ(backend: tuple[str, str]) -> dict[str, str]:
    """The environment a project on this backend is loaded with."""
    url, schema = backend
    env = {"SYNDICATE_STORE_URL": url}
    if url != "sqlite":
        env["SYNDICATE_STORE_SCHEMA"] = schema
    return env


@pytest.fixture
def project(tmp_path: Path, environ: dict[str, str]) -> Project:
    """An initialised home on the parametrised backend."""
    home = tmp_path / "home"
    project, created = Project.init(home, environ=environ, keys=False, review=False)
    assert created
    return project


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    """An initialised home on the SQLite default."""
    project, _ = Project.init(tmp_path / "home", environ={}, keys=False, review=False)
    return project


def content(**overrides: Any) -> ItemContent:
    """Valid item content; keyword arguments replace fields."""
    data: dict[str, Any] = {
        "agency": "临溪县民政局",
        "index_no": "11330100MB0000006R/2026-00019",
        "title": "临溪县2026年第一季度城乡最低生活保障审批结果公告",
        "body": "经审批，新增农村低保对象47户73人。",
        "area": "社会救助",
        "stage": "结果公开",
        "basis": "《社会救助暂行办法》第十一条",
        "formed_on": "2026-04-10",
    }
    data.update(overrides)
    return ItemContent.model_validate(data)


ITEM_FRONT = """\
agency = "临溪县民政局"
index_no = "11330100MB0000006R/2026-00019"
title = "临溪县2026年第一季度城乡最低生活保障审批结果公告"
area = "社会救助"
stage = "结果公开"
basis = "《社会救助暂行办法》第十一条"
formed_on = 2026-04-10
"""
ITEM_BODY = "经审批，新增农村低保对象47户73人。\n"
ITEM_FILE = f"+++\n{ITEM_FRONT}+++\n{ITEM_BODY}"
