"""A loopback HTTP receiver in its own process (so it does not compete for the GIL).

    python -m bench.receiver PORT_FILE

Answers every request with 200 and writes its base URL to PORT_FILE when ready.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from syndicate.testing import LoopbackServer


def main() -> None:
    with LoopbackServer() as server:
        Path(sys.argv[1]).write_text(server.url, "utf-8")
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
