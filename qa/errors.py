"""Errors that carry their HTTP status, so every surface reports them the same way."""

from __future__ import annotations


class QAError(Exception):
    """Base error: a stable machine code, a message for people, and an HTTP status."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ConfigError(QAError):
    status = 500
    code = "config_error"


class BadRequest(QAError):
    status = 400
    code = "bad_request"


class NotFound(QAError):
    status = 404
    code = "not_found"


class IngestError(QAError):
    """Raised when a data folder cannot be read at all, or a skip happens under --strict."""

    status = 500
    code = "ingest_error"


class IndexUnavailable(QAError):
    """No usable index: missing, built with another model, or damaged. The fix is a rebuild."""

    status = 503
    code = "index_unavailable"


def error_payload(code: str, message: str) -> dict:
    """The one JSON error shape of the API: {"error": {"code", "message"}}."""
    return {"error": {"code": code, "message": message}}
