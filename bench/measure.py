"""A command's wall time and its own peak memory, measured as a process.

`os.wait4` on a child of the benchmark is not enough for memory: Linux starts the child
in the parent's memory (`vfork`, or a copy after `fork`) and, at `exec`, carries that
memory's high-water mark into the child's `ru_maxrss`. A child of a benchmark that
holds 100 MiB reports at least 100 MiB, whatever it used. So the command is started by
a small launcher (`python -S -I`, about 10 MiB) that forks, execs the command and
reports the child's `ru_maxrss` and wall time; the floor is the launcher's size, not
the benchmark's. `tests/test_bench.py` checks the difference. `ru_maxrss` is the
largest of the command and the children it waited for (a command that runs others
reports its largest process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Runs in `python -S -I`: fork, exec the command, wait for it, write what it cost.
_LAUNCHER = """
import os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, f"{argv[0]}: {exc}\\n".encode())
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
import json  # after the command: the launcher stays small while it runs
with open(report, "w") as out:
    json.dump({"seconds": elapsed, "max_rss_kib": usage.ru_maxrss,
               "returncode": os.waitstatus_to_exitcode(status)}, out)
"""


@dataclass(frozen=True)
class Measured:
    seconds: float
    max_rss: int  # bytes: the command's own peak resident set
    returncode: int
    stdout: str
    stderr: str

    @property
    def max_rss_mib(self) -> float:
        return self.max_rss / 2**20


def measured(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    stdout: bool = True,
    cwd: Path | None = None,
) -> Measured:
    """Run `argv` with `env` (in `cwd`) and measure it (see the module's help).
    `stdout`: keep what it prints (False sends it to /dev/null)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        done = subprocess.run(  # noqa: S603 - our own interpreter and commands
            [sys.executable, "-S", "-I", "-c", _LAUNCHER, str(report), *argv],
            env=dict(env),
            cwd=cwd,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        if not report.exists():
            raise RuntimeError(f"the launcher failed: {done.stderr.decode()[-800:]}")
        figures = json.loads(report.read_text("utf-8"))
    return Measured(
        seconds=figures["seconds"],
        max_rss=figures["max_rss_kib"] * 1024,
        returncode=figures["returncode"],
        stdout=(done.stdout or b"").decode("utf-8", "replace"),
        stderr=done.stderr.decode("utf-8", "replace"),
    )
