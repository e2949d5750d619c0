"""`syndicate audit …`: trail, replay, the signed Merkle log, consistency, deadlines, reports."""

from __future__ import annotations

import typer

from syndicate.cli import annual, audit_log, audit_reports, catalogue, inspect

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Prove what was published where and when: per-item trails, replay as of a time, "
        "signed checkpoints over the whole log, offline verification, cross-outlet "
        "consistency, statutory deadlines and reports. Read-only over the logs, except "
        "`checkpoint`, which records a signed checkpoint."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

audit_log.register(app)
audit_reports.register(app)
inspect.register(app)
catalogue.register_audit(app)
annual.register(app)
