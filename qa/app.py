"""The Flask application factory."""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from .config import Config
from .errors import QAError, error_payload

MAX_BODY_BYTES = 64 * 1024


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def create_app(cfg: Config | None = None, *, service=None) -> Flask:
    """Build the app; the model and index load here, once per process, never per request."""
    from .service import Service

    cfg = cfg or Config()
    app = Flask(__name__)
    app.config["QA"] = cfg
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    app.extensions["qa"] = service or Service(cfg)

    from . import admin, api, observe, openapi, ratelimit

    app.config["QA_ADMIN_TOKEN"] = admin.admin_token()
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(openapi.bp)
    observe.init_app(app, app.extensions["qa"])
    ratelimit.init_app(app, cfg.server.rate_limit)

    @app.errorhandler(QAError)
    def qa_error(exc: QAError):
        return jsonify(error_payload(exc.code, exc.message)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not _wants_json():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        response = jsonify(error_payload(code, exc.description or exc.name))
        response.status_code = exc.code or 500
        if exc.code == 405:
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error_payload("internal_error", "internal error; the request was not completed")), 500

    return app
