"""The compiled fast path (syndicate/audit/_native.c) computes exactly what the Python
definition computes: leaf hashes of stored rows (any text, any bytes, any column type
an edit outside the library can leave), node levels, and whole-log leaf hashes in leaf
order across threads and checkpoint segments."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from syndicate.audit import log as audit_log
from syndicate.audit import merkle
from syndicate.audit.log import Leaf, LeafHashes, LogReader, leaf_data
from syndicate.audit.merkle import MerkleTree, leaf_hash, parent_level
from syndicate.cli import app
from tests.conftest import ITEM_FILE

native = merkle._native

needs_native = pytest.mark.skipif(
    native is None and os.environ.get("SYNDICATE_REQUIRE_NATIVE") != "1",
    reason="the compiled fast path was not built here (no compiler or headers)",
)

DDL = (
    "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
    "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
)


def test_the_fast_path_is_built_where_it_is_required() -> None:
    """CI sets SYNDICATE_REQUIRE_NATIVE=1: the other tests here must not skip there."""
    if os.environ.get("SYNDICATE_REQUIRE_NATIVE") == "1":
        assert native is not None, "syndicate/audit/_native.c was not compiled"


class NoRecorder:
    def select_notifications(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise AssertionError("the file is read directly")

    def max_notification_id(self) -> int | None:
        return None


def _reader(db: Path) -> LogReader:
    return LogReader(NoRecorder(), NoRecorder(), sqlite_files={"items": db})


def _python_hashes(db: Path, after: int, upto: int) -> tuple[bytes, list[int]]:
    leaves = list(_reader(db)._read_file("items", after, upto))
    return b"".join(leaf.hash for leaf in leaves), [leaf.position for leaf in leaves]


# Text that exercises every escaping rule at every alignment of the 8-byte scan.
_tricky = st.text(
    alphabet=st.one_of(
        st.sampled_from('"\\\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f /u'),
        st.characters(codec="utf-8"),
        st.sampled_from("临溪县民政局：（）\u2028\u2029\U0001f600\ufeff"),
    ),
    max_size=80,
)
_bad_utf8 = st.sampled_from(
    [
        b"\xff",
        b"\xc0\xaf",  # overlong '/'
        b"\xc1\xbf",
        b"\xe0\x80\xaf",  # overlong
        b"\xe0\x9f\xbf",
        b"\xed\xa0\x80",  # a surrogate
        b"\xed\xbf\xbf",
        b"\xf0\x8f\xbf\xbf",  # overlong
        b"\xf4\x90\x80\x80",  # above U+10FFFF
        b"\xf5\x80\x80\x80",
        b"\xe4\xb8",  # cut short
        b"\x80",
        b"\xe4\x28\xb4",
    ]
)
_state = st.one_of(
    _tricky.map(lambda t: t.encode("utf-8")),
    st.binary(max_size=60),
    st.tuples(_tricky, _bad_utf8, _tricky).map(
        lambda p: p[0].encode() + p[1] + p[2].encode()
    ),
)
_row = st.tuples(
    st.one_of(
        st.uuids().map(lambda u: u.hex),  # what eventsourcing writes
        st.uuids().map(str),
        _tricky,
        st.binary(max_size=40),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.none(),
    ),
    st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.text(max_size=5),
        st.floats(allow_nan=False),
        st.none(),
    ),
    st.one_of(
        st.just("syndicate.domain.events:Published"), _tricky, st.binary(max_size=8)
    ),
    st.one_of(_state, _tricky, st.none(), st.integers(-(2**63), 2**63 - 1)),
)


def _write(db: Path, rows: list[tuple[Any, ...]], bad_text: bool = False) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(DDL)
        for n, row in enumerate(rows):
            conn.execute(
                "INSERT OR IGNORE INTO stored_events VALUES (?, ?, ?, ?)",
                (row[0] if row[0] is not None else f"id{n}", *row[1:]),
            )
        if bad_text:  # text columns holding bytes that are not UTF-8
            conn.execute(
                "UPDATE stored_events SET topic = CAST(x'ff41' AS TEXT) WHERE rowid = 1"
            )
    conn.close()


@needs_native
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row, min_size=1, max_size=12), bad_text=st.booleans())
def test_compiled_leaves_equal_the_python_definition(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[Any, ...]],
    bad_text: bool,
) -> None:
    db = tmp_path_factory.mktemp("rows") / "log.db"
    _write(db, rows, bad_text)
    run = _reader(db)._hash_range("items", 0, 10**6)
    expected, positions = _python_hashes(db, 0, 10**6)
    assert bytes(run.hashes) == expected
    assert list(run.positions) == positions


@needs_native
def test_compiled_rows_are_the_documented_canonical_json(tmp_path: Path) -> None:
    """Rows the compiled path encodes itself (not handed back) hash to the canonical
    JSON dump, for text full of escapes at every offset."""
    rng = random.Random(7)
    alphabet = '"\\\x00\x1f\n\t\x7fa临😀\u2028'
    rows = []
    for n in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        rows.append((uuid.UUID(int=n).hex, n + 1, f"t{text}", text.encode()))
    db = tmp_path / "log.db"
    _write(db, rows)
    assert native is not None
    hashes, positions, odd = native.sqlite_leaves(
        os.fsencode(db), "items", 0, 10**6, 10**6
    )
    assert odd == 0  # every row was encoded in C
    assert len(positions) == 8 * 300
    for index, (originator, version, topic, state) in enumerate(rows):
        hyphenated = str(uuid.UUID(originator))
        doc = {
            "log": "items",
            "originator_id": hyphenated,
            "originator_version": version,
            "position": index + 1,
            "state": state.decode(),
            "topic": topic,
        }
        data = json.dumps(
            doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()
        assert data == leaf_data("items", index + 1, hyphenated, version, topic, state)
        assert hashes[index * 32 : index * 32 + 32] == leaf_hash(data)


@needs_native
def test_rows_the_compiled_path_cannot_encode_are_handed_back_in_order(
    tmp_path: Path,
) -> None:
    rows: list[tuple[Any, ...]] = [
        (uuid.UUID(int=1).hex, 1, "t", b"ok"),
        (uuid.UUID(int=2).hex, 1, "t", b"\xff not utf-8"),  # state_base64, in C too
        (uuid.UUID(int=3).hex, "seven", "t", b"x"),  # unreadable
        (uuid.UUID(int=4).hex, 1, "t", b"ok again"),
    ]
    db = tmp_path / "log.db"
    _write(db, rows)
    assert native is not None
    hashes, _, odd = native.sqlite_leaves(os.fsencode(db), "items", 0, 99, 99)
    assert (len(hashes), odd) == (64, 3)  # stops before the row it cannot encode
    leaves = list(_reader(db)._read_file("items", 0, 99))
    assert b'"state_base64":"/yBub3QgdXRmLTg="' in leaves[1].data
    assert b'"unreadable":' in leaves[2].data
    run = _reader(db)._hash_range("items", 0, 99)
    assert bytes(run.hashes) == b"".join(leaf.hash for leaf in leaves)


@needs_native
@given(count=st.integers(min_value=0, max_value=70), seed=st.integers())
def test_compiled_parent_levels_equal_python(count: int, seed: int) -> None:
    rng = random.Random(seed)
    level = rng.randbytes(32 * count)
    python = b"".join(
        merkle.node_hash(level[i : i + 32], level[i + 32 : i + 64])
        for i in range(0, 32 * (count - count % 2), 64)
    )
    assert parent_level(level) == python
    hashes = [level[i : i + 32] for i in range(0, len(level), 32)]
    assert MerkleTree.packed(level).root() == MerkleTree(hashes).root()


@needs_native
def test_compiled_export_leaf_hashes_equal_python() -> None:
    rng = random.Random(5)
    leaves = [Leaf("items", n, rng.randbytes(rng.randint(0, 300))) for n in range(50)]
    assert bytes(LeafHashes.of(leaves).hashes) == b"".join(x.hash for x in leaves)
    with pytest.raises(TypeError):
        native.leaf_hashes(["text"])  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="whole"):
        parent_level(b"x" * 33)


# -- a real home: both paths, many checkpoints, many pieces ---------------------------


def _home(tmp_path: Path, items: int) -> tuple[Path, Any]:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "审计员"})

    def cli(*args: str) -> Result:
        return runner.invoke(app, ["--home", str(home), *args])

    assert cli("init", "--no-review").exit_code == 0
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write('\n[outlets.archive]\nkind = "directory"\npath = "out"\n')
    for n in range(items):
        source = tmp_path / f"item{n}.md"
        source.write_text(
            ITEM_FILE.replace("2026-00019", f"2026-{n:05d}"), encoding="utf-8"
        )
        assert cli("items", "publish", str(source)).exit_code == 0
        assert cli("sync").exit_code == 0  # a checkpoint per sync
    return home, cli


@needs_native
def test_whole_log_hashes_match_the_leaves_across_pieces_and_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syndicate.audit.service import open_reader
    from syndicate.project import Project

    home, cli = _home(tmp_path, 4)
    project = Project.load(home, environ={})
    with open_reader(project) as (store, reader):
        records = list(store.checkpoints())
        assert len(records) == 4
        bounds = [(r.items_position, r.deliveries_position) for r in records]
        end = reader.ends()
        leaves = list(reader.leaves(bounds, end))
        for chunk in (1, 2, 3, 1 << 15):  # one position per thread task, and more
            monkeypatch.setattr(audit_log, "_CHUNK", chunk)
            got = reader.leaf_hashes(bounds, end)
            assert bytes(got.hashes) == b"".join(leaf.hash for leaf in leaves)
            assert [got.where(i) for i in range(len(got))] == [
                leaf.where() for leaf in leaves
            ]
    # Verify, compiled and in pure Python: the same verdict and root.
    compiled = json.loads(cli("audit", "verify", "--json").stdout)
    monkeypatch.setattr(merkle, "_native", None)
    python = json.loads(cli("audit", "verify", "--json").stdout)
    assert compiled == python
    said = cli("audit", "verify")
    assert said.exit_code == 0
    assert "runs in pure Python: same result, slower" in said.stderr
    assert compiled["ok"] is True
    assert compiled["covered"] == compiled["events"] > 0


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("UPDATE stored_events SET state = 'plain text' WHERE rowid = 2", "text"),
        ("UPDATE stored_events SET state = NULL WHERE rowid = 2", "null"),
        (
            "UPDATE stored_events SET topic = CAST(x'ff' AS TEXT) WHERE rowid = 2",
            "not utf-8",
        ),
        (
            "UPDATE stored_events SET originator_version = 'two' WHERE rowid = 2",
            "a word",
        ),
        ("UPDATE stored_events SET originator_id = 'x' WHERE rowid = 2", "short id"),
        ("UPDATE stored_events SET state = x'ff00' WHERE rowid = 2", "binary"),
    ],
)
def test_odd_edits_outside_the_library_are_caught_without_a_traceback(
    tmp_path: Path, sql: str, what: str
) -> None:
    home, cli = _home(tmp_path, 1)
    with sqlite3.connect(home / "data" / "deliveries.db") as conn:
        assert conn.execute(sql).rowcount == 1
    conn.close()
    verified = cli("audit", "verify")
    assert verified.exit_code == 1, (what, verified.output)
    assert verified.stdout.startswith("FAIL altered: leaf "), verified.stdout
    assert "deliveries log position 2" in verified.stdout
    assert verified.exception is None or isinstance(verified.exception, SystemExit)


@needs_native
def test_a_position_near_two_to_the_63_costs_one_piece_not_one_per_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row moved to rowid 2**63 - 1 by an edit outside the library: the log is cut
    into pieces by its rows, not by its positions, so verify still takes no time."""
    db = tmp_path / "log.db"
    _write(db, [(uuid.UUID(int=n).hex, 1, "t", b"{}") for n in range(1, 5)])
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE stored_events SET rowid = 9223372036854775807 WHERE rowid = 4"
        )
    conn.close()
    monkeypatch.setenv(audit_log.THREADS_ENV, "2")
    reader = _reader(db)
    pieces = reader._pieces("items", 2**63 - 1)
    assert len(pieces) == audit_log._MAX_PIECES
    assert pieces[0][0] == 0
    assert pieces[-1][1] == 2**63 - 1
    got = reader.leaf_hashes([], (2**63 - 1, 0))
    leaves = list(reader.leaves([], (2**63 - 1, 0)))
    assert bytes(got.hashes) == b"".join(leaf.hash for leaf in leaves)
    assert got.where(3) == "items log position 9223372036854775807"
    dense = tmp_path / "dense.db"
    _write(dense, [(uuid.UUID(int=n).hex, 1, "t", b"{}") for n in range(1, 20)])
    monkeypatch.setattr(audit_log, "_CHUNK", 8)
    assert _reader(dense)._pieces("items", 19) == [(0, 8), (8, 16), (16, 19)]


@needs_native
def test_a_home_whose_path_is_not_utf8_is_read(tmp_path: Path) -> None:
    folder = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9"))
    folder.mkdir()
    db = folder / "log.db"
    _write(db, [(uuid.UUID(int=1).hex, 1, "t", b"{}")])
    run = _reader(db)._hash_range("items", 0, 10)
    assert bytes(run.hashes) == _python_hashes(db, 0, 10)[0]
    assert len(run.positions) == 1


@needs_native
def test_the_compiled_module_uses_pythons_own_sqlite_here() -> None:
    """Both must be one library (else the reader falls back to Python, see log.py)."""
    assert audit_log._compiled_sqlite()
    assert not audit_log._same_sqlite(1)
