"""Careless operator input in the outlet and delivery commands: refused with a clear
message and exit 2, nothing recorded."""

from __future__ import annotations

from typer.testing import CliRunner

from syndicate.cli import app
from syndicate.project import Project


def test_detach_refuses_an_outlet_still_in_syndicate_toml(
    sqlite_project: Project,
) -> None:
    home = sqlite_project.home
    config = home / "syndicate.toml"
    before = config.read_text("utf-8")
    config.write_text(
        before + '\n[outlets.archive]\nkind = "directory"\npath = "out"\n', "utf-8"
    )
    runner = CliRunner(env={"SYNDICATE_ACTOR": "运维"})
    assert runner.invoke(app, ["--home", str(home), "sync"]).exit_code == 0
    refused = runner.invoke(app, ["--home", str(home), "outlets", "detach", "archive"])
    assert refused.exit_code == 2, refused.output
    assert "'archive' is still in syndicate.toml" in refused.stderr
    assert "[outlets.archive]" in refused.stderr
    project = Project.load(home, environ={})
    with project.disclosures() as items, project.deliveries(items) as log:
        assert "archive" in log.register().attached  # nothing recorded
    # Removed from syndicate.toml on purpose: now it detaches.
    config.write_text(before, "utf-8")
    done = runner.invoke(app, ["--home", str(home), "outlets", "detach", "archive"])
    assert done.exit_code == 0, done.output
    with project.disclosures() as items, project.deliveries(items, outlets={}) as log:
        assert "archive" not in log.register().attached
