"""`syndicate attest`: record that a person put a printed sheet up on a notice board."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from syndicate.cli.output import cli_errors, echo_json, format_time, iso_china
from syndicate.cli.state import ActorOption, JsonOption, open_engine, resolve_actor
from syndicate.engine.attest import Attestation, Attested, attesting_actor

__all__ = ["attest", "register"]


def attest(
    ctx: typer.Context,
    delivery: Annotated[
        str,
        typer.Argument(
            metavar="DELIVERY",
            help="Delivery id (or a unique prefix), as `syndicate status` lists it.",
            show_default=False,
        ),
    ],
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="NAME",
            help="The person who put the sheet up on the board.",
            show_default=False,
        ),
    ],
    photo: Annotated[
        Path | None,
        typer.Option(
            "--photo",
            metavar="FILE",
            help="A photo of the posted sheet (JPEG, PNG, HEIC…): kept under the data "
            "directory by its sha256, which the event records.",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="When it was put up: ISO 8601, China time unless an offset is given "
            "(e.g. 2026-10-09T09:30).",
            show_default="now",
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            metavar="TEXT",
            help="A remark kept with the attestation (e.g. which board).",
            show_default=False,
        ),
    ] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record that a person put a printed sheet up on a notice board.

    A notice board (政务公开栏) is an outlet nobody can query: `syndicate sync` writes the
    sheet (a PDF) to the outlet's folder and the delivery waits, "awaiting_attestation"
    in `syndicate status`, until someone prints it, posts it, and this command records
    who (--by), when (--at, default now) and, as evidence, a photo of the posted sheet
    (--photo). The operator running the command is recorded as the actor. Only a
    delivery awaiting attestation can be attested, and only once: it is final.

    Example: syndicate attest 3f2a9c1e --by 张敏 --photo board.jpg --at 2026-10-09T09:30
    """
    with cli_errors():
        posting = Attestation.of(by=by, posted_at=at, photo=photo, note=note)
        recorder = attesting_actor(resolve_actor(actor))
        with open_engine(ctx) as run:
            done = run.attest(delivery, posting, actor=recorder)
        if as_json:
            echo_json(_record(done))
            return
        photo_text = (
            f"; photo sha256 {done.photo_sha256} kept at {done.photo_path}"
            if done.photo_path
            else ""
        )
        typer.echo(
            f"delivery {done.delivery_id} attested: {done.ref} v{done.version} on "
            f"{done.outlet} posted by {done.by} at {format_time(done.posted_at)} "
            f"(recorded by {done.actor}){photo_text}"
        )


def _record(done: Attested) -> dict[str, Any]:
    """The object `attest --json` prints."""
    return {
        "delivery_id": str(done.delivery_id),
        "item_id": str(done.item_id),
        "ref": done.ref,
        "outlet": done.outlet,
        "version": done.version,
        "operation": done.operation,
        "state": done.state.value,
        "file": done.file,
        "by": done.by,
        "posted_at": iso_china(done.posted_at),
        "actor": done.actor,
        "recorded_at": iso_china(done.recorded_at),
        "photo_sha256": done.photo_sha256,
        "photo_name": done.photo_name,
        "photo_path": str(done.photo_path) if done.photo_path else None,
        "note": done.note,
    }


def register(app: typer.Typer) -> None:
    """Add `attest` to the root app."""
    app.command()(attest)
