"""The service layer: every operation the CLI offers, as typed library calls.

```python
from syndicate.engine import Engine

with Engine.open("/srv/disclosure") as engine:
    change = engine.items.publish(content, actor="张三")
    result = engine.sync()
    for row in engine.status():
        print(row.ref, row.outlet, row.state)
```

`Engine` is the composition root: it loads the home, opens its logs when first needed and
builds the one delivery worker; the CLI, `syndicate demo`, the benchmarks and the examples
call only this. Errors are `SyndicateError`s (see `syndicate.errors`).
"""

from syndicate.engine._base import store_errors, worker_name
from syndicate.engine.attest import AttestOps
from syndicate.engine.audit import AuditOps
from syndicate.engine.deliveries import DeliveryOps
from syndicate.engine.outlets import OutletOps
from syndicate.engine.repair import RepairOps

__all__ = ["Engine", "store_errors", "worker_name"]


class Engine(DeliveryOps, AttestOps, RepairOps, AuditOps, OutletOps):
    """A syndicate home, opened: its logs, outlets and every operation on them.

    Open it with `Engine.open(home)` (or `Engine(project)`), use it in a `with` block or
    call `close()`. Not thread-safe: give each thread (or process) its own engine.
    """
