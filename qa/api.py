"""The JSON API: /api/ask and /api/health. Every error is the one JSON shape of errors.py."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from .errors import BadRequest, QAError

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def service():
    return current_app.extensions["qa"]


def validate_question(value: Any) -> str:
    """A usable question, or a 400 that says what is wrong with it."""
    if value is None:
        raise BadRequest("missing 'question'")
    if not isinstance(value, str):
        raise BadRequest("'question' must be a string")
    if not value.strip():
        raise BadRequest("'question' is empty")
    if len(value) > MAX_QUESTION_CHARS:
        raise BadRequest(f"'question' is {len(value)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if _CONTROL.search(value):
        raise BadRequest("'question' contains control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("'question' is not valid Unicode (lone surrogate)") from None
    return value


def validate_top_k(value: Any, *, from_query: bool) -> int:
    default = current_app.config["QA"].search.top_k
    if value is None:
        return default
    if from_query:
        if not re.fullmatch(r"\d{1,3}", value):
            raise BadRequest("'top_k' must be an integer from 1 to 50")
        value = int(value)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("'top_k' must be an integer from 1 to 50")
    if not 1 <= value <= MAX_TOP_K:
        raise BadRequest(f"'top_k' must be an integer from 1 to {MAX_TOP_K}")
    return value


def _json_body() -> dict:
    if not request.mimetype or request.mimetype != "application/json":
        raise QAError("send the question as JSON with 'Content-Type: application/json'",
                      code="unsupported_media_type", status=415)
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


@bp.route("/ask", methods=["GET", "POST"])
def ask():
    if request.method == "POST":
        body = _json_body()
        question = validate_question(body.get("question"))
        top_k = validate_top_k(body.get("top_k"), from_query=False)
    else:
        question = validate_question(request.args.get("q", request.args.get("question")))
        top_k = validate_top_k(request.args.get("top_k"), from_query=True)
    result = g.result = service().answerer().ask(question, top_k)  # g.result: for the request log line
    return jsonify(result.to_dict())


@bp.get("/health")
def health():
    answerer = service().answerer()
    manifest = answerer.index.manifest
    return jsonify({
        "status": "ok",
        "index": {
            "articles": manifest["counts"]["articles"],
            "chunks": manifest["counts"]["chunks"],
            "model": manifest["model"],
            "built_at": manifest["built_at"],
            "version": manifest["version"],
            **answerer.index.store.summary(),
        },
    })
