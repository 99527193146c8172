"""The web page: a chat over the same Answerer as the API, rendered server-side so it works
without JavaScript, and the source view that shows a cited passage inside its whole article."""

from __future__ import annotations

from typing import Iterable, NamedTuple

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.http import HTTP_STATUS_CODES

from qa.http.api import query_filters, service, validate_question, validate_top_k
from qa.errors import BadRequest, QAError
from qa.models import Filters

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


def describe_filters(filters: Filters) -> str | None:
    """The line a reply made under filters carries, so a narrowed answer is never taken for the
    whole corpus's (app.js words it the same way)."""
    parts = [" or ".join(names) for names in (filters.sources, filters.doc_ids) if names]
    if filters.date_from and filters.date_to:
        parts.append(f"from {filters.date_from} to {filters.date_to}")
    elif filters.date_from:
        parts.append(f"from {filters.date_from}")
    elif filters.date_to:
        parts.append(f"until {filters.date_to}")
    return f"Filtered: {', '.join(parts)}" if parts else None


def outlets(sources: list[str]) -> list[str]:
    """The outlet filter's choices: an outlet filter ignores case, so "AzerNEWS" and "Azernews"
    are one choice (the index's most common spelling, which summary() lists first)."""
    first: dict[str, str] = {}
    for source in sources:
        first.setdefault(source.lower(), source)
    return list(first.values())


def filter_params(filters: Filters) -> dict:
    """Filters as the query parameters that ask for them again (for the answer's own link)."""
    params = {"date_from": filters.date_from, "date_to": filters.date_to,
              "source": list(filters.sources), "doc_id": list(filters.doc_ids)}
    return {k: v for k, v in params.items() if v}


@bp.get("/")
def home():
    summary, unavailable = corpus()
    turn, status = None, 200
    # The no-JS form sends every field, so an empty one means "no filter".
    chosen = MultiDict([(k, v) for k, v in request.args.items(multi=True) if v and k not in ("q", "top_k")])
    question = request.args.get("q")
    if question is not None:
        try:
            top_k = validate_top_k(request.args.get("top_k"), from_query=True)
            filters = query_filters(chosen)
            result = service().answerer().ask(validate_question(question), top_k, filters=filters)
            turn = {"question": question, "result": result.to_dict(), "filtered": describe_filters(filters),
                    "link": {"q": question, **filter_params(filters)}}
        except QAError as exc:
            turn, status = {"question": question, "error": error_reply(exc)}, exc.status
    return render_template("index.html", summary=summary, unavailable=unavailable, turn=turn, chosen=chosen,
                           outlets=outlets(summary["sources"]) if summary else [],
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
