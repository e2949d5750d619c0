"""`syndicate attest`: record that a person put a printed sheet up on a notice board."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from syndicate.cli.output import cli_errors, echo_json, format_time, iso_china
from syndicate.cli.state import ActorOption, JsonOption, open_engine, resolve_actor

if TYPE_CHECKING:
    from syndicate.engine.attest import Attested

from syndicate.errors import InputError, Problem

__all__ = ["attest", "register"]


def attest(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="NAME",
            help="The person who put the sheet up on the board (or forwarded the "
            "task to the village group).",
            show_default=False,
        ),
    ],
    delivery: Annotated[
        str | None,
        typer.Argument(
            metavar="[DELIVERY]",
            help="Delivery id (or a unique prefix: a relay task's 确认码), as "
            "`syndicate status` lists it. Or give --outlet and --item.",
            show_default=False,
        ),
    ] = None,
    outlet: Annotated[
        str | None,
        typer.Option(
            "--outlet",
            metavar="NAME",
            help="With --item instead of DELIVERY: the outlet (a notice board, a "
            "village group).",
            show_default=False,
        ),
    ] = None,
    item: Annotated[
        str | None,
        typer.Option(
            "--item",
            metavar="REF",
            help="With --outlet: the item (AGENCY/INDEX_NO or id); its newest "
            "rendition there that awaits attestation.",
            show_default=False,
        ),
    ] = None,
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
    photo_sha256: Annotated[
        str | None,
        typer.Option(
            "--photo-sha256",
            metavar="HEX",
            help="Instead of --photo: the sha256 of a photo or screenshot kept "
            "elsewhere (a mini-program's upload).",
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
    """Record that a person put a sheet up or forwarded a task to a village group.

    A notice board (政务公开栏) and a village WeChat group reached through a 网格员
    (wechat_relay) are outlets nobody can query: `syndicate sync` writes the sheet or
    the task (share card, text, link) and the delivery waits, "awaiting_attestation"
    in `syndicate status`, until someone posts or forwards it, and this command
    records who (--by), when (--at, default now) and, as evidence, a photo or
    screenshot (--photo, or --photo-sha256 for one kept elsewhere). Name the delivery
    by its id (a relay task's 确认码 is its first 8 digits) or by --outlet and
    --item. A digest forwarded as one message attests every item in it. The
    operator running the command is recorded as the actor. Only a delivery awaiting
    attestation can be attested, and only once: it is final.

    Example: syndicate attest 3f2a9c1e --by 张敏 --photo board.jpg --at 2026-10-09T09:30

    Example: syndicate attest --outlet qingshi-liutang --item 青石镇/2026-00012 --by 王芳
    """
    from syndicate.engine.attest import Attestation, attesting_actor

    with cli_errors():
        named = outlet is not None or item is not None
        if (delivery is not None and named) or (
            delivery is None and (outlet is None or item is None)
        ):
            raise InputError(
                [
                    Problem(
                        "DELIVERY",
                        "give a delivery id, or --outlet and --item (not both)",
                    )
                ]
            )
        posting = Attestation.of(
            by=by, posted_at=at, photo=photo, note=note, photo_sha256=photo_sha256
        )
        recorder = attesting_actor(resolve_actor(actor))
        with open_engine(ctx) as run:
            if outlet is not None and item is not None:
                done = run.attest_item(outlet, item, posting, actor=recorder)
            else:
                done = run.attest(delivery or "", posting, actor=recorder)
        if as_json:
            echo_json(_record(done))
            return
        photo_text = (
            f"; photo sha256 {done.photo_sha256} kept at {done.photo_path}"
            if done.photo_path
            else ""
        )
        if done.photo_sha256 and not done.photo_path:
            photo_text = f"; photo sha256 {done.photo_sha256}"
        typer.echo(
            f"delivery {done.delivery_id} attested: {done.ref} v{done.version} on "
            f"{done.outlet} posted by {done.by} at {format_time(done.posted_at)} "
            f"(recorded by {done.actor}){photo_text}"
        )
        if done.together:
            typer.echo(
                f"  and {len(done.together)} more sent in the same message: "
                + ", ".join(str(d)[:8] for d in done.together)
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
        "together": [str(d) for d in done.together],
    }


def register(app: typer.Typer) -> None:
    """Add `attest` to the root app."""
    app.command()(attest)
