"""The API's OpenAPI 3 document, served at /api/openapi.json.

Built from the same limits the handlers enforce; tests validate real responses against it
and fuzz the API from it, so it cannot drift silently.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from qa.http.admin import TOKEN_ENV
from qa.http.api import MAX_HISTORY, MAX_QUESTION_CHARS, MAX_TOP_K

bp = Blueprint("openapi", __name__, url_prefix="/api")

_NULLABLE_STR = {"type": ["string", "null"]}
# What api.validate_question accepts: no control characters (tab, CR, LF allowed) and at least
# one character that is neither blank nor control (U+0085 is blank to Python, not to \s).
_ALLOWED = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_QUESTION = rf"^{_ALLOWED}*[^\s\x00-\x1f\x7f\x85]{_ALLOWED}*$"
_DATE = {"oneOf": [{"type": "string", "format": "date"}, {"type": "null"}]}
_NAME = {"type": "string", "pattern": r"[^\s\x1c-\x1f\x85]"}  # not blank (as Python's strip sees it)
_NAMES = {"oneOf": [_NAME, {"type": "array", "items": _NAME, "maxItems": 50}, {"type": "null"}]}
_OFFSET = {"type": "integer", "minimum": 0}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _obj(properties: dict, required: list[str] | None = None, **extra: Any) -> dict:
    return {"type": "object", "properties": properties, "required": required or list(properties), **extra}


SCHEMAS: dict[str, Any] = {
    "AskRequest": _obj({
        "question": {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": _QUESTION,
                     "description": "The question: not blank, no control characters but tab and line breaks, "
                                    "valid Unicode."},
        "top_k": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_TOP_K,
                  "description": "Passages to return; absent or null: search.top_k from the config."},
        "history": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/AskRequest/properties/question"},
                    "description": f"Earlier questions of the conversation, oldest first; the last {MAX_HISTORY} are used."},
        "filters": {"oneOf": [_ref("Filters"), {"type": "null"}]},
    }, ["question"], additionalProperties=True,
        description="Fields other than these are ignored, so clients may send more."),
    "Filters": {"type": "object", "additionalProperties": False,
                "description": "Restrict the search; each is optional. `date_from` must not be after `date_to`.",
                "properties": {"date_from": _DATE, "date_to": _DATE, "source": _NAMES, "doc_id": _NAMES}},
    "Citation": _obj({
        "doc_id": {"type": "string"}, "title": _NULLABLE_STR, "source": _NULLABLE_STR, "date": _NULLABLE_STR,
        "path": {"type": "string"}, "chunk_id": {"type": "integer", "minimum": 0},
        "start": _OFFSET, "end": _OFFSET, "url": _NULLABLE_STR,
    }, description="Where a quote comes from: `start`/`end` slice the stored article exactly to it."),
    "Span": _obj({"start": _OFFSET, "end": _OFFSET}),
    "Passage": _obj({
        "rank": {"type": "integer", "minimum": 1}, "score": {"type": "number"}, "text": {"type": "string"},
        "citation": _ref("Citation"), "highlights": {"type": "array", "items": _ref("Span")},
    }),
    "Answer": _obj({
        "text": {"type": "string"}, "passage": {"type": "integer", "minimum": 0},
        "citation": _ref("Citation"), "score": {"type": "number"},
    }, description="The one sentence, verbatim, that best answers; `passage` indexes `passages`."),
    "Result": _obj({
        "question": {"type": "string"}, "abstained": {"type": "boolean"},
        "answer": {"oneOf": [_ref("Answer"), {"type": "null"}]},
        "passages": {"type": "array", "items": _ref("Passage")}, "took_ms": {"type": "number", "minimum": 0},
    }),
    "Health": _obj({
        "status": {"const": "ok"},
        "index": {"type": "object", "required": ["version", "model", "articles", "chunks"],
                  "properties": {"version": {"type": "string"}, "model": {"type": "string"},
                                 "articles": {"type": "integer"}, "chunks": {"type": "integer"}}},
    }),
    "Reload": _obj({"version": {"type": ["string", "null"]}, "reloaded": {"type": "boolean"}}),
    "Error": _obj({"error": _obj({"code": {"type": "string"}, "message": {"type": "string"}})}),
}

_ASK_RESPONSES = {
    "200": {"description": "Cited, verbatim passages, or an abstention.",
            "content": {"application/json": {"schema": _ref("Result")}}},
    "400": _error("Invalid question or top_k, or a body that is not a JSON object."),
    "429": _error("Too many requests from this address (when server.rate_limit is set)."),
    "503": _error("No usable index; the message says to run `qa index build`."),
}


def spec() -> dict:
    """The OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "newsqa", "version": "1",
                 "description": "Answers are passages quoted verbatim from news articles, each with a citation."},
        "paths": {
            "/api/ask": {
                "get": {
                    "summary": "Ask a question (query string).",
                    "parameters": [
                        {"name": "q", "in": "query", "required": True,
                         "schema": SCHEMAS["AskRequest"]["properties"]["question"]},
                        {"name": "top_k", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K}},
                        {"name": "history", "in": "query", "description": "Repeat for each earlier question.",
                         "schema": {"type": "array", "items": SCHEMAS["AskRequest"]["properties"]["question"]}},
                        {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "source", "in": "query", "schema": {"type": "array", "items": _NAME, "maxItems": 50}},
                        {"name": "doc_id", "in": "query", "schema": {"type": "array", "items": _NAME, "maxItems": 50}},
                    ],
                    "responses": _ASK_RESPONSES,
                },
                "post": {
                    "summary": "Ask a question (JSON body).",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("AskRequest")}}},
                    "responses": {**_ASK_RESPONSES,
                                  "413": _error("Body over 64 KiB."),
                                  "415": _error("Content-Type is not application/json.")},
                },
            },
            "/api/health": {
                "get": {"summary": "The index version in service.",
                        "responses": {"200": {"description": "Serving.",
                                              "content": {"application/json": {"schema": _ref("Health")}}},
                                      "503": _error("No usable index.")}},
            },
            "/api/admin/reload": {
                "post": {
                    "summary": "Serve the version index/CURRENT names now (in-flight requests finish on theirs).",
                    "description": f"Exists only when {TOKEN_ENV} is set in the server's environment.",
                    "security": [{"bearer": []}],
                    "responses": {"200": {"description": "The version now served.",
                                          "content": {"application/json": {"schema": _ref("Reload")}}},
                                  "401": _error("Missing or wrong token."),
                                  "404": _error(f"Admin endpoints are off ({TOKEN_ENV} not set)."),
                                  "503": _error("The new version is unusable; the old one is still served.")},
                },
            },
        },
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(spec())
