"""A portal backend on syndicate: publish what an editor posts, review it, show where
it went.

A small Flask application (Flask is this example's choice, not a dependency of syndicate):

- `POST /items` with a JSON body holding an item's fields (see docs/items.md) and, optionally,
  `"attachments": [{"name": "名单.pdf", "base64": "…"}]` and `"urgent": "reason"`, publishes
  it once (201 with its REF); invalid content is a 400 naming each field, an item published
  before a 409. When the home reviews before release (先审后发, `[review] levels`), the
  item is submitted for review instead: `released` is false and `awaiting` names the
  level it waits for (`urgent` releases it at once, to be approved afterwards).
- `POST /items/<REF>/revise` (`{"content": {...}, "reason": "…"}`) and
  `POST /items/<REF>/withdraw` (`{"reason": "…", "public_note": "…"}`), submitted for
  review too.
- `GET /items/<REF>/status` (JSON) and `GET /items/<REF>` (an HTML page for the editor):
  the item's state on every outlet, the version live there, attempts and the last error.
- `POST /deliver` delivers what is due now (as `syndicate sync` does), for a backend that
  runs without a separate worker; production runs `syndicate worker` (or
  `Engine.run_worker`) in its own process instead.

The review screen (the reviewer's side of 先审后发):

- `GET /review` (`?level=科室初审`, `?agency=…`; `?overdue=1` for urgent releases awaiting
  approval afterwards): the review queue as JSON, oldest first; a policy and the 解读
  released with it are one entry (the 解读 under `members`).
- `GET /review/<REF>`: the version under review, what outlets show now (`live`) and a
  unified `diff` between them, with the `review_hash` the reviewer approves (for a new
  item its content hash; for a revision or a withdrawal it covers the 更正说明 or the
  withdrawal note too).
- `POST /review/<REF>/approve` `{"level", "content_hash", "comment"?}`: approve the version
  the reviewer read (`content_hash`: the `review_hash` they were shown). A hash that is not the pending version's (the editor changed it
  since) is refused with a 409 and nothing is written, so an approval never releases
  content nobody read. After the last level the version is released (`released`: true)
  and the next delivery sends it.
- `POST /review/<REF>/approve-afterwards` (the same body): approve an urgent release.
- `POST /review/<REF>/return` `{"comment", "level"?, "content_hash"?}`: back to the author.

Errors: 400 for bad input (naming each field), 404 for an unknown item, 409 when a rule
refuses (a stale hash, a skipped level, self-approval, a second level by the same person)
or another reviewer acted first.

Each request opens its own `Engine` (an engine is not thread-safe) and closes it after.
The editor's name comes from the `X-Editor` header here, the reviewer's from
`X-Reviewer` (both percent-encoded UTF-8), only to keep the example short. A real backend
MUST take them from its authenticated login session: syndicate records the name it is
given on every event and checks it against `[review.reviewers]`, but it authenticates
no one, so a backend that trusts a header lets anyone approve as anyone.

Run it: `SYNDICATE_HOME=/srv/disclosure flask --app examples/portal_backend/app.py run`.
"""

from __future__ import annotations

import base64
import binascii
import html
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, jsonify, request

from syndicate import (
    AlreadyPublished,
    Change,
    DomainError,
    Engine,
    InputError,
    ItemContent,
    ItemNotFound,
    PreparedAttachment,
    Problem,
    SyndicateError,
)

__all__ = ["create_app"]

JSON = dict[str, Any]


def _problems(exc: InputError) -> JSON:
    return {"errors": [{"field": p.field, "message": p.message} for p in exc.problems]}


def _attachments(raw: Any) -> list[PreparedAttachment]:
    """`[{"name", "base64", "media_type"?}]` as prepared attachments (InputError if not)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError([Problem("attachments", "must be a list")])
    prepared = []
    for index, entry in enumerate(raw):
        where = f"attachments[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("base64"), str):
            raise InputError([Problem(where, 'needs "name" and "base64"')])
        try:
            data = base64.b64decode(entry["base64"], validate=True)
        except (binascii.Error, ValueError):
            raise InputError([Problem(f"{where}.base64", "is not Base64")]) from None
        try:
            prepared.append(
                PreparedAttachment.from_bytes(
                    data,
                    name=_text(entry, "name"),
                    media_type=entry.get("media_type"),
                )
            )
        except InputError as exc:
            raise InputError(
                [
                    Problem(f"{where}.{p.field}" if p.field else where, p.message)
                    for p in exc.problems
                ]
            ) from None
    return prepared


def _text(data: JSON, key: str, *, default: str | None = None) -> str:
    """`data[key]` if it is text (`default` if it is missing and one is given); an
    `InputError` naming the field otherwise (`null` must not become "None")."""
    value = data.get(key, default)
    if not isinstance(value, str):
        raise InputError([Problem(key, "must be text")])
    return value


def _change(change: Change) -> JSON:
    """What a write answers: the version written, and whether it is public yet."""
    return {
        "ref": change.ref,
        "version": change.version,
        "event": change.event,
        "released": change.released,
        "awaiting": change.awaiting,
    }


def _status_rows(engine: Engine, ref: str) -> list[JSON]:
    return [
        {
            "outlet": row.outlet,
            "state": row.state.value,
            "version": row.version,
            "live_version": row.live_version,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "next_try": row.next_try.isoformat() if row.next_try else None,
        }
        for row in engine.status(ref=ref)
    ]


def create_app(home: Path | str | None = None) -> Flask:
    """The backend for the syndicate home `home` (default: `$SYNDICATE_HOME`)."""
    app = Flask(__name__)
    # Base64 of the largest attachment syndicate takes (100 MB), and the item around it:
    # a larger body is refused (413) before it is read into memory.
    app.config["MAX_CONTENT_LENGTH"] = 140 * 1024 * 1024
    where = Path(home or os.environ.get("SYNDICATE_HOME", "."))

    @contextmanager
    def engine() -> Iterator[Engine]:
        with Engine.open(where) as opened:
            yield opened

    def person(header: str, does: str) -> str:
        # HTTP headers are Latin-1: the name travels percent-encoded as UTF-8. A real
        # backend takes it from its login session instead (module docstring).
        name = unquote(request.headers.get(header, "")).strip()
        if not name:
            raise InputError([Problem(header, f"say who {does} (header {header})")])
        return name

    def editor() -> str:
        return person("X-Editor", "publishes")

    def reviewer() -> str:
        return person("X-Reviewer", "reviews")

    def body() -> JSON:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InputError([Problem("", "the body must be a JSON object")])
        return data

    @app.errorhandler(SyndicateError)
    def refused(exc: SyndicateError) -> tuple[Response, int]:
        if isinstance(exc, InputError):
            return jsonify(_problems(exc)), 400
        if isinstance(exc, ItemNotFound):
            return jsonify({"error": str(exc)}), 404
        if isinstance(exc, AlreadyPublished | DomainError):
            return jsonify({"error": str(exc)}), 409
        return jsonify({"error": str(exc)}), 500

    @app.post("/items")
    def publish() -> tuple[Response, int]:
        data = body()
        attachments = _attachments(data.pop("attachments", None))
        urgent = data.pop("urgent", None)
        if urgent is not None and not isinstance(urgent, str):
            raise InputError([Problem("urgent", "must be text: the reason")])
        by = editor()
        # Attachment metadata is part of the content; the bytes are stored by hash.
        data["attachments"] = [a.meta.model_dump() for a in attachments]
        content = ItemContent.model_validate(data)
        with engine() as opened:
            change = opened.items.publish(
                content, actor=by, attachments=attachments, urgent=urgent
            )
        return jsonify({**_change(change), "item_id": str(change.item_id)}), 201

    @app.post("/items/<path:ref>/revise")
    def revise(ref: str) -> Response:
        data = body()
        by = editor()
        content = ItemContent.model_validate(data.get("content"))
        with engine() as opened:
            change = opened.items.revise(
                ref, content, reason=_text(data, "reason"), actor=by
            )
        return jsonify(_change(change))

    @app.post("/items/<path:ref>/withdraw")
    def withdraw(ref: str) -> Response:
        data = body()
        by = editor()
        with engine() as opened:
            change = opened.items.withdraw(
                ref,
                reason=_text(data, "reason"),
                public_note=_text(data, "public_note", default=""),
                actor=by,
            )
        return jsonify(_change(change))

    @app.get("/items/<path:ref>/status")
    def status(ref: str) -> Response:
        with engine() as opened:
            item = opened.items.get(ref)
            rows = _status_rows(opened, ref)
        return jsonify(
            {
                "ref": ref,
                "version": item.version,
                "status": item.status.value,
                "outlets": rows,
            }
        )

    @app.get("/items/<path:ref>")
    def page(ref: str) -> Response:
        with engine() as opened:
            item = opened.items.get(ref)
            rows = _status_rows(opened, ref)
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape('' if value is None else str(value))}</td>"
                for value in (
                    r["outlet"],
                    r["state"],
                    r["version"],
                    r["live_version"],
                    r["attempts"],
                    r["last_error"],
                )
            )
            + "</tr>"
            for r in rows
        )
        title = html.escape(item.content.title)
        return Response(
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
            f"<title>{title}</title><h1>{title}</h1>"
            f"<p>第 {item.version} 版</p>"
            "<table><tr><th>渠道</th><th>状态</th><th>版本</th><th>已上线版本</th>"
            f"<th>尝试次数</th><th>最近错误</th></tr>{cells}</table>",
            mimetype="text/html",
        )

    @app.post("/deliver")
    def deliver() -> Response:
        with engine() as opened:
            result = opened.sync()
        return jsonify({"ok": result.ok, "outcomes": dict(result.outcomes)})

    # -- the review screen -------------------------------------------------------------

    @app.get("/review")
    def review_queue() -> Response:
        overdue = request.args.get("overdue", "") in ("1", "true", "yes")
        with engine() as opened:
            entries = opened.items.reviews(
                level=request.args.get("level") or None,
                overdue=overdue,
                agency=request.args.get("agency") or None,
            )
        return jsonify([entry.as_json() for entry in entries])

    @app.get("/review/<path:ref>")
    def review_one(ref: str) -> Response:
        with engine() as opened:
            detail = opened.items.review(ref)
        return jsonify(detail.as_json())

    @app.post("/review/<path:ref>/approve")
    def approve(ref: str) -> Response:
        data = body()
        by = reviewer()
        with engine() as opened:
            change = opened.items.approve(
                ref,
                level=_text(data, "level"),
                content_hash=_text(data, "content_hash"),
                comment=_text(data, "comment", default=""),
                actor=by,
            )
        return jsonify(_change(change))

    @app.post("/review/<path:ref>/approve-afterwards")
    def approve_afterwards(ref: str) -> Response:
        data = body()
        by = reviewer()
        with engine() as opened:
            change = opened.items.approve_afterwards(
                ref,
                level=_text(data, "level"),
                content_hash=_text(data, "content_hash"),
                comment=_text(data, "comment", default=""),
                actor=by,
            )
        return jsonify(_change(change))

    @app.post("/review/<path:ref>/return")
    def return_to_author(ref: str) -> Response:
        data = body()
        by = reviewer()
        level = data.get("level")
        digest = data.get("content_hash")
        with engine() as opened:
            change = opened.items.return_to_author(
                ref,
                comment=_text(data, "comment"),
                level=None if level is None else _text(data, "level"),
                content_hash=None if digest is None else _text(data, "content_hash"),
                actor=by,
            )
        return jsonify(_change(change))

    return app
