"""Build hook: compile the audit log's optional C fast path, syndicate/audit/_native.c.

It needs a C compiler, the Python headers and the SQLite and OpenSSL development files
(Debian: build-essential python3-dev libsqlite3-dev libssl-dev). Without them the
package installs anyway, with a warning, and `syndicate audit verify` computes the same
hashes in pure Python, several times slower. Set SYNDICATE_REQUIRE_NATIVE=1 to make a
failed compile an error instead (CI does, so the fast path is always tested there).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("syndicate/audit/_native.c")


def compile_extension(source: Path, target: Path) -> None:
    """Compile and link `source` into the extension module `target` (atomically)."""
    linker = sysconfig.get_config_var("LDSHARED") or "cc -shared"
    command = [
        *shlex.split(os.environ.get("SYNDICATE_LDSHARED") or linker),
        "-O2",
        "-fPIC",
        f"-I{sysconfig.get_paths()['include']}",
        *shlex.split(os.environ.get("CFLAGS", "")),
        str(source),
        "-o",
        "{output}",
        *shlex.split(os.environ.get("LDFLAGS", "")),
        "-lsqlite3",
        "-lcrypto",
    ]
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        output = Path(scratch) / target.name
        command[command.index("{output}")] = str(output)
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
        os.replace(output, target)


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        target = root / SOURCE.with_name(f"_native{suffix}")
        try:
            compile_extension(root / SOURCE, target)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            message = f"could not compile {SOURCE} ({detail.strip()[:500]})"
            if os.environ.get("SYNDICATE_REQUIRE_NATIVE") == "1":
                raise RuntimeError(message) from None
            self.app.display_warning(
                f"{message}; syndicate will hash the audit log in pure Python"
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = str(target.relative_to(root))
