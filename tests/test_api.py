"""The JSON API contract and its one error shape, through the Flask test client (real model and index)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.http.app import create_app
from qa.errors import error_payload

QUESTION = "How many people died in the Khojaly massacre?"


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_error_shape_is_pinned():
    assert error_payload("bad_request", "why") == {"error": {"code": "bad_request", "message": "why"}}


def check_offsets(result: dict, data_dir: Path) -> None:
    for passage in result["passages"]:
        c = passage["citation"]
        source = (data_dir / c["path"]).read_text(encoding="utf-8")
        assert source[c["start"]:c["end"]] == passage["text"]
        for h in passage["highlights"]:
            assert 0 <= h["start"] < h["end"] <= len(passage["text"])
    if result["answer"]:
        c = result["answer"]["citation"]
        source = (data_dir / c["path"]).read_text(encoding="utf-8")
        assert source[c["start"]:c["end"]] == result["answer"]["text"]


def test_post_ask_contract(client, backend_config):
    r = client.post("/api/ask", json={"question": QUESTION, "top_k": 3})
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) >= {"question", "abstained", "answer", "passages", "took_ms"}
    assert body["question"] == QUESTION and body["abstained"] is False
    assert len(body["passages"]) == 3
    assert [p["rank"] for p in body["passages"]] == [1, 2, 3]
    assert any("613 people" in p["text"] for p in body["passages"])
    for p in body["passages"]:
        assert set(p["citation"]) >= {"doc_id", "title", "source", "date", "path", "chunk_id", "start", "end"}
        assert p["highlights"]
    answer = body["answer"]
    assert set(answer) >= {"text", "passage", "citation"}
    passage = body["passages"][answer["passage"]]
    assert answer["text"] in passage["text"]
    h = passage["highlights"][0]
    assert passage["text"][h["start"]:h["end"]] == answer["text"]
    check_offsets(body, backend_config.data_dir)


def test_get_ask_matches_post(client):
    post = client.post("/api/ask", json={"question": QUESTION, "top_k": 4}).get_json()
    get = client.get("/api/ask", query_string={"q": QUESTION, "top_k": "4"}).get_json()
    assert [p["citation"] for p in get["passages"]] == [p["citation"] for p in post["passages"]]


def test_default_top_k_from_config(client, backend_config):
    body = client.post("/api/ask", json={"question": QUESTION}).get_json()
    assert len(body["passages"]) == backend_config.search.top_k


def test_unanswerable_abstains(client):
    body = client.post("/api/ask", json={"question": "What is a good recipe for sourdough bread?"}).get_json()
    assert body["abstained"] is True and body["answer"] is None and body["passages"] == []


@pytest.mark.parametrize("question", ["x", "2023", "The of and?", "12 34"])
def test_a_question_with_nothing_to_search_for_abstains(client, question):
    body = client.get("/api/ask", query_string={"q": question}).get_json()
    assert body["abstained"] is True and body["answer"] is None and body["passages"] == []


def test_a_follow_up_of_digits_searches_with_its_conversation(client):
    body = client.post("/api/ask", json={"question": "1992?", "history": ["How many people died in the Khojaly massacre?"]}).get_json()
    assert body["abstained"] is False and body["passages"]


def test_health(client):
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok"
    assert body["index"]["articles"] == 5 and body["index"]["chunks"] > 5
    assert body["index"]["model"] and body["index"]["built_at"]


@pytest.mark.parametrize("payload,message", [
    ({}, "missing 'question'"),
    ({"question": ""}, "empty"),
    ({"question": "   "}, "empty"),
    ({"question": 42}, "must be a string"),
    ({"question": None}, "missing"),
    ({"question": "x" * 2001}, "limit is 2000"),
    ({"question": "ok", "top_k": 0}, "top_k"),
    ({"question": "ok", "top_k": 51}, "top_k"),
    ({"question": "ok", "top_k": "5"}, "top_k"),
    ({"question": "ok", "top_k": 5.5}, "top_k"),
    ({"question": "ok", "top_k": True}, "top_k"),
])
def test_bad_questions_are_400(client, payload, message):
    err = assert_error(client.post("/api/ask", json=payload), 400, "bad_request")
    assert message in err["message"]


def test_question_at_limit_is_accepted(client):
    assert client.post("/api/ask", json={"question": "Khojaly " * 250}).status_code == 200


@pytest.mark.parametrize("data", [b"{not json", b"\xff\xfe", b"null", b"[1,2]", b'"text"'])
def test_invalid_json_is_400(client, data):
    assert_error(client.post("/api/ask", data=data, content_type="application/json"), 400, "bad_request")


def test_bad_get_parameters(client):
    assert_error(client.get("/api/ask"), 400)
    assert_error(client.get("/api/ask?q=hi&top_k=abc"), 400)
    assert_error(client.get("/api/ask?q=hi&top_k=-1"), 400)


def test_wrong_content_type_is_415(client):
    assert_error(client.post("/api/ask", data="question=hi", content_type="application/x-www-form-urlencoded"),
                 415, "unsupported_media_type")


def test_body_over_64k_is_413(client):
    big = b'{"question": "' + b"a" * (64 * 1024) + b'"}'
    assert_error(client.post("/api/ask", data=big, content_type="application/json"), 413)


def test_unknown_route_and_method(client):
    assert_error(client.get("/api/nothing"), 404, "not_found")
    r = client.put("/api/ask", json={"question": "x"})
    assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_no_index_is_503_with_fix(tmp_path):
    from conftest import make_config

    app = create_app(make_config(tmp_path, tmp_path))
    client = app.test_client()
    for r in (client.post("/api/ask", json={"question": "x"}), client.get("/api/health")):
        err = assert_error(r, 503, "index_unavailable")
        assert "qa index build" in err["message"]
