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
from syndicate.engine.annual import AnnualOps
from syndicate.engine.attest import Attestation, Attested, AttestOps
from syndicate.engine.audit import (
    AuditOps,
    ConsistencyReport,
    DeadlineReport,
    ExportResult,
    PreviewTarget,
    ProofBundle,
    ProofCheck,
    ReplayRequest,
    ReportResult,
    Trail,
    verify_export,
    verify_proof_file,
)
from syndicate.engine.catalogue import CatalogueOps
from syndicate.engine.deliveries import (
    AwaitingSheet,
    DeliveryOps,
    DeliveryState,
    HeldClaim,
    Resolution,
    RunSummary,
    StatusRow,
    StopFlag,
    SyncResult,
    WorkerRun,
)
from syndicate.engine.inspect import InspectOps
from syndicate.engine.outlets import HomeInit, OutletOps, OutletState, OutletStatus
from syndicate.engine.repair import OutletRepair, RepairOps

__all__ = [
    "Attestation",
    "Attested",
    "AwaitingSheet",
    "ConsistencyReport",
    "DeadlineReport",
    "DeliveryState",
    "Engine",
    "ExportResult",
    "HeldClaim",
    "HomeInit",
    "OutletRepair",
    "OutletState",
    "OutletStatus",
    "PreviewTarget",
    "ProofBundle",
    "ProofCheck",
    "ReplayRequest",
    "ReportResult",
    "Resolution",
    "RunSummary",
    "StatusRow",
    "StopFlag",
    "SyncResult",
    "Trail",
    "WorkerRun",
    "store_errors",
    "verify_export",
    "verify_proof_file",
    "worker_name",
]


class Engine(
    DeliveryOps,
    AttestOps,
    RepairOps,
    AuditOps,
    OutletOps,
    CatalogueOps,
    InspectOps,
    AnnualOps,
):
    """A syndicate home, opened: its logs, outlets and every operation on them.

    Open it with `Engine.open(home)` (or `Engine(project)`), use it in a `with` block or
    call `close()`. Not thread-safe: give each thread (or process) its own engine.
    """
