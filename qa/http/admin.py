"""Admin endpoints (state changes): off unless QA_ADMIN_TOKEN is set, then they need it as a Bearer token."""

from __future__ import annotations

import hmac
import os

from flask import Blueprint, current_app, jsonify, request

from qa.errors import IndexUnavailable, NotFound, error_payload

TOKEN_ENV = "QA_ADMIN_TOKEN"

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


def admin_token() -> str | None:
    """The token from the environment; empty means admin endpoints are off."""
    return os.environ.get(TOKEN_ENV) or None


def admin_on() -> bool:
    """Whether this app serves the admin endpoints (the OpenAPI document lists them only then)."""
    return current_app.config.get("QA_ADMIN_TOKEN") is not None


@bp.before_request
def require_token():
    token = current_app.config.get("QA_ADMIN_TOKEN")
    if token is None:
        # Off: indistinguishable from a route that does not exist.
        raise NotFound("not found")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest on bytes: constant time, and no error on non-ASCII input.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        body = error_payload("unauthorized", "admin endpoints need 'Authorization: Bearer <QA_ADMIN_TOKEN>'")
        return jsonify(body), 401, {"WWW-Authenticate": "Bearer"}
    return None


@bp.post("/reload")
def reload():
    """Swap in the version index/CURRENT names; in-flight requests finish on the old one."""
    service = current_app.extensions["qa"]
    try:
        changed = service.reload()
    except IndexUnavailable as exc:
        raise IndexUnavailable(f"{exc.message} (still serving version {service.served_version()})") from None
    return jsonify({"version": service.served_version(), "reloaded": changed})
