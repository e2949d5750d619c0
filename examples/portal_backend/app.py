"""A portal backend on syndicate: publish what an editor posts, show where it went.

A small Flask application (Flask is this example's choice, not a dependency of syndicate):

- `POST /items` with a JSON body holding an item's fields (see docs/items.md) and, optionally,
  `"attachments": [{"name": "名单.pdf", "base64": "…"}]`, publishes it once (201 with its
  REF); invalid content is a 400 naming each field, an item published before a 409.
- `POST /items/<REF>/revise` (`{"content": {...}, "reason": "…"}`) and
  `POST /items/<REF>/withdraw` (`{"reason": "…", "public_note": "…"}`).
- `GET /items/<REF>/status` (JSON) and `GET /items/<REF>` (an HTML page for the editor):
  the item's state on every outlet, the version live there, attempts and the last error.
- `POST /deliver` delivers what is due now (as `syndicate sync` does), for a backend that
  runs without a separate worker; production runs `syndicate worker` (or
  `Engine.run_worker`) in its own process instead.

Each request opens its own `Engine` (an engine is not thread-safe) and closes it after.
The editor's name comes from the `X-Editor` header here (percent-encoded UTF-8); a real
backend takes it from its login session, since syndicate records it on every event.

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

    def editor() -> str:
        # HTTP headers are Latin-1: the name travels percent-encoded as UTF-8.
        name = unquote(request.headers.get("X-Editor", "")).strip()
        if not name:
            raise InputError(
                [Problem("X-Editor", "say who publishes (header X-Editor)")]
            )
        return name

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
        by = editor()
        # Attachment metadata is part of the content; the bytes are stored by hash.
        data["attachments"] = [a.meta.model_dump() for a in attachments]
        content = ItemContent.model_validate(data)
        with engine() as opened:
            change = opened.items.publish(content, actor=by, attachments=attachments)
        return jsonify(
            {
                "ref": change.ref,
                "item_id": str(change.item_id),
                "version": change.version,
            }
        ), 201

    @app.post("/items/<path:ref>/revise")
    def revise(ref: str) -> Response:
        data = body()
        by = editor()
        content = ItemContent.model_validate(data.get("content"))
        with engine() as opened:
            change = opened.items.revise(
                ref, content, reason=_text(data, "reason"), actor=by
            )
        return jsonify({"ref": change.ref, "version": change.version})

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
        return jsonify({"ref": change.ref, "version": change.version})

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

    return app
