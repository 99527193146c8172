"""The Flask application factory."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from qa.http import web
from qa.config import Config
from qa.errors import QAError, error_payload

MAX_BODY_BYTES = 64 * 1024
# Pages load only the site's own scripts, styles and images: injected markup could not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def create_app(cfg: Config | None = None, *, service=None) -> Flask:
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
    ratelimit.init_app(app, cfg.server.rate_limit)  # after every blueprint it wraps

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.errorhandler(QAError)
    def qa_error(exc: QAError):
        if not _wants_json():
            return web.error_page(exc.status, exc.message)
        return jsonify(error_payload(exc.code, exc.message)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _wants_json():
            code = (exc.name or "error").lower().replace(" ", "_")
            response = jsonify(error_payload(code, exc.description or exc.name))
            response.status_code = exc.code or 500
        else:
            response = app.make_response(web.error_page(exc.code or 500, exc.description or exc.name))
        if exc.code == 405:
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            return web.error_page(500, "The server hit an error; the page could not be shown.")
        return jsonify(error_payload("internal_error", "internal error; the request was not completed")), 500

    return app
