"""`syndicate audit checkpoint | pubkey | verify | export | prove`: the signed Merkle log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from syndicate.audit.log import Verdict

from syndicate.cli.output import cli_errors, echo_json, fail, format_time, table
from syndicate.cli.state import ActorOption, JsonOption, open_engine, resolve_actor
from syndicate.errors import InputError

__all__ = ["register"]

PubkeyOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--pubkey",
        metavar="FILE",
        help="The public keys to trust, one per line (as published on the portal at "
        ".well-known/syndicate-audit/public-key.txt: the current key and the retired "
        "ones); repeatable, the keys add up. Default: the home's keys (keys/"
        "audit-signing.pub and keys/audit-retired.pub), or the export's "
        "public-key.txt.",
        dir_okay=False,
    ),
]


def checkpoint_command(ctx: typer.Context, actor: ActorOption = None) -> None:
    """Sign the current tree head of the audit log and record it as a checkpoint.

    The tree covers every stored event of the items log and the deliveries log (RFC 6962
    Merkle tree; docs/audit.md). The checkpoint is signed with the home's Ed25519 key
    (keys/audit-signing.key, created by `syndicate init`, or the file named by
    SYNDICATE_AUDIT_KEY) and published on outlets that witness checkpoints (the portal's
    .well-known/syndicate-audit/ and its audit page, the feeds' checkpoints.xml).
    `sync` does this by itself at its end, and `worker` every [audit] checkpoint_every
    events or checkpoint_minutes minutes (defaults 1,000 and 10).

    Example: syndicate audit checkpoint
    """
    with cli_errors(), open_engine(ctx) as engine:
        typer.echo(engine.record_checkpoint(actor=resolve_actor(actor)))


def pubkey(ctx: typer.Context) -> None:
    """Print the public keys that verify this home's checkpoints (never a private one):
    the current key on the first line, then the retired keys (after `rotate-key`),
    newest first.

    Publish them out of band too (an official notice), so auditors can pin them.

    Example: syndicate audit pubkey > linxi-audit.pub
    """
    with cli_errors(), open_engine(ctx) as engine:
        for key in engine.public_keys():
            typer.echo(key.to_text())


def rotate_key_command(ctx: typer.Context, actor: ActorOption = None) -> None:
    """Replace the audit signing key with a new one, handed over in a signed checkpoint.

    Makes a new Ed25519 key pair (same name, so the log's origin stays) and records a
    rotation checkpoint signed by both the old and the new key, so a verifier who
    trusts the old key learns the new one from the log. The new private key replaces
    the old one in keys/audit-signing.key (or the SYNDICATE_AUDIT_KEY file): the old
    private key is deleted, not kept anywhere; its public key moves to
    keys/audit-retired.pub. Checkpoints are signed by the new key from then on; the
    outlets that witness checkpoints publish the current and the retired keys.
    Publish the new key out of band too. If the command stops half-way, run it again:
    it finishes the rotation.

    Example: syndicate audit rotate-key
    """
    with cli_errors(), open_engine(ctx) as engine:
        typer.echo(engine.rotate_key(actor=resolve_actor(actor)))


def _print_verdict(verdict: Verdict, as_json: bool) -> None:
    if as_json:
        echo_json(verdict.as_json())
    else:
        for finding in verdict.findings:
            typer.echo(f"FAIL {finding.kind}: {finding.message}")
        if verdict.ok:
            typer.echo(
                f"OK: {verdict.events} events, {verdict.checkpoints} checkpoints "
                f"checked with key {verdict.key}; {verdict.covered} events covered by "
                f"the newest checkpoint, {verdict.uncovered} logged since"
            )
        else:
            typer.echo(
                f"FAILED: {verdict.events} events, {verdict.checkpoints} checkpoints "
                f"checked with key {verdict.key}; the log was changed after it was "
                "signed (the first change is named above)"
            )
        if verdict.ok and verdict.uncovered:
            typer.echo(
                "  (events after the newest checkpoint are protected from the next "
                "one on: `syndicate audit checkpoint`)"
            )
    if not verdict.ok:
        raise typer.Exit(1)


def reindex_command(ctx: typer.Context) -> None:
    """Rebuild the read models (deliveries, timetable) from the logs.

    Workers and `status` read a table of one row per delivery (what is due, the newest
    version per item and outlet) kept beside the deliveries log, and `sync` a
    timetable of the items waiting for the clock (公示 ends, scheduled releases,
    validity) kept beside the items log; each is caught up with the events appended
    since it was last read, instead of folding the whole log at every start. Every
    command keeps them up to date by itself. Rebuild them when `audit verify` reports
    a read-model finding (someone edited a table), or to start afresh; nothing is
    lost: they are folded from the logs again. Workers may keep running.

    Example: syndicate audit reindex
    """
    from syndicate.cli.audit_reports import progress_bar

    with (
        cli_errors(),
        open_engine(ctx) as engine,
        progress_bar("folding the logs") as advance,
    ):
        done = engine.reindex(advance)
    fixed = f"; {done.differed} row(s) differed before" if done.differed else ""
    typer.echo(
        f"deliveries read model rebuilt: {done.rows} delivery(ies) up to deliveries-log "
        f"position {done.position}\n"
        f"timetable rebuilt: {done.timetable_rows} item(s) ever timed, up to items-log "
        f"position {done.timetable_position}{fixed}"
    )


def verify_command(
    ctx: typer.Context,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            metavar="DIR",
            help="Verify an export (`audit export`) instead of the store: no database.",
            file_okay=False,
        ),
    ] = None,
    proof: Annotated[
        Path | None,
        typer.Option(
            "--proof",
            metavar="FILE",
            help="Verify an inclusion-proof bundle (`audit prove --out FILE`) instead.",
            dir_okay=False,
        ),
    ] = None,
    pubkey_file: PubkeyOption = None,
    kept_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="A signed checkpoint you kept, such as a copy of the portal's "
            ".well-known/syndicate-audit/checkpoint.txt (repeatable): the log must "
            "still give its root, it must still be recorded, and it must be signed by "
            "the key valid for it. This catches recorded checkpoints that were "
            "removed, which the log alone cannot.",
            dir_okay=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the Merkle tree and check every checkpoint; exit 1 on any change.

    Checks each checkpoint's signature with the trusted public key, that the log still
    gives each signed root, and that consecutive checkpoints are consistent (the log
    only grew). On failure it names the first leaf where the log diverges and the kind of
    change: altered, deleted, inserted, reordered or truncated (or a checkpoint that is
    not signed by the trusted key). Review events (先审后发: submissions, approvals with
    the level and content hash approved, returns, releases) are items-log events like
    any other, so an approval edited or removed after a checkpoint is caught too.

    With --export, no database is needed; with --proof, an inclusion-proof bundle from
    `audit prove` is checked instead. A log with events but no checkpoint fails: nothing
    would prove it unchanged.

    Example: syndicate audit verify --export audit-2026 --pubkey linxi-audit.pub --checkpoint kept/checkpoint.txt
    """
    from syndicate.audit.log import PUBLIC_KEY_FILE
    from syndicate.engine.audit import hashing_is_compiled, open_export

    with cli_errors():
        if export is not None and proof is not None:
            raise InputError("--export and --proof: give one of them")
        if proof is not None:
            _verify_proof_file(proof, pubkey_file, as_json)
            return
        if not hashing_is_compiled() and not as_json:
            typer.echo(
                "note: the compiled hashing module was not built at install "
                "(see README), so this runs in pure Python: same result, slower",
                err=True,
            )
        if export is not None:
            to_verify = open_export(export, pubkey_file or ())
            if to_verify.own_key and not as_json:
                _trusting_own_key(f"the export's own {PUBLIC_KEY_FILE}")
            verdict = to_verify.verify(kept_files or ())
        else:
            with open_engine(ctx) as engine:
                verdict = engine.verify_log(pubkey_file or (), kept_files or ())
    _print_verdict(verdict, as_json)


def _trusting_own_key(what: str) -> None:
    typer.echo(
        f"note: trusting {what}; pin the key published by the government with "
        "--pubkey FILE",
        err=True,
    )


def _verify_proof_file(
    proof: Path, pubkey_file: list[Path] | None, as_json: bool
) -> None:
    """`verify --proof`: exit 1 if the bundle does not prove what it claims."""
    from syndicate.engine.audit import open_proof

    bundle = open_proof(proof, pubkey_file or ())
    if bundle.own_key and not as_json:
        _trusting_own_key("the bundle's own public_key")
    checked = bundle.check()
    if as_json:
        echo_json(checked.as_json())
    elif checked.ok:
        for line in checked.proven:
            typer.echo(f"OK {line}")
    else:
        typer.echo(f"FAIL {checked.problem}")
    if not checked.ok:
        raise typer.Exit(1)


def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(metavar="DIR", file_okay=False)],
) -> None:
    """Write the audit log for an auditor: events.jsonl (every leaf, in tree order),
    checkpoints.jsonl (signed checkpoints) and public-key.txt.

    Verify it anywhere with `syndicate audit verify --export DIR --pubkey KEY` or an
    independent RFC 6962 verifier (docs/audit.md specifies the formats).

    Example: syndicate audit export audit-2026
    """
    with cli_errors(), open_engine(ctx) as engine:
        done = engine.export_log(out)
        typer.echo(
            f"exported {done.events} events and {done.checkpoints} checkpoints to {out}"
        )
        if done.outside:
            typer.echo(
                f"warning: {done.outside} stored row(s) lie outside the positions "
                "the audit log covers and are not in the export; run `syndicate audit "
                "verify` on the store",
                err=True,
            )


def prove_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REF", help="AGENCY/INDEX_NO or id.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="FILE", help="Write the bundle here.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Print inclusion proofs for an item's events (items log and its deliveries)
    against the newest checkpoint, as a JSON bundle anyone can verify offline.

    Example: syndicate audit prove 临溪县民政局/11330100MB0000006R/2026-00019 --out p.json
    """
    with cli_errors():
        with open_engine(ctx) as engine:
            bundle = engine.prove(ref)
        if out is None:
            sys.stdout.write(bundle.text())
            return
        bundle.write(out)
        typer.echo(
            f"{bundle.proofs} inclusion proofs written to {out}"
            + (
                f"; {bundle.not_yet_covered} newer events are not covered "
                "until the next checkpoint"
                if bundle.not_yet_covered
                else ""
            )
        )


def list_checkpoints(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the recorded checkpoints: number, time, events covered, root, trigger.

    Example: syndicate audit checkpoints --json
    """
    with cli_errors():
        with open_engine(ctx) as engine:
            records = engine.checkpoints()
        if as_json:
            echo_json([r.as_json() | {"segment": None} for r in records])
            return
        if not records:
            fail("no checkpoints yet; run `syndicate audit checkpoint`", 1)
        for r in records:
            if r.problem:
                typer.echo(f"#?     unreadable record: {r.problem}")
                continue
            typer.echo(
                f"#{r.number:<5} {format_time(r.at)}  {r.size:>8} events  "
                f"{r.root.hex()[:16]}…  {r.trigger} ({r.actor})"
            )


def consistency_command(
    ctx: typer.Context,
    outlet: Annotated[
        str | None, typer.Option("--outlet", metavar="NAME", help="Only this outlet.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check that every outlet shows what the log says, per item and outlet, and per file.

    Outlets that can be read (portal files, feeds, kiosk bundle, directory) are read and
    compared with the renditions: in sync, stale (an older version), missing, drifted
    (bytes the log never sent) or extra (on the outlet, never sent there). Every file of
    their folders is also compared byte for byte with what the outlet would write from
    the log now; a FILE row names each one that is drifted (from which byte), missing,
    extra or unreadable (`syndicate repair` writes them back). Outlets that cannot be
    read (group robots, WeChat, webhooks, notice boards) report their last recorded
    delivery or attestation. Exit 1 on any mismatch.

    Example: syndicate audit consistency --outlet portal --json
    """
    with cli_errors(), open_engine(ctx) as engine:
        found = engine.consistency(outlet)
    rows, problems, bad = found.rows, found.problems, found.mismatched
    if as_json:
        echo_json([r.as_json() for r in rows])
    else:
        typer.echo(
            table(
                ["ITEM", "OUTLET", "VERDICT", "EXPECTED", "SHOWN", "FILE", "DETAIL"],
                [
                    [
                        r.ref,
                        r.outlet,
                        r.verdict,
                        f"v{r.expected_version}" if r.expected_version else "-",
                        f"v{r.shown_version}" if r.shown_version else "-",
                        r.path or "-",
                        r.detail,
                    ]
                    for r in rows
                ],
            )
        )
        for name, problem in sorted(problems.items()):
            typer.echo(f"note: outlet {name} not checked: {problem}", err=True)
        typer.echo(
            f"\n{len(rows) - len(bad)} consistent, {len(bad)} mismatched "
            f"({len({r.outlet for r in rows})} outlets)"
        )
    if bad:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the Merkle-log commands to the `audit` app."""
    app.command("checkpoint")(checkpoint_command)
    app.command("checkpoints")(list_checkpoints)
    app.command("pubkey")(pubkey)
    app.command("rotate-key")(rotate_key_command)
    app.command("verify")(verify_command)
    app.command("export")(export_command)
    app.command("prove")(prove_command)
    app.command("consistency")(consistency_command)
    app.command("reindex")(reindex_command)
