"""The web page through the Flask test client (real model and index): the server-rendered chat,
the source view, escaping, the HTML error pages and the security headers."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import lxml.html
import pytest
from conftest import ROOT, XSS_IMG, XSS_QUESTION, XSS_SCRIPT, make_config, weak_everywhere

from qa.http.app import create_app
from qa.config import WebConfig, load_config
from qa.errors import ConfigError
from qa.asking.service import Service
from qa.models import WEAK_NOTICE, Filters
from qa.http.web import ERROR_LEADS, describe_filters, pieces

QUESTION = "How many people died in the Khojaly massacre?"
OFF_TOPIC = "What is the capital of France?"
EXAMPLES = [QUESTION, "How many people's fate remains unknown?"]


def page(response):
    assert response.content_type == "text/html; charset=utf-8"
    return lxml.html.fromstring(response.get_data(as_text=True))


def text(node) -> str:
    return node.text_content()


def turns(doc) -> list:
    """The conversation's turns (not those inside the page's <template>s)."""
    return doc.get_element_by_id("log").find_class("turn")


@pytest.fixture()
def web_client(backend_config, backend_service):
    app = create_app(backend_config.replace(web=WebConfig(examples=EXAMPLES)), service=backend_service)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture()
def xss_client(xss_config, encoder):
    app = create_app(xss_config, service=Service(xss_config, encoder=encoder))
    return app.test_client()


@pytest.fixture()
def no_index_client(tmp_path, encoder):
    cfg = make_config(tmp_path, tmp_path / "data")
    app = create_app(cfg, service=Service(cfg, encoder=encoder))
    return app.test_client()


def test_empty_state_describes_the_corpus_and_offers_examples(web_client, backend_service):
    r = web_client.get("/")
    assert r.status_code == 200
    doc = page(r)
    summary = backend_service.store().summary()
    corpus = text(doc.get_element_by_id("intro-title").getparent().find_class("corpus")[0])
    assert corpus.startswith("5 articles")
    assert f"{summary.date_from} to {summary.date_to}" in corpus
    # The outlets are counted once each ("AzerNEWS" and "Azernews" are one) and offered in the filter,
    # not listed: an archive of 49 outlets would make a wall of names.
    assert "from 2 outlets (choose one under Filters)." in corpus
    assert not any(source in corpus for source in summary.sources)
    assert doc.get_element_by_id("intro-title").getparent().xpath(".//a[text()='Filters']/@href") == ["#source"]
    examples = doc.find_class("example")
    assert [text(a) for a in examples] == EXAMPLES
    assert parse_qs(urlsplit(examples[0].get("href")).query) == {"q": [QUESTION]}
    assert not turns(doc)
    # The turns are a list; the region announcing them is its parent (a list may not be a log itself).
    conversation = doc.get_element_by_id("log").getparent()
    assert doc.get_element_by_id("log").tag == "ol" and conversation.get("role") == "log"
    assert conversation.get("aria-live") == "polite" and conversation.get("aria-label") == "Conversation"
    label = doc.xpath("//label[@for='q']")
    assert label and text(label[0]) == "Your question"


def test_question_in_the_url_renders_the_cited_answer(web_client, client, backend_config):
    api = client.get("/api/ask", query_string={"q": QUESTION}).get_json()
    r = web_client.get("/", query_string={"q": QUESTION})
    assert r.status_code == 200
    doc = page(r)
    (turn,) = turns(doc)
    assert text(turn.find_class("q-text")[0]) == QUESTION
    assert doc.get_element_by_id("starter").get("hidden") is not None
    quote = turn.xpath(".//blockquote")[0]
    assert text(quote) == api["answer"]["text"]

    cite = api["answer"]["citation"]
    link = turn.find_class("cite-link")[0]
    assert text(link) == cite["title"]
    url = urlsplit(link.get("href"))
    assert unquote(url.path) == f"/articles/{cite['doc_id']}"
    assert parse_qs(url.query) == {"chunk": [str(cite["chunk_id"])], "start": [str(cite["start"])],
                                   "end": [str(cite["end"])]}
    assert url.fragment == f"chunk-{cite['chunk_id']}"
    assert text(turn.find_class("meta")[0]) == f"{cite['source'] or 'outlet not stated'} · {cite['date']}"

    passages = turn.find_class("passage")
    assert len(passages) == len(api["passages"]) >= 2
    for node, passage in zip(passages, api["passages"]):
        check_passage(node, passage)
        assert "relevance" not in text(node) and not node.find_class("score")  # no score a reader cannot read
    check_cite_buttons(turn, [api["answer"]["citation"]] + [p["citation"] for p in api["passages"]])
    share = turn.find_class("share")[0].xpath(".//a")[0]
    assert parse_qs(urlsplit(share.get("href")).query) == {"q": [QUESTION]}


def check_passage(node, passage: dict) -> None:
    """A passage shows its excerpt (the answering sentence and its neighbours) and opens, on request,
    to the whole passage; every shown text is the API's verbatim text, every mark a highlight."""
    e, whole = passage["excerpt"], passage["text"]
    marks = [whole[h["start"]:h["end"]] for h in passage["highlights"]]
    if e["start"] > 0 or e["end"] < len(whole):
        (short,) = node.find_class("p-excerpt")
        assert text(short) == whole[e["start"]:e["end"]]
        assert set(text(m) for m in short.xpath(".//mark")) <= set(marks) and short.xpath(".//mark")
        (details,) = node.xpath("./details[@class='whole']")
        assert text(details.find("summary")) == "Whole passage" and details.get("open") is None
        node = details
    (full,) = node.find_class("p-text")
    assert text(full) == whole
    assert [text(m) for m in full.xpath(".//mark")] == marks


def check_cite_buttons(turn, citations: list[dict]) -> None:
    """Beside each citation, "Cite" offers each style: a link to /api/cite, and a copy button."""
    blocks = turn.find_class("cite-as")
    assert len(blocks) == len(citations)
    for block, c in zip(blocks, citations):
        assert text(block.find("summary")) == "Cite"
        links = [urlsplit(a.get("href")) for a in block.find_class("cite-style")]
        assert {u.path for u in links} == {"/api/cite"}
        assert [parse_qs(u.query) for u in links] == [{"doc_id": [c["doc_id"]], "style": [s]}
                                                      for s in ("apa", "chicago", "bibtex", "csl-json")]
        buttons = block.xpath(".//button[@class='copy']")
        assert [b.get("data-url") for b in buttons] == [a.get("href") for a in block.find_class("cite-style")]
        assert [text(b) for b in buttons] == ["Copy APA", "Copy Chicago", "Copy BibTeX", "Copy CSL-JSON"]


def test_top_k_in_the_url(web_client):
    doc = page(web_client.get("/", query_string={"q": QUESTION, "top_k": "2"}))
    assert len(doc.find_class("passage")) == 2


def test_abstention_is_a_plain_reply_without_passages(web_client):
    r = web_client.get("/", query_string={"q": OFF_TOPIC})
    assert r.status_code == 200
    (turn,) = turns(page(r))
    assert turn.find_class("abstain")
    assert "The articles do not answer this." in text(turn)
    assert not turn.xpath(".//blockquote") and not turn.find_class("passage")


@pytest.fixture()
def weak_web_client(backend_config, encoder):
    cfg = weak_everywhere(backend_config)
    return create_app(cfg, service=Service(cfg, encoder=encoder)).test_client()


def test_a_weak_reply_says_so_and_shows_the_closest_passages_without_a_quote(weak_web_client, client):
    expected = client.post("/api/ask", json={"question": QUESTION}).get_json()["passages"]
    (in_page,) = turns(page(weak_web_client.get("/", query_string={"q": QUESTION})))
    scripted = lxml.html.fromstring(weak_web_client.post("/reply", json={"question": QUESTION}).get_data(as_text=True))
    for turn in (in_page, scripted):
        assert turn.find_class("weak") and not turn.find_class("answer")
        assert text(turn.find_class("weak-lead")[0]) == WEAK_NOTICE
        assert not turn.xpath(".//blockquote") and not turn.find_class("differ")
        assert text(turn.xpath(".//details[@class='passages']/summary")[0]) == f"Closest passages ({len(expected)})"
        links = turn.xpath(".//li[@class='passage']/div[@class='cite']//a[@class='cite-link']")
        starts = [parse_qs(urlsplit(a.get("href")).query)["start"] for a in links]
        assert starts == [[str(p["citation"]["start"])] for p in expected]  # the same passages, in order


@pytest.mark.parametrize("query, words", [
    ({"q": "x" * 2001}, "the limit is 2000"),
    ({"q": "   "}, "'question' is empty"),
    ({"q": "what\x07"}, "control characters"),
    ({"q": QUESTION, "top_k": "0"}, "'top_k' must be"),
])
def test_bad_questions_are_replies_in_the_conversation(web_client, query, words):
    r = web_client.get("/", query_string=query)
    assert r.status_code == 400
    (turn,) = turns(page(r))
    (reply,) = turn.find_class("error")
    assert ERROR_LEADS["bad_request"] in text(reply) and words in text(reply)


def test_without_an_index_the_page_explains_instead_of_breaking(no_index_client):
    r = no_index_client.get("/")
    assert r.status_code == 200
    notice = text(page(r).find_class("notice")[0])
    assert ERROR_LEADS["index_unavailable"] in notice and "qa index build" in notice

    r = no_index_client.get("/", query_string={"q": QUESTION})
    assert r.status_code == 503
    assert ERROR_LEADS["index_unavailable"] in text(turns(page(r))[0].find_class("error")[0])

    r = no_index_client.get("/articles/anything")
    assert r.status_code == 503
    assert "qa index build" in text(page(r).get_element_by_id("error-title").getparent())
    assert no_index_client.get("/api/ask?q=hi").is_json


def reply_turn(client, body: dict, status: int = 200):
    """The turn POST /reply renders for the page's script: one <li class="turn">, nothing else."""
    r = client.post("/reply", json=body)
    assert r.status_code == status and r.mimetype == "text/html"
    (turn,) = lxml.html.fragments_fromstring(r.get_data(as_text=True))
    assert turn.tag == "li" and turn.get("class") == "turn"
    return turn


@pytest.mark.parametrize("question, filters", [
    (QUESTION, None), (OFF_TOPIC, None), (QUESTION, {"source": "Trend", "date_from": "2023-01-01"}),
])
def test_the_scripts_reply_is_the_turn_the_page_renders(web_client, question, filters):
    """One drawing of a reply: what the script inserts is what the page shows without it."""
    fragment = reply_turn(web_client, {"question": question, "history": [], "filters": filters})
    (in_page,) = turns(page(web_client.get("/", query_string={"q": question, **(filters or {})})))
    assert lxml.html.tostring(fragment, with_tail=False) == lxml.html.tostring(in_page, with_tail=False)


def test_the_scripts_reply_uses_the_history(web_client):
    turn = reply_turn(web_client, {"question": "And how many of them were children?", "history": [QUESTION]})
    assert text(turn.find_class("q-text")[0]) == "And how many of them were children?"
    assert turn.xpath(".//blockquote") and turn.find_class("share")


@pytest.mark.parametrize("body, words", [
    ({"question": "x" * 2001}, "the limit is 2000"),
    ({"question": QUESTION, "filters": {"date_from": "2025-01-01", "date_to": "2024-01-01"}}, "is after 'date_to'"),
    ({"question": QUESTION, "history": ["When?", " "]}, "'history': each item is empty"),
    ({"question": QUESTION, "top_k": 0}, "'top_k' must be"),
])
def test_a_refused_question_is_a_turn_with_its_reason(web_client, body, words):
    turn = reply_turn(web_client, body, 400)
    assert text(turn.find_class("q-text")[0]) == body["question"]
    (reply,) = turn.find_class("error")
    assert ERROR_LEADS["bad_request"] in text(reply) and words in text(reply)


@pytest.mark.parametrize("data, content_type, status, words", [
    (b"question=hi", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
    (b"{", "application/json", 400, "not valid JSON"),
    (b'{"question": "' + b"a" * 70_000 + b'"}', "application/json", 413, ""),
])
def test_a_reply_request_the_server_cannot_read_is_a_turn(web_client, data, content_type, status, words):
    r = web_client.post("/reply", data=data, content_type=content_type)
    assert r.status_code == status and r.mimetype == "text/html"
    (turn,) = lxml.html.fragments_fromstring(r.get_data(as_text=True))
    assert ERROR_LEADS["default" if status != 400 else "bad_request"] in text(turn) and words in text(turn)


def test_the_reply_endpoint_is_not_a_page(web_client):
    r = web_client.get("/reply")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    assert text(page(r).get_element_by_id("error-title")) == "That cannot be done here"


def test_without_an_index_the_scripts_reply_says_so(no_index_client):
    (reply,) = reply_turn(no_index_client, {"question": QUESTION}, 503).find_class("error")
    assert ERROR_LEADS["index_unavailable"] in text(reply) and "qa index build" in text(reply)


def test_an_unexpected_error_in_a_reply_is_a_turn_that_tells_nothing_inside(seed_config):
    class Broken:
        def answerer(self):
            raise RuntimeError("secret detail")

    app = create_app(seed_config, service=Broken())
    r = app.test_client().post("/reply", json={"question": QUESTION})
    assert r.status_code == 500 and "secret detail" not in r.get_data(as_text=True)
    (turn,) = lxml.html.fragments_fromstring(r.get_data(as_text=True))
    assert ERROR_LEADS["default"] in text(turn.find_class("error")[0])


def template_turn(doc, name: str):
    (node,) = doc.xpath(f"//template[@id='turn-{name}']")
    (turn,) = node.find_class("turn")
    return turn


def test_the_turns_the_script_shows_alone_are_rendered_into_the_page(web_client):
    doc = page(web_client.get("/"))
    pending = template_turn(doc, "pending")
    assert text(pending.find_class("who")[0]) == "You asked" and pending.find_class("pending")
    unreachable = template_turn(doc, "unreachable")
    assert ERROR_LEADS["unreachable"] in text(unreachable.find_class("error")[0])
    assert text(unreachable.find_class("q-text")[0]) == ""  # the script puts the question in
    assert doc.get_element_by_id("ask").get("data-reply") == "/reply"


REPLY_WORDS = ["You asked", "Not answered", "From the articles", "Searching the articles", "Filtered",
               "do not answer", "Supporting passages", "Link to this answer", "publisher", "outlet not stated",
               "undated", "Sources differ", "Whole passage", "Copy APA", "citation copied", "Outlet not stated",
               *ERROR_LEADS.values()]


def test_the_pages_script_writes_no_words_of_a_reply():
    """Every word of a reply comes from the server's template; the script only inserts it."""
    script = (ROOT / "qa" / "http" / "static" / "app.js").read_text(encoding="utf-8")
    code = re.sub(r"//.*", "", script)
    assert [w for w in REPLY_WORDS if w.lower() in code.lower()] == []
    assert re.findall(r"createElement\((\S+?)\)", code) == ['"template"']


def test_source_view_marks_the_cited_passage_by_offsets(web_client, backend_service):
    store = backend_service.store()
    row = store.chunks([3])[3]
    article = store.article(row.doc_id)
    start, end = row.start + 10, row.end - 5
    r = web_client.get(f"/articles/{row.doc_id}", query_string={"start": start, "end": end, "chunk": 3})
    assert r.status_code == 200
    doc = page(r)
    assert text(doc.get_element_by_id("article-title")) == article.title
    body = doc.find_class("text")[0]
    assert text(body) == article.text[article.body_start:]
    (mark,) = body.xpath(".//mark")
    assert text(mark) == article.text[start:end]
    assert mark.get("id") == "chunk-3"
    facts = text(doc.find_class("facts")[0])
    assert article.path in facts and article.date in facts


def test_source_view_marks_a_whole_chunk_or_offsets_alone(web_client, backend_service):
    store = backend_service.store()
    row = store.chunks([3])[3]
    article = store.article(row.doc_id)
    mark = page(web_client.get(f"/articles/{row.doc_id}?chunk=3")).xpath("//mark")[0]
    assert text(mark) == row.text == article.text[row.start:row.end]
    mark = page(web_client.get(f"/articles/{row.doc_id}?start={row.start}&end={row.end}")).xpath("//mark")[0]
    assert mark.get("id") == "passage" and text(mark) == row.text
    assert not page(web_client.get(f"/articles/{row.doc_id}")).xpath("//mark")


def test_every_citation_link_opens_its_passage(web_client, backend_service):
    store = backend_service.store()
    doc = page(web_client.get("/", query_string={"q": QUESTION}))
    links = doc.find_class("cite-link")
    assert len(links) == 1 + len(doc.find_class("passage")) >= 3  # the answer and each passage
    for link in links:
        url = urlsplit(link.get("href"))
        query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        article = store.article(unquote(url.path).removeprefix("/articles/"))
        mark = page(web_client.get(f"{url.path}?{url.query}")).get_element_by_id(url.fragment)
        assert mark.tag == "mark"
        assert text(mark) == article.text[query["start"]:query["end"]]


@pytest.mark.parametrize("query, status, words", [
    ("start=x&end=5", 400, "'start' must be a character offset"),
    ("start=5", 400, "is not inside this article"),
    ("start=50&end=40", 400, "is not inside this article"),
    ("start=0&end=999999", 400, "is not inside this article"),
    ("chunk=99999", 404, "has no passage 99999"),
])
def test_source_view_rejects_bad_passages_with_a_page(web_client, backend_service, query, status, words):
    doc_id = backend_service.store().chunks([3])[3].doc_id
    r = web_client.get(f"/articles/{doc_id}?{query}")
    assert r.status_code == status
    assert words in text(page(r).get_element_by_id("error-title").getparent())


def test_a_chunk_of_another_article_is_not_found(web_client, backend_service):
    rows = backend_service.store().chunks(range(30))
    first = rows[0]
    other = next(r for r in rows.values() if r.doc_id != first.doc_id)
    assert web_client.get(f"/articles/{first.doc_id}?chunk={other.chunk_id}").status_code == 404


def test_unknown_pages_are_404_pages_in_the_site_style_and_the_api_keeps_json(web_client):
    for path in ("/articles/no-such-article", "/no-such-page"):
        r = web_client.get(path)
        assert r.status_code == 404
        doc = page(r)
        assert text(doc.get_element_by_id("error-title")) == "Page not found"
        assert doc.find_class("brand") and doc.xpath("//link[@rel='stylesheet']")
    r = web_client.get("/api/no-such-endpoint")
    assert r.status_code == 404 and r.is_json


def test_wrong_method_on_a_page_is_a_405_page(web_client):
    r = web_client.post("/")
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]
    assert text(page(r).get_element_by_id("error-title")) == "That cannot be done here"


def test_an_unexpected_error_on_a_page_is_a_500_page(seed_config, seed_service):
    app = create_app(seed_config, service=seed_service)

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    r = app.test_client().get("/boom")
    assert r.status_code == 500
    assert text(page(r).get_element_by_id("error-title")) == "Something went wrong"
    assert "boom" not in r.get_data(as_text=True)


def test_security_headers_on_every_response(web_client):
    for path in ("/", "/?q=hello", "/static/app.js", "/static/style.css", "/api/health", "/no-such-page"):
        r = web_client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "default-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"


def test_pages_load_nothing_from_outside_and_no_inline_script(web_client):
    doc = page(web_client.get("/", query_string={"q": QUESTION}))
    for node in doc.xpath("//script"):
        assert node.get("src", "").startswith("/static/") or node.get("type") == "application/json"
    for node in doc.xpath("//link[@href] | //img | //iframe"):
        assert node.get("href", node.get("src", "")).startswith("/")
    assert not doc.xpath("//*[@style]") and not doc.xpath("//style")


def test_markup_in_articles_and_questions_is_shown_as_text(xss_client, xss_config):
    r = xss_client.get("/", query_string={"q": XSS_QUESTION})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert XSS_SCRIPT not in html and XSS_IMG not in html
    doc = page(r)
    assert not doc.xpath("//script[not(@src) and not(@type='application/json')]") and not doc.xpath("//img")
    quote = text(doc.xpath("//blockquote")[0])
    assert XSS_SCRIPT in quote
    link = doc.find_class("cite-link")[0]
    assert XSS_SCRIPT in text(link) and XSS_IMG in text(link)
    assert not doc.find_class("orig")  # its url is javascript:, never made a link

    r = xss_client.get(urlsplit(link.get("href")).path)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and XSS_SCRIPT not in html and XSS_IMG not in html
    doc = page(r)
    assert XSS_IMG in text(doc.get_element_by_id("article-title"))
    assert XSS_SCRIPT in text(doc.find_class("text")[0])
    assert not doc.xpath("//script[not(@src) and not(@type='application/json')]") and not doc.xpath("//img") and not doc.xpath("//dd/a")

    r = xss_client.get("/", query_string={"q": XSS_SCRIPT + XSS_IMG})
    assert XSS_SCRIPT not in r.get_data(as_text=True)
    assert text(page(r).find_class("q-text")[0]) == XSS_SCRIPT + XSS_IMG


def test_markup_in_the_scripts_reply_is_shown_as_text(xss_client):
    r = xss_client.post("/reply", json={"question": XSS_QUESTION + XSS_IMG})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and XSS_SCRIPT not in html and XSS_IMG not in html
    (turn,) = lxml.html.fragments_fromstring(html)
    assert not turn.xpath(".//script | .//img") and not turn.find_class("orig")
    assert text(turn.find_class("q-text")[0]) == XSS_QUESTION + XSS_IMG
    assert XSS_SCRIPT in text(turn.xpath(".//blockquote")[0])


def test_doc_ids_with_folders_and_non_ascii_letters_open(xss_client):
    r = xss_client.get("/articles/Ünï festivals/harbour")
    assert r.status_code == 200
    assert "Test Wire" in text(page(r).find_class("facts")[0])


def replies(client, query: dict):
    """The single turn of GET / with `query`, and the citations' "outlet · date" lines."""
    r = client.get("/", query_string=query)
    assert r.status_code == 200
    (turn,) = turns(page(r))
    return turn, [text(m) for m in turn.find_class("meta")]


def test_filters_form_offers_the_index_outlets(web_client, backend_service):
    doc = page(web_client.get("/"))
    form = doc.get_element_by_id("ask")
    (details,) = form.xpath(".//details[@id='filters']")
    assert text(details.find("summary")) == "Filters and grouping" and details.get("open") is None
    for name, words in (("date_from", "From"), ("date_to", "To")):
        (field,) = form.xpath(f".//input[@name='{name}']")
        assert field.get("type") == "date" and text(field.getparent()).strip() == words
    (select,) = form.xpath(".//select[@name='source']")
    assert text(select.getparent()).startswith("Outlet")
    sources = backend_service.store().summary().sources
    choices = list(backend_service.answerer().outlets.names)
    assert choices == ["AzerNEWS", "Trend"] and len(sources) == 3  # "Azernews" is AzerNEWS
    assert [(o.get("value"), text(o)) for o in select.xpath("option")] == [("", "Any outlet")] + [(None, s) for s in choices]
    assert not select.xpath("option[@selected]")
    (arrange,) = form.xpath(".//select[@name='group_by']")
    assert text(arrange.getparent()).startswith("Passages")
    assert [(o.get("value"), text(o)) for o in arrange.xpath("option")] == [
        ("", "by relevance"), ("source", "by outlet"), ("date", "by date, oldest first")]


def test_an_outlet_filter_keeps_only_that_outlets_passages(web_client, backend_service):
    _, unfiltered = replies(web_client, {"q": QUESTION, "top_k": 10})
    for source in backend_service.answerer().outlets.names:
        turn, metas = replies(web_client, {"q": QUESTION, "top_k": 10, "source": source})
        outlet = [m.split(" · ")[0] for m in metas]  # citations name the merged outlet
        assert outlet and set(outlet) == {source}
        assert any(m.split(" · ")[0].lower() != source.lower() for m in unfiltered)  # it excluded something
        assert text(turn.find_class("filtered")[0]) == f"Filtered: {source}"
        share = turn.find_class("share")[0].xpath(".//a")[0]
        assert parse_qs(urlsplit(share.get("href")).query) == {"q": [QUESTION], "source": [source]}
        r = web_client.get("/", query_string={"q": QUESTION, "source": source})
        assert page(r).xpath("//details[@id='filters']")[0].get("open") is not None
        assert page(r).xpath("//select[@name='source']/option[@selected]/text()") == [source]


def test_a_date_range_excludes_articles_outside_it(web_client):
    _, unfiltered = replies(web_client, {"q": QUESTION, "top_k": 10})
    dates = {m.rsplit(" · ", 1)[1] for m in unfiltered}
    assert min(dates) < "2025-01-01" <= max(dates)
    turn, metas = replies(web_client, {"q": QUESTION, "top_k": 10, "date_from": "2025-01-01"})
    assert metas and all(m.rsplit(" · ", 1)[1] >= "2025-01-01" for m in metas)
    assert text(turn.find_class("filtered")[0]) == "Filtered: from 2025-01-01"
    turn, metas = replies(web_client, {"q": QUESTION, "top_k": 10, "date_from": "2023-01-01", "date_to": "2024-12-31"})
    assert metas and all("2023-01-01" <= m.rsplit(" · ", 1)[1] <= "2024-12-31" for m in metas)
    assert text(turn.find_class("filtered")[0]) == "Filtered: from 2023-01-01 to 2024-12-31"
    doc = page(web_client.get("/", query_string={"q": QUESTION, "date_to": "2024-12-31"}))
    assert doc.xpath("//input[@name='date_to']/@value") == ["2024-12-31"]
    assert doc.xpath("//input[@name='date_from']/@value") == [""]


def test_a_filter_that_leaves_nothing_abstains_and_says_so(web_client):
    turn, _ = replies(web_client, {"q": QUESTION, "date_to": "1990-01-01"})
    assert turn.find_class("abstain") and not turn.find_class("passage")
    assert text(turn.find_class("filtered")[0]) == "Filtered: until 1990-01-01"


def test_the_no_js_forms_empty_filter_fields_are_no_filter(web_client):
    turn, metas = replies(web_client, {"q": QUESTION, "date_from": "", "date_to": "", "source": ""})
    assert metas == replies(web_client, {"q": QUESTION})[1]
    assert not turn.find_class("filtered")
    assert parse_qs(urlsplit(turn.find_class("share")[0].xpath(".//a")[0].get("href")).query) == {"q": [QUESTION]}


@pytest.mark.parametrize("query, words", [
    ({"date_from": "yesterday"}, "filter 'date_from' must be a date YYYY-MM-DD"),
    ({"date_to": "2025-02-30"}, "filter 'date_to' must be a date YYYY-MM-DD"),
    ({"date_from": "2025-01-01", "date_to": "2024-01-01"}, "filter 'date_from' is after 'date_to'"),
    ({"source": "   "}, "filter 'source' must be a non-empty string"),
])
def test_invalid_filters_are_replies_in_words(web_client, query, words):
    r = web_client.get("/", query_string={"q": QUESTION, **query})
    assert r.status_code == 400
    doc = page(r)
    (reply,) = turns(doc)[0].find_class("error")
    assert ERROR_LEADS["bad_request"] in text(reply) and words in text(reply)
    assert doc.get_element_by_id("ask") is not None and doc.find_class("corpus")


def test_filters_are_described_in_one_line():
    assert describe_filters(Filters()) is None
    assert describe_filters(Filters(sources=("AzerNEWS",), date_from="2025-01-01")) == "Filtered: AzerNEWS, from 2025-01-01"
    assert describe_filters(Filters(sources=("Trend", "AzerNEWS"), doc_ids=("a.txt",), date_to="2024-01-01")) == (
        "Filtered: Trend or AzerNEWS, a.txt, until 2024-01-01")


def test_pieces_cut_text_at_offsets_only():
    assert pieces("abcdef", [{"start": 1, "end": 3}]) == [("a", False), ("bc", True), ("def", False)]
    assert pieces("abcdef", [{"start": 4, "end": 6}, {"start": 0, "end": 2}, {"start": 1, "end": 5},
                             {"start": 5, "end": 9}, {"start": 3, "end": 3}]) == [
        ("ab", True), ("cd", False), ("ef", True)]
    assert pieces("abc", []) == [("abc", False)]


def test_example_questions_must_be_text(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("web:\n  examples:\n    - How many?\n    - Where?\n")
    assert load_config(good).web.examples == ["How many?", "Where?"]
    for bad in ("web:\n  examples:\n    - How many?\n    - 3\n", "web:\n  examples: ['  ']\n", "web:\n  examples: How\n"):
        path = tmp_path / "bad.yaml"
        path.write_text(bad)
        with pytest.raises(ConfigError, match="web.examples"):
            load_config(path)


@pytest.mark.parametrize("group_by, head", [("source", "Outlet not stated"), ("date", "Undated")])
def test_a_reply_arranged_by_outlet_or_by_date(web_client, client, group_by, head):
    """The same passages under a head per outlet (with its dates) or per date (with its outlets)."""
    api = client.get("/api/ask", query_string={"q": QUESTION, "top_k": 10, "group_by": group_by}).get_json()
    r = web_client.get("/", query_string={"q": QUESTION, "top_k": 10, "group_by": group_by})
    doc = page(r)
    (turn,) = turns(doc)
    groups = turn.find_class("group")
    assert len(groups) == len(api["groups"]) >= 2
    for node, g in zip(groups, api["groups"]):
        key, meta = node.find_class("group-head")[0].xpath("./strong/text()")[0], text(node.find_class("meta")[0])
        assert key == (g["key"] or head)
        assert meta == (", ".join(g["dates"] if group_by == "source" else g["sources"]) or meta)
        for passage_node, i in zip(node.find_class("passage"), g["passages"], strict=True):
            check_passage(passage_node, api["passages"][i])
    assert doc.xpath("//details[@id='filters']")[0].get("open") is not None
    assert doc.xpath("//select[@name='group_by']/option[@selected]/@value") == [group_by]
    share = turn.find_class("share")[0].xpath(".//a")[0]
    assert parse_qs(urlsplit(share.get("href")).query) == {"q": [QUESTION], "group_by": [group_by]}
    fragment = reply_turn(web_client, {"question": QUESTION, "top_k": 10, "group_by": group_by})
    assert lxml.html.tostring(fragment, with_tail=False) == lxml.html.tostring(turn, with_tail=False)


def test_an_unknown_arrangement_is_a_reply_in_words(web_client):
    r = web_client.get("/", query_string={"q": QUESTION, "group_by": "colour"})
    assert r.status_code == 400
    assert "'group_by' must be one of source, date" in text(turns(page(r))[0].find_class("error")[0])


def test_sources_that_differ_are_shown_side_by_side(web_client, client):
    question = "How many people's fate remains unknown?"
    api = client.get("/api/ask", query_string={"q": question}).get_json()
    (turn,) = turns(page(web_client.get("/", query_string={"q": question})))
    (differ,) = turn.find_class("differ")
    assert text(differ.find_class("differ-lead")[0]).startswith("Sources differ.")
    sides = differ.find_class("side")
    quotes = [api["answer"], *api["answer"]["alternatives"]]
    assert len(sides) == len(quotes) == 2
    for side, q in zip(sides, quotes):
        assert text(side.xpath(".//blockquote")[0]) == q["text"]
        assert text(side.find_class("meta")[0]) == f"{q['citation']['source'] or 'outlet not stated'} · {q['citation']['date']}"
    assert len(turn.xpath(".//blockquote")) == 2  # the answer is one of the sides, not shown twice
    check_cite_buttons(turn, [q["citation"] for q in quotes] + [p["citation"] for p in api["passages"]])
    (agreeing,) = turns(page(web_client.get("/", query_string={"q": QUESTION})))
    assert not agreeing.find_class("differ") and len(agreeing.xpath(".//blockquote")) == 1
