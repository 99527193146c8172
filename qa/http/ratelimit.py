"""Rate limiting per client address (flask-limiter), on the endpoints that answer questions."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from qa.errors import ConfigError

# The API and the page's answers (GET /?q=..., and POST /reply for its script) draw on one
# allowance per address.
LIMITED_ENDPOINTS = ("api.ask", "web.home", "web.reply")


def _no_question() -> bool:
    """The page without a question (the empty chat) costs nothing and is not counted."""
    return request.endpoint == "web.home" and not request.args.get("q")


def init_app(app: Flask, rate: str) -> Limiter | None:
    """Limit questions to `rate` per client address (e.g. "60/minute"); empty turns it off.

    Counts live in each worker process's memory: with N gunicorn workers a client may get up
    to N times the rate. Over the limit the API answers 429 with a Retry-After header.
    """
    if not rate:
        return None
    try:
        parse_many(rate)
    except ValueError as exc:
        raise ConfigError(f"config: 'server.rate_limit' is not a rate like '60/minute': {exc}") from None
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", headers_enabled=True)
    shared = limiter.shared_limit(rate, scope="questions", exempt_when=_no_question)
    for endpoint in LIMITED_ENDPOINTS:
        app.view_functions[endpoint] = shared(app.view_functions[endpoint])
    return limiter
