"""The JSON API contract and its one error shape, through the Flask test client (real model and index)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import conforms, weak_everywhere

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
    """Every quote slices its stored article exactly: passages (merged ones too), the answer and
    its alternatives; highlights and excerpts lie inside their passage; no article's passages overlap."""
    for passage in result["passages"]:
        c = passage["citation"]
        source = (data_dir / c["path"]).read_text(encoding="utf-8")
        assert source[c["start"]:c["end"]] == passage["text"]
        for h in passage["highlights"] + [passage["excerpt"]]:
            assert 0 <= h["start"] < h["end"] <= len(passage["text"])
        for other in result["passages"]:
            o = other["citation"]
            assert other is passage or o["doc_id"] != c["doc_id"] or o["end"] <= c["start"] or c["end"] <= o["start"]
    if result["answer"]:
        for quote in [result["answer"], *result["answer"]["alternatives"]]:
            c = quote["citation"]
            source = (data_dir / c["path"]).read_text(encoding="utf-8")
            assert source[c["start"]:c["end"]] == quote["text"]
            assert quote["text"] in result["passages"][quote["passage"]]["text"]


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
    """top_k chunks are retrieved; overlapping ones of one article are quoted as one passage."""
    body = client.post("/api/ask", json={"question": QUESTION}).get_json()
    assert 1 < len(body["passages"]) <= backend_config.search.top_k
    assert len(client.post("/api/ask", json={"question": QUESTION, "top_k": 1}).get_json()["passages"]) == 1


def test_overlapping_chunks_are_one_passage_so_no_sentence_is_quoted_twice(client, backend_config):
    """The issue's example: two chunks of one article sharing characters 1766-1964 were two passages."""
    body = client.get("/api/ask", query_string={"q": "How many libraries were destroyed?"}).get_json()
    check_offsets(body, backend_config.data_dir)
    sentence = "14 schools, 21 clubs, 29 libraries"
    assert sum(p["text"].count(sentence) for p in body["passages"]) == 1
    merged = next(p for p in body["passages"] if sentence in p["text"])
    assert len(merged["highlights"]) >= 1 and merged["citation"]["start"] <= 1766 and merged["citation"]["end"] >= 1964


def test_sources_that_differ_are_named_side_by_side(client, backend_config):
    """One article says the fate of 150 people is unknown, another 197: both reach the answer."""
    body = client.post("/api/ask", json={"question": "How many people's fate remains unknown?"}).get_json()
    check_offsets(body, backend_config.data_dir)
    answer = body["answer"]
    (alternative,) = answer["alternatives"]
    assert set(alternative) == {"text", "passage", "citation"}
    assert alternative["citation"]["doc_id"] != answer["citation"]["doc_id"]
    quotes = answer["text"] + " | " + alternative["text"]
    assert "fate of 150 people" in quotes and "fate of 197" in quotes


def test_sources_that_agree_give_no_alternative(client, backend_config):
    for top_k in (5, 10):
        body = client.post("/api/ask", json={"question": QUESTION, "top_k": top_k}).get_json()
        assert "613 people" in body["answer"]["text"] and body["answer"]["alternatives"] == []
    assert len({p["citation"]["doc_id"] for p in body["passages"] if "613 people" in p["text"]}) >= 2  # two say 613


def test_unanswerable_abstains(client):
    body = client.post("/api/ask", json={"question": "What is a good recipe for sourdough bread?"}).get_json()
    assert body["abstained"] is True and body["evidence"] == "none"
    assert body["answer"] is None and body["passages"] == []


@pytest.fixture()
def weak_client(backend_config, encoder):
    """The API over the same index with every reply at or above `min_score` in the weak zone."""
    from qa.asking.service import Service

    cfg = weak_everywhere(backend_config)
    return create_app(cfg, service=Service(cfg, encoder=encoder)).test_client()


def test_a_weak_reply_shows_the_closest_passages_and_quotes_no_answer(client, weak_client, backend_config):
    strong = client.post("/api/ask", json={"question": QUESTION}).get_json()
    for r in (weak_client.post("/api/ask", json={"question": QUESTION}),
              weak_client.get("/api/ask", query_string={"q": QUESTION})):
        body = conforms(r, "Result")
        assert body["evidence"] == "weak" and body["abstained"] is False and body["answer"] is None
        assert body["passages"] == strong["passages"]  # the same ranking, the same quotes
        check_offsets(body, backend_config.data_dir)
    assert strong["evidence"] == "strong" and strong["answer"]


def test_weak_zone_leaves_abstention_as_it_was(weak_client):
    body = weak_client.post("/api/ask", json={"question": "What is a good recipe for sourdough bread?"}).get_json()
    assert body["evidence"] == "none" and body["abstained"] is True and body["passages"] == []


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


def test_a_bad_history_item_is_400_even_before_the_last_ten(client):
    """Only the last ten earlier questions are used, but every one is checked (the OpenAPI
    document promises so; the fuzzer found an over-long one accepted)."""
    history = ["x" * 2001] + ["When was it?"] * 10
    err = assert_error(client.post("/api/ask", json={"question": QUESTION, "history": history}), 400, "bad_request")
    assert err["message"] == "'history': each item is 2001 characters long; the limit is 2000"


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


def test_passages_grouped_by_outlet(client):
    """Same passages, same citations, also grouped: each outlet's passages under it, its dates."""
    plain = client.post("/api/ask", json={"question": QUESTION, "top_k": 10}).get_json()
    body = client.post("/api/ask", json={"question": QUESTION, "top_k": 10, "group_by": "source"}).get_json()
    assert body["passages"] == plain["passages"] and body["answer"] == plain["answer"]
    assert plain["group_by"] is None and plain["groups"] is None and body["group_by"] == "source"
    groups = body["groups"]
    assert sorted(i for g in groups for i in g["passages"]) == list(range(len(body["passages"])))
    assert [g["passages"][0] for g in groups] == sorted(g["passages"][0] for g in groups)  # best outlet first
    assert len({g["key"] for g in groups}) == len(groups) >= 2
    for g in groups:
        cites = [body["passages"][i]["citation"] for i in g["passages"]]
        assert {c["source"] for c in cites} == {g["key"]} and g["passages"] == sorted(g["passages"])
        assert g["sources"] == ([g["key"]] if g["key"] else [])
        assert g["dates"] == sorted({c["date"] for c in cites if c["date"]})


def test_passages_as_a_timeline(client):
    body = client.get("/api/ask", query_string={"q": QUESTION, "top_k": 10, "group_by": "date"}).get_json()
    keys = [g["key"] for g in body["groups"]]
    assert keys == sorted(keys) and len(keys) >= 2  # oldest first (every bundled article is dated)
    for g in body["groups"]:
        assert {body["passages"][i]["citation"]["date"] for i in g["passages"]} == {g["key"]} == set(g["dates"])
        assert g["sources"] == list(dict.fromkeys(body["passages"][i]["citation"]["source"] for i in g["passages"]
                                                  if body["passages"][i]["citation"]["source"]))


@pytest.mark.parametrize("value", ["outlet", "SOURCE", 3, ["source"]])
def test_an_unknown_grouping_is_400(client, value):
    err = assert_error(client.post("/api/ask", json={"question": QUESTION, "group_by": value}), 400, "bad_request")
    assert err["message"] == "'group_by' must be one of source, date"
    if isinstance(value, str):
        assert_error(client.get("/api/ask", query_string={"q": QUESTION, "group_by": value}), 400, "bad_request")


def test_an_abstention_has_no_groups(client):
    body = client.post("/api/ask", json={"question": "What is a good recipe for sourdough bread?",
                                         "group_by": "source"}).get_json()
    assert body["abstained"] and body["groups"] == [] and body["group_by"] == "source"


@pytest.mark.parametrize("style, media", [("bibtex", "application/x-bibtex"), ("apa", "text/plain"),
                                          ("chicago", "text/plain"), ("csl-json", "application/vnd.citationstyles.csl+json")])
def test_every_cited_article_can_be_taken_away_in_each_style(client, style, media):
    body = client.post("/api/ask", json={"question": QUESTION, "top_k": 10}).get_json()
    cites = {p["citation"]["doc_id"]: p["citation"] for p in body["passages"]}
    assert len(cites) >= 3
    for doc_id, c in cites.items():
        r = client.get("/api/cite", query_string={"doc_id": doc_id, "style": style})
        assert r.status_code == 200 and r.mimetype == media and r.mimetype_params == {"charset": "utf-8"}
        text = r.get_data(as_text=True)
        assert c["title"][:20] in text or c["title"][:20].title() in text
        assert (c["source"] or "") in text
        if style == "csl-json":
            (item,) = json.loads(text)
            assert item["id"] == doc_id and item["type"] == "article-newspaper"
            assert item.get("container-title") == c["source"]
            assert item["issued"]["date-parts"][0] == [int(x) for x in c["date"].split("-")]


def test_a_reference_names_the_merged_outlet(client):
    """The conference article says "Azernews reports": its reference, like its citation, says AzerNEWS."""
    text = client.get("/api/cite", query_string={"doc_id": "004_9bf4b359064a2d30", "style": "apa"}).get_data(as_text=True)
    assert text.endswith("(2023, February 24). AzerNEWS.\n") and "Azernews" not in text


@pytest.mark.parametrize("query, status, words", [
    ({"doc_id": "no-such-article", "style": "apa"}, 404, "there is no article with the id 'no-such-article'"),
    ({"doc_id": "001_29f152ea19aaed47", "style": "mla"}, 400, "'style' must be one of bibtex, apa, chicago, csl-json"),
    ({"doc_id": "001_29f152ea19aaed47"}, 400, "'style' must be one of"),
    ({"style": "apa"}, 400, "missing 'doc_id'"),
    ({"doc_id": "", "style": "apa"}, 400, "missing 'doc_id'"),
])
def test_cite_errors(client, query, status, words):
    err = assert_error(client.get("/api/cite", query_string=query), status)
    assert words in err["message"]
