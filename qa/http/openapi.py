"""The API's OpenAPI 3 document, served at /api/openapi.json.

Built from the same limits the handlers enforce; tests validate real responses against it
and fuzz the API from it, so it cannot drift silently.
"""

from __future__ import annotations

from typing import Any, get_args

from flask import Blueprint, Response, jsonify

from qa.cite import MEDIA_TYPES
from qa.http.admin import TOKEN_ENV, admin_on
from qa.http.app import MAX_BODY_BYTES, MAX_URL_BYTES
from qa.models import Evidence
from qa.validation import (BLANK_CLASS, CONTROL_CLASS, GROUP_BY, MAX_FILTER_NAMES, MAX_HISTORY,
                           MAX_QUESTION_CHARS, MAX_TOP_K, STYLES)

bp = Blueprint("openapi", __name__, url_prefix="/api")

_NULLABLE_STR = {"type": ["string", "null"]}
# What validation.validate_question accepts: no control characters (tab, CR, LF allowed) and at
# least one character that is neither blank (as Python's strip sees it) nor control.
_ALLOWED = rf"[^{CONTROL_CLASS}]"
_QUESTION = rf"^{_ALLOWED}*[^{BLANK_CLASS}{CONTROL_CLASS}]{_ALLOWED}*$"
_DATE = {"oneOf": [{"type": "string", "format": "date"}, {"type": "null"}]}
_NAME = {"type": "string", "pattern": rf"[^{BLANK_CLASS}]"}  # not blank (as Python's strip sees it)
_NAME_LIST = {"type": "array", "items": _NAME, "maxItems": MAX_FILTER_NAMES}
_NAMES = {"oneOf": [_NAME, _NAME_LIST, {"type": "null"}]}
_OFFSET = {"type": "integer", "minimum": 0}
_INDEX = {"type": "integer", "minimum": 0}
_GROUP_BY = {"enum": ["", *GROUP_BY],
             "description": "`source`: the passages also grouped by outlet; `date`: by date, oldest first; "
                            "empty: not grouped."}


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
        "group_by": {"oneOf": [_GROUP_BY, {"type": "null"}]},
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
        "excerpt": _ref("Span"),
    }, description="Verbatim text of one article; overlapping chunks are merged into one passage. "
                   "`highlights` mark its answering sentences, `excerpt` the best one with its neighbours."),
    "Alternative": _obj({"text": {"type": "string"}, "passage": _INDEX, "citation": _ref("Citation")},
                        description="A sentence of another article giving another value (count, date, name) "
                                    "than the answer, verbatim; `passage` indexes `passages`."),
    "Answer": _obj({
        "text": {"type": "string"}, "passage": _INDEX,
        "citation": _ref("Citation"), "score": {"type": "number"},
        "alternatives": {"type": "array", "items": _ref("Alternative"),
                         "description": "Where the sources differ, one sentence per other value, the value "
                                        "most articles give first; empty when they agree."},
    }, description="The one sentence, verbatim, that best answers; `passage` indexes `passages`."),
    "Group": _obj({
        "key": _NULLABLE_STR, "sources": {"type": "array", "items": {"type": "string"}},
        "dates": {"type": "array", "items": {"type": "string"}},
        "passages": {"type": "array", "items": _INDEX},
    }, description="The passages of one outlet or one date (`key`; null: not stated), indexes into `passages`."),
    "Result": _obj({
        "question": {"type": "string"}, "abstained": {"type": "boolean"},
        "evidence": {"enum": list(get_args(Evidence)),
                     "description": "`strong`: `answer` quotes the sentence that best answers. `weak`: the "
                                    "articles may not answer; `passages` are the closest ones and `answer` is "
                                    "null. `none`: abstained, nothing quoted."},
        "answer": {"oneOf": [_ref("Answer"), {"type": "null"}]},
        "passages": {"type": "array", "items": _ref("Passage")}, "took_ms": {"type": "number", "minimum": 0},
        "group_by": {"enum": [*GROUP_BY, None]},
        "groups": {"oneOf": [{"type": "array", "items": _ref("Group")}, {"type": "null"}],
                   "description": "Present when `group_by` was asked for: by outlet, or by date oldest first."},
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

# Any request under /api may come with an address over the limit (the question in a GET).
_URL_TOO_LONG = {"414": _error(f"The URL is over {MAX_URL_BYTES:,} bytes (send a long question with POST).")}
_ASK_RESPONSES = {
    "200": {"description": "Cited, verbatim passages (with the answering sentence when the evidence is "
                           "strong), or an abstention.",
            "content": {"application/json": {"schema": _ref("Result")}}},
    "400": _error("Invalid question or top_k, or a body that is not a JSON object."),
    **_URL_TOO_LONG,
    "429": _error("Too many requests from this address (when server.rate_limit is set)."),
    "503": _error("No usable index; the message says to run `qa index build`."),
}
_QUESTION_SCHEMA = SCHEMAS["AskRequest"]["properties"]["question"]
_ASK_GET = {
    "summary": "Ask a question (query string).",
    "parameters": [
        {"name": "q", "in": "query", "required": True, "schema": _QUESTION_SCHEMA},
        {"name": "top_k", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K}},
        {"name": "history", "in": "query", "description": "Repeat for each earlier question.",
         "schema": {"type": "array", "items": _QUESTION_SCHEMA}},
        {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "source", "in": "query", "schema": _NAME_LIST},
        {"name": "doc_id", "in": "query", "schema": _NAME_LIST},
        {"name": "group_by", "in": "query", "schema": _GROUP_BY},
    ],
    "responses": _ASK_RESPONSES,
}
_ASK_POST = {
    "summary": "Ask a question (JSON body).",
    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("AskRequest")}}},
    "responses": {**_ASK_RESPONSES,
                  "413": _error(f"Body over {MAX_BODY_BYTES // 1024} KiB."),
                  "415": _error("Content-Type is not application/json.")},
}
_TEXT = {"schema": {"type": "string"}}
_CITE = {
    "summary": "One article's reference in a citation style, to take away.",
    "description": "BibTeX (pybtex), APA and Chicago (citeproc-py, CSL styles `apa` and "
                   "`chicago-notes-bibliography-16th-edition`), or the CSL-JSON item they are made from.",
    "parameters": [
        {"name": "doc_id", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1},
         "description": "The article: a citation's `doc_id`."},
        {"name": "style", "in": "query", "required": True, "schema": {"enum": list(STYLES)}},
    ],
    "responses": {
        "200": {"description": "The reference, in the style's own media type.",
                "content": {MEDIA_TYPES["bibtex"]: _TEXT, "text/plain": _TEXT,
                            MEDIA_TYPES["csl-json"]: {"schema": {"type": "array", "items": {"type": "object"}}}}},
        "400": _error("Missing `doc_id`, or a style not among " + ", ".join(STYLES) + "."),
        "404": _error("No article with that id in the index."),
        **_URL_TOO_LONG,
        "503": _error("No usable index."),
    },
}
_HEALTH = {
    "summary": "The index version in service.",
    "responses": {"200": {"description": "Serving.", "content": {"application/json": {"schema": _ref("Health")}}},
                  **_URL_TOO_LONG,
                  "503": _error("No usable index.")},
}
_RELOAD = {
    "summary": "Serve the version index/CURRENT names now (in-flight requests finish on theirs).",
    "description": f"Listed only when {TOKEN_ENV} is set in the server's environment (else the path is a 404).",
    "security": [{"bearer": []}],
    "responses": {"200": {"description": "The version now served.",
                          "content": {"application/json": {"schema": _ref("Reload")}}},
                  "401": _error("Missing or wrong token."),
                  **_URL_TOO_LONG,
                  "503": _error("The new version is unusable; the old one is still served.")},
}


def spec(*, admin: bool) -> dict:
    """The OpenAPI 3.1 document of the server as configured: the admin path only when `admin`
    is on, so a client (or a fuzzer) is never promised an endpoint that answers 404."""
    paths: dict[str, Any] = {"/api/ask": {"get": _ASK_GET, "post": _ASK_POST}, "/api/cite": {"get": _CITE},
                             "/api/health": {"get": _HEALTH}}
    components: dict[str, Any] = {"schemas": SCHEMAS}
    if admin:
        paths["/api/admin/reload"] = {"post": _RELOAD}
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "newsqa", "version": "1",
                 "description": "Answers are passages quoted verbatim from news articles, each with a citation."},
        "paths": paths,
        "components": components,
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(spec(admin=admin_on()))
