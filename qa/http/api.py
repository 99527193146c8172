"""The JSON API: /api/ask, /api/cite and /api/health. Every error is the one JSON shape of errors.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, g, jsonify, request

from qa.asking.passages import arrange
from qa.cite import MEDIA_TYPES, reference
from qa.errors import BadRequest, NotFound, QAError
from qa.models import Result
from qa.validation import AskRequest, validate_ask, validate_ask_query, validate_style

if TYPE_CHECKING:
    from qa.asking.service import Service

bp = Blueprint("api", __name__, url_prefix="/api")


def service() -> "Service":
    return current_app.extensions["qa"]


def json_body() -> dict:
    """The request's JSON object; 415 unless it says it is JSON, 400 unless it is an object."""
    if not request.mimetype or request.mimetype != "application/json":
        raise QAError("send the question as JSON with 'Content-Type: application/json'",
                      code="unsupported_media_type", status=415)
    try:
        body = json.loads(request.get_data().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def read_ask() -> AskRequest:
    """This request's question: its JSON body (POST) or its query string (GET)."""
    default = current_app.config["QA"].search.top_k
    if request.method == "POST":
        return validate_ask(json_body(), default_top_k=default)
    return validate_ask_query(request.args.to_dict(flat=False), default_top_k=default)


def answer(asked: AskRequest) -> Result:
    """Ask the Answerer in service (passages grouped when asked); the result is kept on `g` for the
    request's log line."""
    result = service().answerer().ask(asked.question, asked.top_k, history=asked.history, filters=asked.filters)
    g.result = arrange(result, asked.group_by)
    return g.result


@bp.route("/ask", methods=["GET", "POST"])
def ask() -> Response:
    return jsonify(answer(read_ask()).to_dict())


@bp.get("/cite")
def cite() -> Response:
    """One article's reference in a citation style, as that style's own media type."""
    doc_id = request.args.get("doc_id")
    if not doc_id:
        raise BadRequest("missing 'doc_id': the article to cite")
    style = validate_style(request.args.get("style"))
    article = service().answerer().articles([doc_id]).get(doc_id)
    if article is None:
        raise NotFound(f"there is no article with the id '{doc_id[:200]}' in the index")
    kind = MEDIA_TYPES[style]
    return Response(reference(article, style), mimetype=kind, content_type=f"{kind}; charset=utf-8")


@bp.get("/health")
def health() -> Response:
    answerer = service().answerer()
    info, summary = answerer.store.info, answerer.store.summary()
    return jsonify({
        "status": "ok",
        "index": {
            "articles": info.articles,
            "chunks": info.chunks,
            "model": info.model,
            "built_at": info.built_at,
            "version": info.version,
            "date_from": summary.date_from,
            "date_to": summary.date_to,
            "sources": list(answerer.outlets.names),
        },
    })
