"""A third-party adapter distribution registers through the entry point and passes the contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "third_party_adapter"


def test_example_distribution_installs_registers_and_passes_the_contract(
    tmp_path: Path,
) -> None:
    target = tmp_path / "site"
    # A real build and install of the example, offline (hatchling comes with the tests).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    listed = subprocess.run(
        [sys.executable, "-m", "syndicate", "outlets", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in listed.stdout.splitlines() if x.startswith("mailbox"))
    assert "syndicate_mailbox:MailboxAdapter" in line
    assert "syndicate-example-mailbox" in line
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(EXAMPLE),
            str(EXAMPLE / "tests"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "6 passed" in tests.stdout
