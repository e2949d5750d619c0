"""A loopback HTTP receiver in its own process (so it does not compete for the GIL).

    python -m bench.receiver PORT_FILE [LATENCY_MS]

Answers every request with 200, after LATENCY_MS milliseconds (default 0: at once;
each request on its own thread, as a real receiver answers several clients), and
writes its base URL to PORT_FILE when ready.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from syndicate.testing import LoopbackServer


def main() -> None:
    latency = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0

    def answer(request: object, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if latency:
            time.sleep(latency)
        return 200, {}, b"ok"

    with LoopbackServer(answer) as server:
        Path(sys.argv[1]).write_text(server.url, "utf-8")
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
