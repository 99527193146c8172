"""The web page: a chat over the same Answerer as the API, rendered server-side so it works
without JavaScript, and the source view that shows a cited passage inside its whole article."""

from __future__ import annotations

from typing import Iterable, NamedTuple

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.http import HTTP_STATUS_CODES

from .api import service, validate_question, validate_top_k
from .errors import BadRequest, QAError

bp = Blueprint("web", __name__)

# What a person is told, by error code, before the API's own message (also used by app.js).
ERROR_LEADS = {
    "bad_request": "That question could not be asked.",
    "index_unavailable": "The articles cannot be searched right now.",
    "unreachable": "The server could not be reached. Check the connection and try again.",
    "default": "The question was not answered.",
}


class Piece(NamedTuple):
    text: str
    marked: bool


@bp.app_template_global()
def pieces(text: str, spans: Iterable[dict]) -> list[Piece]:
    """Cut `text` at `highlights`-style offsets ({"start", "end"}) into plain and marked pieces,
    so a highlight is marked without searching for its string (overlapping or out-of-range
    spans are dropped)."""
    out: list[Piece] = []
    pos = 0
    for start, end in sorted((s["start"], s["end"]) for s in spans):
        if start < pos or end > len(text) or start >= end:
            continue
        if start > pos:
            out.append(Piece(text[pos:start], False))
        out.append(Piece(text[start:end], True))
        pos = end
    if pos < len(text) or not out:
        out.append(Piece(text[pos:], False))
    return out


def error_reply(exc: QAError) -> dict:
    """An error as a reply in the conversation: a plain lead, then the detail."""
    return {"code": exc.code, "lead": ERROR_LEADS.get(exc.code, ERROR_LEADS["default"]),
            "message": exc.message}


@bp.app_template_global()
def web_url(url: str | None) -> str | None:
    """An article's own URL if it is a web address; anything else (javascript:, data:) is dropped."""
    return url if url and url.lower().startswith(("https://", "http://")) else None


def corpus() -> tuple[dict | None, dict | None]:
    """What the index holds (for the empty state), or the reason it cannot be used."""
    try:
        index = service().answerer().index
    except QAError as exc:
        return None, error_reply(exc)
    return {"articles": index.manifest["counts"]["articles"], **index.store.summary()}, None


@bp.get("/")
def home():
    summary, unavailable = corpus()
    turn, status = None, 200
    question = request.args.get("q")
    if question is not None:
        try:
            top_k = validate_top_k(request.args.get("top_k"), from_query=True)
            result = service().answerer().ask(validate_question(question), top_k)
            turn = {"question": question, "result": result.to_dict()}
        except QAError as exc:
            turn, status = {"question": question, "error": error_reply(exc)}, exc.status
    return render_template("index.html", summary=summary, unavailable=unavailable, turn=turn,
                           examples=current_app.config["QA"].web.examples, error_leads=ERROR_LEADS), status


def _offset(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise BadRequest(f"'{name}' must be a character offset (a whole number)")
    return int(value)


@bp.get("/articles/<path:doc_id>")
def article(doc_id: str):
    store = service().answerer().index.store
    found = store.article(doc_id)
    if found is None:
        abort(404, description=f"There is no article with the id “{doc_id}” in the index.")
    start, end, chunk_id = _offset("start"), _offset("end"), _offset("chunk")
    if chunk_id is not None and (start is None or end is None):
        row = store.chunks([chunk_id]).get(chunk_id)
        if row is None or row.doc_id != doc_id:
            abort(404, description=f"The article “{doc_id}” has no passage {chunk_id}.")
        start, end = row.start, row.end
    body = found.text[found.body_start:]
    spans = []
    if start is not None or end is not None:
        if start is None or end is None or not found.body_start <= start < end <= len(found.text):
            raise BadRequest(f"the passage {start}–{end} is not inside this article "
                             f"(its text runs from {found.body_start} to {len(found.text)})")
        spans = [{"start": start - found.body_start, "end": end - found.body_start}]
    mark_id = f"chunk-{chunk_id}" if chunk_id is not None else "passage"
    return render_template("article.html", article=found, parts=pieces(body, spans), mark_id=mark_id)


PAGE_TITLES = {
    400: "That address is not valid",
    404: "Page not found",
    405: "That cannot be done here",
    500: "Something went wrong",
    503: "The articles cannot be searched right now",
}


def error_page(status: int, message: str) -> tuple[str, int]:
    """Any non-API error as a page in the site's style (the API keeps its JSON errors)."""
    title = PAGE_TITLES.get(status, HTTP_STATUS_CODES.get(status, "Error"))
    return render_template("error.html", status=status, title=title, message=message), status
