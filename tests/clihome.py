"""A syndicate home driven through the command line in-process, for tests: every
command's result kept, no traceback allowed, and the items log read back to prove that
a refused command changed nothing. Also the tamper step the audit tests share."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.engine import Engine
from syndicate.testing import log_snapshot


class CliHome:
    """The app against the home at `home`, as `actor`, with `env` (store settings,
    secrets) in its environment."""

    def __init__(
        self, home: Path, env: dict[str, str] | None = None, *, actor: str = "王五"
    ) -> None:
        self.home = home
        self.env = dict(env or {})
        self.runner = CliRunner(env={"SYNDICATE_ACTOR": actor, **self.env})
        self.outputs: list[Result] = []

    def __call__(self, *args: str | Path) -> Result:
        result = self.runner.invoke(app, ["--home", str(self.home), *map(str, args)])
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            repr(result.exception)
        )
        self.outputs.append(result)
        return result

    def ok(self, *args: str | Path) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result

    def items(self) -> list[tuple[int, str, bytes]]:
        """Every stored item event (position, topic, state), to compare before/after."""
        with Engine.open(self.home, environ=self.env) as engine:
            return log_snapshot(engine.items)


def impersonate(db: Path, topic: str) -> int:
    """Rename the actor of the first stored event of `topic` in the SQLite items log
    `db` (as an insider with the file would); its position."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT rowid FROM stored_events WHERE topic = ? ORDER BY rowid", (topic,)
        ).fetchall()
        assert rows, f"no {topic} in {db}"
        position = int(rows[0][0])
        changed = conn.execute(
            "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), "
            '\'"actor":"\', \'"actor":"冒名\') AS BLOB) WHERE rowid = ?',
            (position,),
        ).rowcount
    conn.close()
    assert changed == 1
    return position
