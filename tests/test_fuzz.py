"""Fuzz the API from its own OpenAPI document (schemathesis, every check): no 5xx, every response
conforms, schema-valid requests are accepted and schema-invalid ones refused.

The fuzzing goes through a real `qa serve` (gunicorn in front of the app), as a client outside
would: a long GET question then meets the server's own limits too, not just the app's. It runs
on each storage backend (`backend_server`): on Milvus, a server with no index or data folder. The admin
endpoint, listed only where it is on, is fuzzed on an app with a token set.

Bounded and deterministic: a fixed number of examples per operation, derandomized.
"""

from __future__ import annotations

import socket

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from qa.http.app import MAX_URL_BYTES, create_app
from qa.http.serve import REQUEST_LINE_CAP

EXAMPLES = 75  # per operation (GET and POST /api/ask, health; reload): about 300 requests
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def served_schema(backend_server):
    """The document as the served process describes itself (admin off: not listed), on each storage
    backend: the Milvus one is a server with no index or data folder of its own."""
    return schemathesis.openapi.from_url(backend_server.url + "/api/openapi.json")


@pytest.fixture()
def admin_schema(seed_config, seed_service, monkeypatch):
    monkeypatch.setenv("QA_ADMIN_TOKEN", "fuzz-token-not-guessable")  # admin on: fuzz its refusals
    app = create_app(seed_config, service=seed_service)
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app).include(path="/api/admin/reload")


served = schemathesis.pytest.from_fixture("served_schema")
admin = schemathesis.pytest.from_fixture("admin_schema")


def accepts_valid_data(ctx, response, case):
    """Schema-valid requests are accepted, but for the one rule JSON Schema cannot state:
    `date_from` after `date_to` is a 400 (the page tells the person so)."""
    if response.status_code == 400 and "is after 'date_to'" in response.text:
        return None
    return positive_data_acceptance(ctx, response, case)


def validate(case):
    """Every schemathesis check, positive_data_acceptance with its one exception."""
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance],
                                      additional_checks=[accepts_valid_data])
    assert response.status_code < 500


@served.parametrize()
@FUZZ
def test_served_api_conforms_to_its_openapi_document(case):
    validate(case)


@admin.parametrize()
@FUZZ
def test_admin_endpoint_conforms_to_its_openapi_document(case):
    validate(case)


def test_the_served_document_lists_only_what_is_served(server):
    document = requests.get(server.url + "/api/openapi.json", timeout=30).json()
    assert "/api/admin/reload" not in document["paths"]
    assert requests.post(server.url + "/api/admin/reload", timeout=30).status_code == 404


@pytest.mark.parametrize("path, status", [("/api/ask", 400), ("/api/health", 200), ("/api/nothing", 404)])
def test_an_over_long_url_is_a_json_414_from_the_server(server, path, status):
    """gunicorn would answer its own HTML page above 4,094 bytes; now a 10,000-byte URL reaches
    the app, and one past the app's limit (which a long non-ASCII GET question fits) is refused
    in the API's error shape."""
    def get(size: int) -> requests.Response:
        return requests.get(server.url + path + "?q=" + "a" * (size - len(path) - 3), timeout=30)

    under = get(10_000)
    assert under.status_code == status and under.headers["Content-Type"] == "application/json"
    over = get(MAX_URL_BYTES + 1)
    assert over.status_code == 414 and over.headers["Content-Type"] == "application/json"
    assert over.json()["error"]["code"] == "uri_too_long" and f"{MAX_URL_BYTES:,}" in over.json()["error"]["message"]


def test_an_over_long_page_url_is_the_sites_414_page(server):
    page = requests.get(server.url + "/?q=" + "a" * MAX_URL_BYTES, timeout=30)
    assert page.status_code == 414 and page.headers["Content-Type"].startswith("text/html")
    assert "That address is too long" in page.text


def test_a_long_non_ascii_question_is_answered_through_the_server(server):
    question = "Xocalı " + "ə" * 1993  # 2,000 characters, most of them 6 bytes percent-encoded
    r = requests.get(server.url + "/api/ask", params={"q": question, "history": [question]}, timeout=120)
    assert len(r.request.url) > 20_000 and r.status_code == 200 and r.json()["question"] == question


def test_a_request_line_past_the_cap_is_cut_off_before_it_is_held(server):
    """Past REQUEST_LINE_CAP gunicorn refuses the line itself and keeps serving."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(b"GET /api/health?q=")
        try:
            for _ in range(REQUEST_LINE_CAP // 65536 + 2):
                conn.sendall(b"a" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed while we were still sending
        answer = conn.recv(200)
    assert not answer or answer.startswith(b"HTTP/1.1 414")
    assert requests.get(server.url + "/api/health", timeout=30).status_code == 200


def test_the_fuzzed_document_has_every_operation_and_parameter(served_schema):
    """What the fuzzing above reaches: /api/cite and group_by (GET parameter and POST field) too."""
    operations = {(op.method.upper(), op.path): op for op in (r.ok() for r in served_schema.get_all_operations())}
    assert set(operations) == {("GET", "/api/ask"), ("POST", "/api/ask"), ("GET", "/api/cite"), ("GET", "/api/health")}
    assert {"group_by", "source", "history"} <= {p.name for p in operations["GET", "/api/ask"].query}
    assert {p.name for p in operations["GET", "/api/cite"].query} == {"doc_id", "style"}
    body = served_schema.raw_schema["components"]["schemas"]["AskRequest"]["properties"]
    assert "group_by" in body
