"""Hostile and malformed input, the OpenAPI document against real responses, headers,
metrics, the request log line and rate limiting."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import pytest
from conftest import conforms
from openapi_spec_validator import validate as validate_spec

from qa.errors import BadRequest, ConfigError
from qa.http.app import MAX_URL_BYTES, create_app
from qa.http.openapi import spec
from qa.validation import MAX_TOP_K, validate_question

QUESTION = "How many people died in the Khojaly massacre?"


def error(response, status: int) -> dict:
    assert response.status_code == status, response.data[:300]
    return conforms(response, "Error")["error"]


@pytest.mark.parametrize("question", ["nul \x00 byte", "bell \x07", "escape \x1b[31m red", "del \x7f"])
def test_control_characters_are_400(client, question):
    assert "control characters" in error(client.post("/api/ask", json={"question": question}), 400)["message"]
    assert error(client.get("/api/ask", query_string={"q": question}), 400)


@pytest.mark.parametrize("raw", [b'{"question": "lone \\ud800 surrogate"}', b'{"question": "\\udfff"}'])
def test_invalid_surrogates_are_400(client, raw):
    err = error(client.post("/api/ask", data=raw, content_type="application/json"), 400)
    assert "surrogate" in err["message"]


@pytest.mark.parametrize("question", [
    "כמה אנשים נהרגו בח'וג'אלי?",  # right-to-left (Hebrew)
    "\u202eKhojaly massacre victims\u202c",  # explicit RTL override
    "How many 🕯️ were lit for Khojaly? 👨‍👩‍👧",
])
def test_right_to_left_and_emoji_are_answered_or_abstained(client, question):
    body = conforms(client.post("/api/ask", json={"question": question}), "Result")
    assert body["question"] == question


@pytest.mark.parametrize("length,status", [(2000, 200), (2001, 400)])
def test_question_limit_counts_characters_not_bytes(client, length, status):
    question = ("Khojaly 🕯 " * 300)[:length]  # multi-byte characters: 2,000 characters is > 2,000 bytes
    assert client.post("/api/ask", json={"question": question}).status_code == status


@pytest.mark.parametrize("top_k,status", [(0, 400), (1, 200), (50, 200), (51, 400), ("5", 400), (5.5, 400)])
def test_top_k_bounds_and_types(client, top_k, status):
    r = client.post("/api/ask", json={"question": QUESTION, "top_k": top_k})
    if status == 400:
        assert "top_k" in error(r, 400)["message"]
    else:
        assert len(conforms(r, "Result")["passages"]) <= top_k


def test_unknown_fields_are_ignored(client):
    plain = client.post("/api/ask", json={"question": QUESTION}).get_json()
    extra = client.post("/api/ask", json={"question": QUESTION, "colour": "blue", "top_k_": 99,
                                          "nested": {"a": [1, None]}}).get_json()
    assert {**extra, "took_ms": 0} == {**plain, "took_ms": 0}
    assert spec(admin=False)["components"]["schemas"]["AskRequest"]["additionalProperties"] is True


def test_body_exactly_64k_is_read_and_one_byte_more_is_413(client):
    def body(size: int) -> bytes:
        head, tail = b'{"question": "', b'"}'
        return head + b"a" * (size - len(head) - len(tail)) + tail

    assert "limit is 2000" in error(client.post("/api/ask", data=body(64 * 1024),
                                                content_type="application/json"), 400)["message"]
    error(client.post("/api/ask", data=body(64 * 1024 + 1), content_type="application/json"), 413)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/jsonx", ""])
def test_wrong_content_type_is_415(client, content_type):
    r = client.post("/api/ask", data=json.dumps({"question": QUESTION}), content_type=content_type or None)
    assert error(r, 415)["code"] == "unsupported_media_type"


def test_head_and_options(client):
    head = client.head("/api/ask", query_string={"q": QUESTION})
    assert head.status_code == 200 and head.data == b""
    assert client.head("/api/health").status_code == 200
    for path in ("/api/ask", "/api/health", "/api/openapi.json"):
        r = client.options(path)
        assert r.status_code == 200 and "OPTIONS" in r.headers["Allow"]
    assert "POST" in client.options("/api/ask").headers["Allow"]


def test_security_headers_on_every_kind_of_response(client):
    responses = [client.post("/api/ask", json={"question": QUESTION}), client.get("/api/health"),
                 client.post("/api/ask", data=b"{", content_type="application/json"), client.get("/api/nothing"),
                 client.get("/api/openapi.json"), client.get("/metrics"), client.put("/api/ask")]
    for r in responses:
        assert r.headers["X-Content-Type-Options"] == "nosniff", r.request.path
        assert r.headers["Referrer-Policy"], r.request.path


def test_openapi_document_is_valid_and_served(client):
    document = client.get("/api/openapi.json").get_json()
    validate_spec(document)
    assert set(document["paths"]) == {"/api/ask", "/api/cite", "/api/health"}  # admin is off: not promised
    conforms(client.get("/api/health"), "Health")
    conforms(client.get("/api/ask", query_string={"q": QUESTION, "top_k": 3}), "Result")
    conforms(client.post("/api/ask", json={"question": "Which football club won the 1998 cup final in Peru?"}),
             "Result")
    conforms(client.post("/api/ask", json={"question": QUESTION, "history": ["When was it?"],
                                           "filters": {"source": ["Trend", "AzerNEWS"], "date_from": "2023-01-01"}}),
             "Result")
    conforms(client.get("/api/ask", query_string={"q": QUESTION, "source": "Trend", "history": "When?"}), "Result")
    conforms(client.post("/api/ask", json={"question": QUESTION, "filters": {"colour": "red"}}), "Error")
    grouped = conforms(client.post("/api/ask", json={"question": "How many people's fate remains unknown?",
                                                     "group_by": "date"}), "Result")
    assert grouped["groups"] and grouped["answer"]["alternatives"]  # both new fields validated, filled
    conforms(client.get("/api/ask", query_string={"q": QUESTION, "group_by": "source"}), "Result")
    conforms(client.get("/api/cite", query_string={"doc_id": "nope", "style": "apa"}), "Error")


def test_metrics_count_requests_and_describe_the_index(client, backend_service):
    client.post("/api/ask", json={"question": QUESTION})
    client.post("/api/ask", json={"question": ""})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'qa_http_requests_total{endpoint="/api/ask",method="POST",status="200"}' in text
    assert 'qa_http_requests_total{endpoint="/api/ask",method="POST",status="400"}' in text
    assert 'qa_http_request_duration_seconds_bucket{endpoint="/api/ask",le="+Inf"}' in text
    version = backend_service.served_version()
    assert f'qa_index_info{{model="sentence-transformers/all-MiniLM-L6-v2",version="{version}"}} 1.0' in text
    assert 'qa_index_items{kind="chunks"}' in text and "qa_index_bytes " in text


def _request_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "qa.request"]


def test_one_structured_log_line_per_request_without_the_question(client, caplog):
    caplog.set_level(logging.INFO, logger="qa.request")
    r = client.post("/api/ask", json={"question": QUESTION}, headers={"X-Request-ID": "abc-123"})
    client.get("/api/ask", query_string={"q": "x" * 2001})
    first, second = _request_lines(caplog)
    assert r.headers["X-Request-ID"] == "abc-123" == first["request_id"]
    assert first["status"] == 200 and first["abstained"] is False and first["evidence"] == "strong"
    assert first["top_score"] == r.get_json()["passages"][0]["score"] and first["latency_ms"] >= 0
    assert second["status"] == 400 and second["abstained"] is None is second["evidence"]
    assert len(second["request_id"]) == 32
    assert QUESTION not in caplog.text


def test_question_is_logged_only_at_debug(client, caplog):
    caplog.set_level(logging.DEBUG, logger="qa.request")
    client.post("/api/ask", json={"question": QUESTION})
    assert _request_lines(caplog)[0]["question"] == QUESTION


def test_hostile_request_id_is_replaced(client):
    r = client.get("/api/health", headers={"X-Request-ID": "<script>" + "x" * 100})
    assert r.headers["X-Request-ID"] != "<script>" and len(r.headers["X-Request-ID"]) == 32


def test_rate_limit_per_address(seed_config, seed_service):
    cfg = seed_config.replace(server=seed_config.server.__class__(rate_limit="2/minute"))
    client = create_app(cfg, service=seed_service).test_client()
    assert [client.get("/api/ask", query_string={"q": QUESTION}).status_code for _ in range(2)] == [200, 200]
    limited = client.get("/api/ask", query_string={"q": QUESTION})
    assert error(limited, 429)["code"] == "too_many_requests" and int(limited.headers["Retry-After"]) > 0
    other = client.get("/api/ask", query_string={"q": QUESTION}, environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 200
    assert client.get("/api/health").status_code == 200  # only the question endpoints are limited


def test_rate_limit_covers_the_page_too(seed_config, seed_service):
    """Asking through GET /?q= draws on the same allowance as the API; the empty page does not."""
    cfg = seed_config.replace(server=seed_config.server.__class__(rate_limit="2/minute"))
    client = create_app(cfg, service=seed_service).test_client()
    assert client.get("/api/ask", query_string={"q": QUESTION}).status_code == 200
    assert client.get("/", query_string={"q": QUESTION}).status_code == 200
    assert client.get("/").status_code == 200  # no question: not counted
    page = client.get("/", query_string={"q": QUESTION})
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert error(client.get("/api/ask", query_string={"q": QUESTION}), 429)["code"] == "too_many_requests"


def test_bad_rate_limit_is_a_config_error(seed_config, seed_service):
    cfg = seed_config.replace(server=seed_config.server.__class__(rate_limit="lots"))
    with pytest.raises(ConfigError, match="server.rate_limit"):
        create_app(cfg, service=seed_service)


def test_rate_limit_covers_the_pages_script_too(seed_config, seed_service):
    """The page's script asks through POST /reply: the same allowance, refused as a turn."""
    cfg = seed_config.replace(server=seed_config.server.__class__(rate_limit="2/minute"))
    client = create_app(cfg, service=seed_service).test_client()
    assert client.post("/reply", json={"question": QUESTION}).status_code == 200
    assert client.get("/api/ask", query_string={"q": QUESTION}).status_code == 200
    limited = client.post("/reply", json={"question": QUESTION})
    assert limited.status_code == 429 and limited.mimetype == "text/html" and int(limited.headers["Retry-After"]) > 0
    html = limited.get_data(as_text=True)
    assert html.startswith('<li class="turn">') and QUESTION in html and "<html" not in html


def test_admin_is_in_the_document_only_when_it_is_on(seed_config, seed_service, monkeypatch):
    monkeypatch.delenv("QA_ADMIN_TOKEN", raising=False)
    off = create_app(seed_config, service=seed_service).test_client()
    assert "/api/admin/reload" not in off.get("/api/openapi.json").get_json()["paths"]
    error(off.post("/api/admin/reload"), 404)
    monkeypatch.setenv("QA_ADMIN_TOKEN", "s3cret")
    on = create_app(seed_config, service=seed_service).test_client()
    document = on.get("/api/openapi.json").get_json()
    validate_spec(document)
    responses = document["paths"]["/api/admin/reload"]["post"]["responses"]
    assert "401" in responses and "404" not in responses  # on: a missing header is the promised 401
    assert error(on.post("/api/admin/reload"), 401)["code"] == "unauthorized"


def _url_of(size: int, path: str = "/api/health") -> str:
    """A URL of exactly `size` bytes (path and query string)."""
    head = f"{path}?pad="
    return head + "a" * (size - len(head))


@pytest.mark.parametrize("path", ["/api/health", "/api/ask", "/api/admin/reload", "/api/nothing"])
def test_a_url_over_the_limit_is_a_json_414_under_api(client, path):
    for method in (client.get, client.post):
        err = error(method(_url_of(MAX_URL_BYTES + 1, path)), 414)
        assert err["code"] == "uri_too_long" and f"{MAX_URL_BYTES:,}" in err["message"]
    assert client.get(_url_of(MAX_URL_BYTES)).status_code == 200


def test_a_url_over_the_limit_is_a_414_page_elsewhere(client):
    r = client.get(_url_of(MAX_URL_BYTES + 1, "/"))
    assert r.status_code == 414 and r.mimetype == "text/html"
    assert "That address is too long" in r.get_data(as_text=True)


def test_a_long_non_ascii_get_question_with_history_fits_the_url_limit(client):
    """2,000 characters of three UTF-8 bytes each are 18,000 bytes percent-encoded: the
    question at its limit and two earlier ones as long still fit in one GET."""
    question = "霍贾利大屠杀" * 333 + "霍贾"  # 2,000 characters, no spaces
    r = client.get("/api/ask", query_string={"q": question, "history": [question, question]})
    assert len(r.request.full_path.encode()) > 50_000
    assert conforms(r, "Result")["question"] == question


def test_every_operation_documents_the_414(client):
    for path, operations in spec(admin=True)["paths"].items():
        for method, operation in operations.items():
            assert "414" in operation["responses"], (method, path)


def test_the_validation_module_needs_no_web_stack():
    code = "import sys, qa.validation; sys.exit('flask' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_top_k_limit_is_one_constant_everywhere():
    from qa.cli import cli

    document = spec(admin=False)
    question_params = {p["name"]: p for p in document["paths"]["/api/ask"]["get"]["parameters"]}
    assert question_params["top_k"]["schema"]["maximum"] == MAX_TOP_K
    assert document["components"]["schemas"]["AskRequest"]["properties"]["top_k"]["maximum"] == MAX_TOP_K
    for command in ("ask", "eval"):
        (option,) = [p for p in cli.commands[command].params if p.name == "top_k"]
        assert option.type.max == MAX_TOP_K


@pytest.mark.parametrize("char", [chr(c) for c in [*range(0x21), 0x7f, 0x85, 0xa0, 0x2028, 0xfeff]])
def test_the_documented_question_pattern_is_the_check(char):
    """Each character alone and inside a question: the OpenAPI pattern accepts exactly what
    validate_question accepts (both are built from one definition)."""
    pattern = spec(admin=False)["components"]["schemas"]["AskRequest"]["properties"]["question"]["pattern"]
    for question in (char, f"Who {char} came?"):
        try:
            validate_question(question)
            accepted = True
        except BadRequest:
            accepted = False
        assert bool(re.search(pattern, question)) == accepted, repr(question)
