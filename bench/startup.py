"""Start-up of the command line, timed as whole processes as an operator runs them.

    python -m bench.startup            # 10 runs of each command, the median
    python -m bench.startup --quick    # 3 runs

Measured in the same run, each as a separate process: `python -c pass` (the interpreter
alone), `python -c "import typer"` (the CLI framework: the floor any typer command line
pays), `syndicate --help`, and `syndicate status` on an empty home (which opens the
home's store). Prints each median in seconds and peak RSS, and `--help` against the
typer floor. Targets (issue 20): `--help` and `status` on an empty home ≤ 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.measure import measured

SYNDICATE = [sys.executable, "-m", "syndicate"]


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time (s) and this child's own peak RSS (KiB) of one run of `argv`."""
    run = measured(argv, env, stdout=False)
    if run.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited {run.returncode}: {run.stderr[-500:]}"
        )
    return run.seconds, run.max_rss // 1024


def _median(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, int]:
    _run(argv, env)  # warm the file cache and the byte-code cache
    times, peak = [], 0
    for _ in range(runs):
        elapsed, rss = _run(argv, env)
        times.append(elapsed)
        peak = max(peak, rss)
    return statistics.median(times), peak


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs of each")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else 10
    env = {**os.environ, "SYNDICATE_ACTOR": "bench"}
    # As an installed package runs: pip writes the byte code at install time. A shell
    # that forbids writing it (PYTHONDONTWRITEBYTECODE, as some CI images set) would
    # time compiling every module instead (0.3 s more for `status`).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        subprocess.run(  # noqa: S603 - our own interpreter and command
            [*SYNDICATE, "--home", str(home), "init", "--no-review"],
            env=env,
            capture_output=True,
            check=True,
        )
        cases = {
            "python": [sys.executable, "-c", "pass"],
            "typer": [sys.executable, "-c", "import typer"],
            "help": [*SYNDICATE, "--help"],
            "status": [*SYNDICATE, "--home", str(home), "status"],
        }
        figures = {name: _median(cmd, env, runs) for name, cmd in cases.items()}
    for name, (seconds, rss) in figures.items():
        print(f"{name:<8} {seconds:6.3f} s   peak RSS {rss / 1024:5.0f} MiB")
    help_s, typer_s = figures["help"][0], figures["typer"][0]
    print(f"--help / import typer: {help_s / typer_s:.2f} times")
    print(
        f"targets: --help {help_s:.3f} s (≤ 0.2), "
        f"status on an empty home {figures['status'][0]:.3f} s (≤ 0.2)"
    )
    return {
        "help_seconds": help_s,
        "status_seconds": figures["status"][0],
        "help_vs_typer": help_s / typer_s,
    }


if __name__ == "__main__":
    main()
