"""What a question may be, checked once for every way in: the JSON API, the web page, `qa ask`
and evaluation question files. Free of Flask, so the command line and the evaluation use it
without a web stack; the OpenAPI document is built from the same limits and character rules,
so it cannot promise what the checks refuse.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from qa.errors import BadRequest
from qa.models import Filters

MAX_TOP_K = 50
MAX_QUESTION_CHARS = 2000
MAX_HISTORY = 10  # earlier questions used; older ones are dropped
MAX_FILTER_NAMES = 50  # outlets or article ids in one filter

# Characters a question may not hold, as the inside of a regular-expression class: the C0
# controls but tab, line feed and carriage return, and DEL. The check below and the OpenAPI
# pattern are both built from it.
CONTROL_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
# What Python's str.strip() removes beyond what a JSON Schema (ECMA-262) \s matches.
BLANK_CLASS = r"\s\x1c-\x1f\x85"

FILTER_KEYS = ("date_from", "date_to", "source", "doc_id")
GROUP_BY = ("source", "date")  # passages grouped by outlet, or by date as a timeline
STYLES = ("bibtex", "apa", "chicago", "csl-json")  # citation styles /api/cite and `qa ask --cite` give
LIST_FILTER_KEYS = ("source", "doc_id")  # may repeat in a query string

_CONTROL = re.compile(f"[{CONTROL_CLASS}]")
_TOP_K = f"'top_k' must be an integer from 1 to {MAX_TOP_K}"


@dataclass(frozen=True)
class AskRequest:
    """One checked request to answer a question (the API's POST body or GET query)."""

    question: str
    top_k: int
    history: tuple[str, ...] = ()
    filters: Filters = Filters()
    group_by: str | None = None


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


def validate_top_k(value: Any, *, default: int, from_query: bool = False) -> int:
    """Passages to return: `default` when absent; from a query string it is text."""
    if value is None:
        return default
    if from_query:
        if not isinstance(value, str) or not re.fullmatch(r"\d{1,3}", value):
            raise BadRequest(_TOP_K)
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one number type: 6.0 is the integer 6 (as JSON Schema says)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(_TOP_K)
    if not 1 <= value <= MAX_TOP_K:
        raise BadRequest(_TOP_K)
    return value


def validate_group_by(value: Any) -> str | None:
    """`group_by`: "source" (passages by outlet) or "date" (a timeline); absent or empty: by rank."""
    if value is None or value == "":
        return None
    if value not in GROUP_BY:
        raise BadRequest(f"'group_by' must be one of {', '.join(GROUP_BY)}")
    return value


def validate_style(value: Any) -> str:
    """A citation style: one of STYLES."""
    if value not in STYLES:
        raise BadRequest(f"'style' must be one of {', '.join(STYLES)}")
    return value


def validate_history(value: Any) -> tuple[str, ...]:
    """`history`: the conversation's earlier questions, oldest first. Every item is checked, as the
    OpenAPI document says, though only the last ten are used."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest("'history' must be a list of earlier questions")
    try:
        return tuple(validate_question(q) for q in value)[-MAX_HISTORY:]
    except BadRequest as exc:
        raise BadRequest(f"'history': {exc.message.replace(chr(39) + 'question' + chr(39), 'each item')}") from None


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
    if (not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values)
            or len(values) > MAX_FILTER_NAMES):
        raise BadRequest(f"filter '{key}' must be a non-empty string or a list of up to {MAX_FILTER_NAMES} of them")
    return tuple(v.strip() for v in values)


def validate_filters(value: Any) -> Filters:
    """`filters`: {"date_from", "date_to", "source", "doc_id"}, each optional."""
    if value is None:
        return Filters()
    if not isinstance(value, dict):
        raise BadRequest("'filters' must be an object")
    unknown = sorted(set(value) - set(FILTER_KEYS))
    if unknown:
        raise BadRequest(f"unknown filter '{unknown[0]}'; filters are {', '.join(sorted(FILTER_KEYS))}")
    filters = Filters(date_from=_date(value.get("date_from"), "date_from"),
                      date_to=_date(value.get("date_to"), "date_to"),
                      sources=_names(value.get("source"), "source"), doc_ids=_names(value.get("doc_id"), "doc_id"))
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise BadRequest("filter 'date_from' is after 'date_to'")
    return filters


def query_filters(params: Mapping[str, Sequence[str]]) -> Filters:
    """Filters from query parameters of the same names, each mapped to all its values
    (`source` and `doc_id` may repeat; of the dates the first counts)."""
    return validate_filters({k: (list(params[k]) if k in LIST_FILTER_KEYS else params[k][0])
                             for k in FILTER_KEYS if params.get(k)} or None)


def validate_ask(body: Mapping[str, Any], *, default_top_k: int) -> AskRequest:
    """The JSON body of a question (fields other than these are ignored)."""
    return AskRequest(question=validate_question(body.get("question")),
                      top_k=validate_top_k(body.get("top_k"), default=default_top_k),
                      history=validate_history(body.get("history")),
                      filters=validate_filters(body.get("filters")),
                      group_by=validate_group_by(body.get("group_by")))


def validate_ask_query(params: Mapping[str, Sequence[str]], *, default_top_k: int) -> AskRequest:
    """The query-string form of a question: `q` (or `question`), `top_k`, `history` repeated
    once per earlier question, the filters and `group_by`; each name mapped to all its values."""
    def first(name: str) -> str | None:
        return params[name][0] if params.get(name) else None

    return AskRequest(question=validate_question(first("q") if params.get("q") else first("question")),
                      top_k=validate_top_k(first("top_k"), default=default_top_k, from_query=True),
                      history=validate_history(list(params.get("history") or ()) or None),
                      filters=query_filters(params),
                      group_by=validate_group_by(first("group_by")))
