"""Rate limiting per client address (flask-limiter), on the question endpoint only."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from .errors import ConfigError

LIMITED_ENDPOINT = "api.ask"


def init_app(app: Flask, rate: str) -> Limiter | None:
    """Limit /api/ask to `rate` per client address (e.g. "60/minute"); empty turns it off.

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
    app.view_functions[LIMITED_ENDPOINT] = limiter.limit(rate)(app.view_functions[LIMITED_ENDPOINT])
    return limiter
