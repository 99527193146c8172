"""The Flask application factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from qa.config import Config
from qa.errors import QAError, error_payload
from qa.http import web

if TYPE_CHECKING:
    from qa.asking.service import Service

MAX_BODY_BYTES = 64 * 1024
# The longest URL (path and query string) answered: room for a GET question of 2,000 characters
# outside ASCII (up to 12 bytes each once percent-encoded) and some history. The server lets
# longer request lines through (serve.py) so that this app refuses them in its own error shape.
MAX_URL_BYTES = 64 * 1024
# Pages load only the site's own scripts, styles and images: injected markup could not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def error_response(status: int, code: str, message: str) -> Response:
    """An error in the form its caller reads: JSON under /api, a reply in the conversation for
    the page's script, the site's error page elsewhere."""
    if _wants_json():
        response = jsonify(error_payload(code, message))
        response.status_code = status
        return response
    if web.wants_reply():
        return web.error_turn(status, code, message)
    return web.error_page(status, message)


def refuse_long_urls() -> None:
    """A URL (its decoded path and its query string) over MAX_URL_BYTES is a 414."""
    query = request.query_string
    size = len(request.environ.get("PATH_INFO", "")) + (len(query) + 1 if query else 0)
    if size > MAX_URL_BYTES:
        raise QAError(f"the URL is {size:,} bytes long; the limit is {MAX_URL_BYTES:,} "
                      "(send a long question in the body of a POST)", code="uri_too_long", status=414)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(QAError)
    def qa_error(exc: QAError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405:
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        message = ("internal error; the request was not completed" if _wants_json()
                   else "The server hit an error and could not finish this request.")
        return error_response(500, "internal_error", message)


def create_app(cfg: Config | None = None, *, service: "Service | None" = None) -> Flask:
    """Build the app; the model and index load here, once per process, never per request."""
    from qa.asking.service import Service

    cfg = cfg or Config()
    app = Flask(__name__)
    app.config["QA"] = cfg
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    app.extensions["qa"] = service or Service(cfg)

    from qa.http import admin, api, observe, openapi, ratelimit

    app.config["QA_ADMIN_TOKEN"] = admin.admin_token()
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(web.bp)
    observe.init_app(app, app.extensions["qa"])
    app.before_request(refuse_long_urls)  # after observe's, so the refusal is logged with its id
    ratelimit.init_app(app, cfg.server.rate_limit)  # after every blueprint it wraps

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    _register_errors(app)
    return app
