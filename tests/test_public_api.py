"""The public façade: a small, sorted, complete `__all__`."""

from __future__ import annotations

import syndicate
import syndicate.errors


def test_all_is_sorted_and_names_what_the_package_exports() -> None:
    assert syndicate.__all__ == sorted(syndicate.__all__)
    # The names are imported on first use (PEP 562): use each, then nothing else
    # public may be there.
    for name in syndicate.__all__:
        getattr(syndicate, name)
    public = {name for name in vars(syndicate) if not name.startswith("_")}
    modules = {
        name for name in public if type(getattr(syndicate, name)).__name__ == "module"
    }
    assert set(syndicate.__all__) == public - modules


def test_every_error_is_a_syndicate_error_with_an_exit_code() -> None:
    for name in syndicate.errors.__all__:
        obj = getattr(syndicate.errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, syndicate.errors.SyndicateError)
            assert obj.exit_code in (1, 2)


def test_the_command_line_builds_its_help_without_the_engine() -> None:
    """`syndicate --help` imports typer and the CLI's own modules, not the engine,
    the event store or the domain (start-up: bench/startup.py times it)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from syndicate.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'catalogue' in result.output\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(("
        "'syndicate.engine', 'syndicate.application', 'syndicate.domain.items', "
        "'eventsourcing', 'syndicate.audit')))\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
