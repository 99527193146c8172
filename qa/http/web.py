"""The web page: a chat over the same Answerer as the API, and the source view that shows a cited
passage inside its whole article.

A reply is drawn in one place, `templates/_reply.html`: into the page for a question in the URL
(so the page works without JavaScript), and alone for the page's script, which posts the API's
JSON body to /reply and inserts the turn it gets back.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

from flask import (Blueprint, Response, abort, current_app, get_template_attribute, make_response,
                   render_template, request)
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from qa.cite import web_address
from qa.errors import BadRequest, QAError
from qa.http.api import answer, read_ask, service
from qa.models import WEAK_NOTICE, Filters, Result
from qa.validation import (MAX_HISTORY, AskRequest, query_filters, validate_group_by, validate_question,
                           validate_top_k)

bp = Blueprint("web", __name__)

# What a person is told, by error code, before the server's own message.
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


@bp.app_template_global()
def shifted(spans: Iterable[dict], offset: int) -> list[dict]:
    """`highlights`-style offsets moved back by `offset` (into an excerpt that starts there)."""
    return [{"start": s["start"] - offset, "end": s["end"] - offset} for s in spans]


# The citation styles a reader can copy, as the page names them (`GET /api/cite` gives each).
CITE_STYLES = (("apa", "APA"), ("chicago", "Chicago"), ("bibtex", "BibTeX"), ("csl-json", "CSL-JSON"))
bp.add_app_template_global(CITE_STYLES, "cite_styles")
bp.add_app_template_global(WEAK_NOTICE, "weak_notice")
# How the page offers `group_by`: by rank (no grouping), by outlet, or as a timeline.
ARRANGEMENTS = (("", "by relevance"), ("source", "by outlet"), ("date", "by date, oldest first"))


def error_reply(code: str, message: str) -> dict:
    """An error as a reply in the conversation: a plain lead, then the detail."""
    return {"code": code, "lead": ERROR_LEADS.get(code, ERROR_LEADS["default"]), "message": message}


bp.app_template_global("web_url")(web_address)  # an article's URL only if it is a web address


def corpus() -> tuple[Any, list[str], dict | None]:
    """What the index holds (its CorpusSummary and its outlets, merged, for the empty state and the
    outlet filter), or the reason it cannot be used."""
    try:
        answerer = service().answerer()
        return answerer.store.summary(), list(answerer.outlets.names), None
    except QAError as exc:
        return None, [], error_reply(exc.code, exc.message)


def describe_filters(filters: Filters) -> str | None:
    """The line a reply made under filters carries, so a narrowed answer is never taken for the
    whole corpus's."""
    parts = [" or ".join(names) for names in (filters.sources, filters.doc_ids) if names]
    if filters.date_from and filters.date_to:
        parts.append(f"from {filters.date_from} to {filters.date_to}")
    elif filters.date_from:
        parts.append(f"from {filters.date_from}")
    elif filters.date_to:
        parts.append(f"until {filters.date_to}")
    return f"Filtered: {', '.join(parts)}" if parts else None


def link_params(asked: AskRequest) -> dict:
    """The query parameters that ask the question again as it was asked (the answer's own link)."""
    filters = asked.filters
    params = {"q": asked.question, "date_from": filters.date_from, "date_to": filters.date_to,
              "source": list(filters.sources), "doc_id": list(filters.doc_ids), "group_by": asked.group_by}
    return {k: v for k, v in params.items() if v}


def answered_turn(asked: AskRequest, result: Result) -> dict:
    """What _reply.html draws for an answered question (or an abstention)."""
    return {"question": asked.question, "result": result.to_dict(), "filtered": describe_filters(asked.filters),
            "link": link_params(asked)}


def render_turn(turn: dict, status: int = 200) -> Response:
    """One `<li class="turn">` of _reply.html on its own, escaped by Jinja like the page."""
    return Response(get_template_attribute("_reply.html", "turn_item")(turn), status=status, mimetype="text/html")


def _page_turn(question: str, chosen: MultiDict) -> tuple[dict, int]:
    """The turn of a question asked in the page's URL (GET /?q=), and its status."""
    try:
        top_k = validate_top_k(request.args.get("top_k"), default=current_app.config["QA"].search.top_k,
                               from_query=True)
        filters = query_filters(chosen.to_dict(flat=False))
        asked = AskRequest(validate_question(question), top_k, filters=filters,
                           group_by=validate_group_by(chosen.get("group_by")))
        return answered_turn(asked, answer(asked)), 200
    except QAError as exc:
        return {"question": question, "error": error_reply(exc.code, exc.message)}, exc.status


@bp.get("/")
def home() -> tuple[str, int]:
    summary, outlets, unavailable = corpus()
    turn, status = None, 200
    # The no-JS form sends every field, so an empty one means "no filter".
    chosen = MultiDict([(k, v) for k, v in request.args.items(multi=True) if v and k not in ("q", "top_k")])
    question = request.args.get("q")
    if question is not None:
        turn, status = _page_turn(question, chosen)
    return render_template("index.html", summary=summary, unavailable=unavailable, turn=turn, chosen=chosen,
                           outlets=outlets,
                           examples=current_app.config["QA"].web.examples, max_history=MAX_HISTORY,
                           arrangements=ARRANGEMENTS,
                           unreachable=error_reply("unreachable", "")), status


@bp.post("/reply")
def reply() -> Response:
    """The page's script posts the JSON body of POST /api/ask here and inserts the turn it gets
    back; errors come back as turns too, with their status (see app.error_response)."""
    asked = read_ask()
    return render_turn(answered_turn(asked, answer(asked)))


def wants_reply() -> bool:
    """Whether this request is the page's script asking for a rendered turn."""
    return request.endpoint == "web.reply"


def _asked_question() -> str:
    """The question of a /reply request, when its body can still be read (for its error turn)."""
    try:
        body = request.get_json(force=True, silent=True)
    except HTTPException:  # a body over the limit is never read
        return ""
    question = body.get("question") if isinstance(body, dict) else None
    return question if isinstance(question, str) else ""


def error_turn(status: int, code: str, message: str) -> Response:
    """An error of /reply as the turn the page's script inserts."""
    return render_turn({"question": _asked_question(), "error": error_reply(code, message)}, status)


def _offset(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise BadRequest(f"'{name}' must be a character offset (a whole number)")
    return int(value)


@bp.get("/articles/<path:doc_id>")
def article(doc_id: str) -> str:
    answerer = service().answerer()
    store = answerer.store
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
    return render_template("article.html", article=found, outlet=answerer.outlets.name(found.source),
                           parts=pieces(body, spans), mark_id=mark_id)


PAGE_TITLES = {
    400: "That address is not valid",
    404: "Page not found",
    405: "That cannot be done here",
    414: "That address is too long",
    500: "Something went wrong",
    503: "The articles cannot be searched right now",
}


def error_page(status: int, message: str) -> Response:
    """Any non-API error as a page in the site's style (the API keeps its JSON errors)."""
    title = PAGE_TITLES.get(status, HTTP_STATUS_CODES.get(status, "Error"))
    return make_response(render_template("error.html", status=status, title=title, message=message), status)
