"""Docs are tested: the CLI reference is current, examples run, every field is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syndicate.cli.docs import render
from syndicate.domain.content import ItemContent

ROOT = Path(__file__).resolve().parent.parent


def readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    match = re.search(rf"<!-- {marker} -->\n```sh\n(.+)\n```", text)
    assert match, f"README.md has no {marker} block"
    return match.group(1)


def test_cli_reference_is_current() -> None:
    current = (ROOT / "docs" / "cli.md").read_text("utf-8")
    assert current == render(), (
        "docs/cli.md is stale: run `python -m syndicate.cli.docs > docs/cli.md`"
    )


def test_readme_has_the_two_fresh_machine_commands_and_ci_runs_them() -> None:
    demo = readme_command("demo-command")
    tests = readme_command("test-command")
    assert demo.startswith("python3 -m venv .venv")
    assert demo.endswith("syndicate demo")
    assert "'.[test]'" in tests
    assert tests.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "readme_command demo-command" in ci
    assert "readme_command test-command" in ci


def test_item_reference_documents_every_field() -> None:
    text = (ROOT / "docs" / "items.md").read_text("utf-8")
    for field in ItemContent.model_fields:
        assert f"| `{field}` |" in text, f"docs/items.md lacks {field}"


def test_every_cli_command_is_in_the_reference() -> None:
    text = render()
    for command in (
        "init",
        "log",
        "areas",
        "demo",
        "items publish",
        "items revise",
        "items withdraw",
        "items show",
        "items list",
        "review list",
        "review show",
        "review approve",
        "review return",
        "review resubmit",
        "review approve-afterwards",
        "review release-urgently",
    ):
        assert f"## `syndicate {command}`" in text


@pytest.mark.parametrize(
    ("page", "marker"),
    [("review.md", "<!-- review-example -->\n"), ("configuration.md", "## Review\n")],
)
def test_review_configuration_examples_load(
    tmp_path: Path, page: str, marker: str
) -> None:
    """The [review] tables the docs show are what a home accepts, with their levels."""
    from syndicate.domain.catalogue import parse_area
    from syndicate.project import Project

    text = (ROOT / "docs" / page).read_text("utf-8")
    after = text[text.index(marker) :]
    match = re.search(r"```toml\n(.+?)```", after, re.S)
    assert match, f"docs/{page} has no [review] example"
    Project.init(tmp_path, keys=False)
    config = tmp_path / "syndicate.toml"
    lines = config.read_text("utf-8").splitlines(keepends=True)
    start = lines.index("[review]\n")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("# --"))
    config.write_text("".join([*lines[:start], match[1], "\n", *lines[end:]]), "utf-8")
    policy = Project.load(tmp_path, {}).review
    assert policy.on
    assert policy.configured
    assert policy.rules.names == ("科室初审", "分管领导审签")
    lead = policy.rules.level("分管领导审签")
    assert lead is not None
    assert lead.reviewers == frozenset({"张副县长"})
    township = policy.agencies["临溪县青石镇人民政府"]
    assert [level.name for level in township.levels or ()] == ["镇党政办审核"]
    assert township.allow_self_review is True
    housing = policy.areas[parse_area("农村危房改造")]
    assert housing.requires_interpretation == frozenset({"城乡建设"})


def test_python_example_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "publish_with_api.py"),
            str(tmp_path / "h"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("published ")
    assert lines[1].startswith("refused as expected: already published")
    assert [line.split()[1] for line in lines[-3:]] == [
        "Published",
        "Revised",
        "Withdrawn",
    ]


def test_docs_link_to_files_that_exist() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text("utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links to {target}"


def test_every_builtin_adapter_kind_is_documented() -> None:
    from syndicate.registry import Registry

    text = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    registry = Registry.from_entry_points()
    builtins = [
        k for k in registry if registry.info(k).module.startswith("syndicate_adapters")
    ]
    assert builtins
    for kind in builtins:
        assert f"- `{kind}` —" in text, f"docs/configuration.md lacks {kind}"


def test_every_command_has_help_with_an_example() -> None:
    import typer

    from syndicate.cli import app

    def walk(command: Any, prefix: str) -> list[tuple[str, Any]]:
        found = [(prefix, command)]
        for name, sub in (getattr(command, "commands", None) or {}).items():
            found += walk(sub, f"{prefix} {name}")
        return found

    for name, command in walk(typer.main.get_command(app), "syndicate"):
        assert command.help, f"{name} has no help"
        if not getattr(command, "commands", None):
            assert "Example:" in command.help, f"{name} has no example"
