"""The JSON API: /api/ask and /api/health. Every error is the one JSON shape of errors.py."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.datastructures import MultiDict

from qa.errors import BadRequest, QAError
from qa.models import Filters

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
    elif isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one number type: 6.0 is the integer 6 (as JSON Schema says)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("'top_k' must be an integer from 1 to 50")
    if not 1 <= value <= MAX_TOP_K:
        raise BadRequest(f"'top_k' must be an integer from 1 to {MAX_TOP_K}")
    return value


MAX_HISTORY = 10
_FILTER_KEYS = {"date_from", "date_to", "source", "doc_id"}


def _date(value: Any, key: str) -> str | None:
    """A calendar date written YYYY-MM-DD (the OpenAPI `date` format); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"filter '{key}' must be a date string YYYY-MM-DD")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadRequest(f"filter '{key}' must be a date YYYY-MM-DD, got {value[:40]!r}") from None


def _names(value: Any, key: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if value is None:
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values) or len(values) > 50:
        raise BadRequest(f"filter '{key}' must be a non-empty string or a list of up to 50 of them")
    return tuple(v.strip() for v in values)


def validate_filters(value: Any) -> Filters:
    """`filters`: {"date_from", "date_to", "source", "doc_id"}, each optional."""
    if value is None:
        return Filters()
    if not isinstance(value, dict):
        raise BadRequest("'filters' must be an object")
    unknown = sorted(set(value) - _FILTER_KEYS)
    if unknown:
        raise BadRequest(f"unknown filter '{unknown[0]}'; filters are {', '.join(sorted(_FILTER_KEYS))}")
    filters = Filters(date_from=_date(value.get("date_from"), "date_from"), date_to=_date(value.get("date_to"), "date_to"),
                      sources=_names(value.get("source"), "source"), doc_ids=_names(value.get("doc_id"), "doc_id"))
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise BadRequest("filter 'date_from' is after 'date_to'")
    return filters


def query_filters(args: MultiDict) -> Filters:
    """Filters from query parameters of the same names (`source` and `doc_id` may repeat)."""
    return validate_filters({k: (args.getlist(k) if k in ("source", "doc_id") else args.get(k))
                             for k in _FILTER_KEYS if k in args} or None)


def validate_history(value: Any) -> tuple[str, ...]:
    """`history`: the conversation's earlier questions, oldest first (the last ten are used)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest("'history' must be a list of earlier questions")
    try:
        return tuple(validate_question(q) for q in value[-MAX_HISTORY:])
    except BadRequest as exc:
        raise BadRequest(f"'history': {exc.message.replace(chr(39) + 'question' + chr(39), 'each item')}") from None


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
        history = validate_history(body.get("history"))
        filters = validate_filters(body.get("filters"))
    else:
        args = request.args
        question = validate_question(args.get("q", args.get("question")))
        top_k = validate_top_k(args.get("top_k"), from_query=True)
        history = validate_history(args.getlist("history") or None)
        filters = query_filters(args)
    # g.result: for the request log line
    result = g.result = service().answerer().ask(question, top_k, history=history, filters=filters)
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
