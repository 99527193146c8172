"""The page in a real Chromium (Debian's, never a downloaded one) against real `qa serve`
processes on free loopback ports, each with a temporary index. Writes the README's screenshots."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from conftest import ROOT, XSS_IMG, XSS_QUESTION, XSS_SCRIPT, ServerProcess, make_config, stateless_server
from playwright.sync_api import Page, expect, sync_playwright

from qa.storage.local.versions import POINTER

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
DOCS = ROOT / "docs"
QUESTION = "How many people died in the Khojaly massacre?"
SECOND = "Where was the conference on the Karabakh heritage held?"
OFF_TOPIC = "What is the capital of France?"
EXAMPLES = [QUESTION, SECOND, "How many people's fate remains unknown?"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    DOCS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web_server(seed_config, tmp_path_factory):
    config = tmp_path_factory.mktemp("web") / "config.yaml"
    config.write_text(yaml.safe_dump({"web": {"examples": EXAMPLES}}), encoding="utf-8")
    proc = ServerProcess(seed_config, "--config", str(config)).wait_ready()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def backend_web_server(backend_config, seed_config, web_server, tmp_path_factory):
    """`web_server` on each storage backend; on Milvus a server with no index or data folder."""
    if backend_config is seed_config:
        yield web_server
        return
    proc = stateless_server(backend_config, tmp_path_factory.mktemp("web-milvus"), web={"examples": EXAMPLES})
    yield proc.wait_ready()
    proc.stop()


@pytest.fixture(scope="module")
def xss_server(xss_config):
    proc = ServerProcess(xss_config).wait_ready()
    yield proc
    proc.stop()


def new_page(browser, **options) -> Page:
    """A page in a fresh context that records every dialog (an alert would mean script ran)."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    return page


@pytest.fixture()
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


def api_answer(server: ServerProcess, question: str) -> dict:
    return requests.post(server.url + "/api/ask", json={"question": question}, timeout=30).json()


def ask(page: Page, question: str):
    """Type a question and press Enter; return the reply once it has replaced the busy state."""
    turns = page.locator("#log > .turn")
    before = turns.count()
    page.fill("#q", question)
    page.press("#q", "Enter")
    expect(turns).to_have_count(before + 1)
    turn = turns.nth(before)
    expect(turn.locator(".reply:not(.pending)")).to_be_visible()
    return turn


def test_ask_with_enter_and_keep_the_conversation(backend_web_server, backend_config, page):
    web_server = backend_web_server
    page.goto(web_server.url + "/")
    expect(page.locator(".corpus")).to_contain_text("5 articles")
    expect(page.locator("a.example")).to_have_text(EXAMPLES)
    expect(page.locator("#q-hint")).to_be_visible()

    page.fill("#q", "first line")
    page.press("#q", "Shift+Enter")
    page.type("#q", "second line")
    assert page.input_value("#q") == "first line\nsecond line"
    expect(page.locator("#log > .turn")).to_have_count(0)

    expected = api_answer(web_server, QUESTION)
    turn = ask(page, QUESTION)
    expect(turn.locator(".q-text")).to_have_text(QUESTION)
    expect(turn.locator("blockquote.quote")).to_have_text(expected["answer"]["text"])
    cite = expected["answer"]["citation"]
    answer_cite = turn.locator(".reply.answer > .cite")
    expect(answer_cite.locator(".cite-link")).to_have_text(cite["title"])
    expect(answer_cite.locator(".meta")).to_have_text(f"{cite['source'] or 'outlet not stated'} · {cite['date']}")
    expect(turn.locator(".passage")).to_have_count(len(expected["passages"]))
    first = expected["passages"][0]
    h = first["highlights"][0]
    expect(turn.locator(".passage").first.locator("mark")).to_have_text(first["text"][h["start"]:h["end"]])
    expect(page.locator("#starter")).to_be_hidden()
    expect(page.locator("#q")).to_be_focused()
    if backend_config.storage.backend == "local":  # the README's picture, taken once
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(DOCS / "screenshot-desktop.png"))

    with page.expect_request("**/reply") as request:
        second = ask(page, SECOND)
    assert request.value.post_data_json == {"question": SECOND, "history": [QUESTION]}
    expect(page.locator("#log .q-text")).to_have_text([QUESTION, SECOND])
    expect(second.locator("blockquote.quote")).to_have_text(api_answer(web_server, SECOND)["answer"]["text"])
    expect(second.locator(".q-text")).to_be_in_viewport()
    assert page.dialogs == []


def test_filters_are_sent_with_the_question_and_shown_on_the_reply(web_server, page):
    page.goto(web_server.url + "/")
    expect(page.locator("#source")).to_be_hidden()  # the disclosure starts closed
    page.click("#filters summary")
    outlet = page.locator("#source option").last.text_content()
    page.select_option("#source", label=outlet)
    with page.expect_request("**/reply") as request:
        turn = ask(page, QUESTION)
    assert request.value.post_data_json == {"question": QUESTION, "history": [], "filters": {"source": outlet}}
    expect(turn.locator(".filtered")).to_have_text(f"Filtered: {outlet}")
    metas = turn.locator(".passage .cite .meta")
    expect(metas.first).to_be_visible()
    for meta in metas.all_text_contents() + [turn.locator(".reply.answer > .cite .meta").text_content()]:
        assert meta.split(" · ")[0].lower() == outlet.lower()  # an outlet filter ignores case
    share = turn.locator(".share a").get_attribute("href")
    assert parse_qs(urlsplit(share).query) == {"q": [QUESTION], "source": [outlet]}

    page.fill("#date_from", "2025-01-01")
    page.fill("#date_to", "2024-01-01")
    with page.expect_request("**/reply") as request:
        turn = ask(page, SECOND)
    assert request.value.post_data_json["filters"] == {"source": outlet, "date_from": "2025-01-01", "date_to": "2024-01-01"}
    expect(turn.locator(".reply.error")).to_contain_text("filter 'date_from' is after 'date_to'")
    assert page.input_value("#q") == SECOND

    page.fill("#date_to", "")
    page.select_option("#source", value="")
    with page.expect_request("**/reply") as request:
        turn = ask(page, QUESTION)
    # The refused question was never asked, so it is no follow-up's history.
    assert request.value.post_data_json["filters"] == {"date_from": "2025-01-01"}
    assert request.value.post_data_json["history"] == [QUESTION]
    expect(turn.locator(".filtered")).to_have_text("Filtered: from 2025-01-01")
    for meta in turn.locator(".cite .meta").all_text_contents():
        assert meta.split(" · ")[1] >= "2025-01-01"
    assert page.dialogs == []


def test_citation_opens_the_source_view_with_the_passage_marked(web_server, page):
    page.goto(web_server.url + "/")
    expected = api_answer(web_server, QUESTION)["answer"]
    turn = ask(page, QUESTION)
    turn.locator(".reply.answer > .cite .cite-link").click()
    page.wait_for_url("**/articles/**")
    mark = page.locator(f"mark#chunk-{expected['citation']['chunk_id']}")
    expect(mark).to_have_text(expected["text"])
    expect(mark).to_be_in_viewport()
    expect(page.locator("#article-title")).to_have_text(expected["citation"]["title"])


def test_a_fragment_alone_marks_its_chunk(web_server, page):
    cite = api_answer(web_server, QUESTION)["passages"][0]["citation"]
    page.goto(f"{web_server.url}/articles/{cite['doc_id']}#chunk-{cite['chunk_id']}")
    mark = page.locator(f"mark#chunk-{cite['chunk_id']}")
    expect(mark).to_be_in_viewport()
    assert len(mark.text_content()) == cite["end"] - cite["start"]


def test_abstention_reply(web_server, page):
    page.goto(web_server.url + "/")
    turn = ask(page, OFF_TOPIC)
    expect(turn.locator(".reply.abstain")).to_contain_text("The articles do not answer this.")
    expect(turn.locator(".passage")).to_have_count(0)
    expect(turn.locator("blockquote")).to_have_count(0)


def test_markup_in_an_article_is_shown_as_text_and_never_runs(xss_server, page):
    page.goto(xss_server.url + "/")
    turn = ask(page, XSS_QUESTION)
    expect(turn.locator("blockquote.quote")).to_contain_text(XSS_SCRIPT)
    expect(turn.locator(".reply.answer > .cite .cite-link")).to_have_text(
        f"{XSS_SCRIPT} Harbour festival {XSS_IMG}")
    expect(turn.locator(".passage").first).to_contain_text(XSS_IMG)
    expect(page.locator("#log img, #log script")).to_have_count(0)
    expect(turn.locator("a.orig")).to_have_count(0)  # a javascript: url is never made a link

    turn.locator(".reply.answer > .cite .cite-link").click()
    page.wait_for_url("**/articles/**")
    expect(page.locator("#article-title")).to_contain_text(XSS_IMG)
    expect(page.locator("article .text")).to_contain_text(XSS_SCRIPT)
    expect(page.locator("main img, main script")).to_have_count(0)

    page.goto(xss_server.url + "/?q=" + requests.utils.quote(XSS_QUESTION))
    expect(page.locator("blockquote.quote")).to_contain_text(XSS_SCRIPT)
    page.goto(xss_server.url + "/?q=" + requests.utils.quote(XSS_SCRIPT + XSS_IMG))
    expect(page.locator(".q-text")).to_have_text(XSS_SCRIPT + XSS_IMG)
    assert page.dialogs == []


def test_without_javascript_the_url_and_the_form_answer(web_server, browser):
    page = new_page(browser, java_script_enabled=False)
    expected = api_answer(web_server, QUESTION)["answer"]["text"]
    page.goto(web_server.url + "/?q=" + requests.utils.quote(QUESTION))
    expect(page.locator("blockquote.quote")).to_have_text(expected)
    expect(page.locator("#q-hint")).to_be_hidden()  # Enter-sends is a scripted nicety

    page.goto(web_server.url + "/")
    page.fill("#q", SECOND)
    page.click("#send")
    page.wait_for_url("**/?q=*")
    expect(page.locator(".q-text")).to_have_text(SECOND)
    expect(page.locator("blockquote.quote")).to_have_count(1)

    page.click("#filters summary")
    outlet = page.locator("#source option").last.text_content()
    page.select_option("#source", label=outlet)
    page.fill("#q", QUESTION)
    page.click("#send")
    page.wait_for_url("**/?q=*")
    assert parse_qs(urlsplit(page.url).query)["source"] == [outlet]
    expect(page.locator(".filtered")).to_have_text(f"Filtered: {outlet}")
    expect(page.locator("#source")).to_have_value(outlet)  # the form keeps the filter for the next question
    page.context.close()


def test_phone_width_never_scrolls_sideways(web_server, browser):
    page = new_page(browser, viewport={"width": 375, "height": 812}, device_scale_factor=2,
                    is_mobile=True, has_touch=True)
    page.goto(web_server.url + "/")
    overflow = "document.documentElement.scrollWidth - window.innerWidth"
    assert page.evaluate(overflow) <= 0
    page.click("#filters summary")
    expect(page.locator("#source")).to_be_visible()
    assert page.evaluate(overflow) <= 0  # the open filters fit too
    page.click("#filters summary")
    ask(page, QUESTION)
    ask(page, "x" * 300)  # one unbroken 300-letter word
    assert page.evaluate(overflow) <= 0
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / "screenshot-phone.png"))
    page.locator(".reply.answer > .cite .cite-link").first.click()
    page.wait_for_url("**/articles/**")
    assert page.evaluate(overflow) <= 0
    page.context.close()


def test_a_too_long_question_is_a_reply_and_stays_in_the_box(web_server, page):
    page.goto(web_server.url + "/")
    turn = ask(page, "why " * 501)
    expect(turn.locator(".reply.error")).to_contain_text("That question could not be asked.")
    expect(turn.locator(".reply.error")).to_contain_text("the limit is 2000")
    assert page.input_value("#q") == "why " * 501


def test_busy_state_blocks_a_second_submit(web_server, page):
    page.goto(web_server.url + "/")
    requests_made = []
    page.on("request", lambda r: requests_made.append(r) if r.url.endswith("/reply") else None)
    state = page.evaluate("""(questions) => {
        const form = document.getElementById("ask"), box = document.getElementById("q");
        box.value = questions[0]; form.requestSubmit();
        const busy = {disabled: document.getElementById("send").disabled,
                      pending: document.querySelectorAll("#log .pending").length};
        box.value = questions[1]; form.requestSubmit();
        return {...busy, turns: document.querySelectorAll("#log > .turn").length};
    }""", [QUESTION, SECOND])
    assert state == {"disabled": True, "pending": 1, "turns": 1}
    expect(page.locator("#log .reply.answer")).to_have_count(1)
    expect(page.locator("#send")).to_be_enabled()
    assert len(requests_made) == 1
    assert page.input_value("#q") == SECOND  # not sent, not lost


def test_keyboard_only(web_server, page):
    page.goto(web_server.url + "/")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('example')"):
            break
    expect(page.locator("a.example").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#log .reply.answer")).to_have_count(1)
    expect(page.locator("#log .q-text")).to_have_text(EXAMPLES[0])
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type(OFF_TOPIC)
    page.keyboard.press("Enter")
    expect(page.locator("#log .reply.abstain")).to_have_count(1)


def test_no_index_then_server_gone(browser, tmp_path):
    cfg = make_config(tmp_path, tmp_path / "data")
    cfg.index_dir.mkdir()
    (cfg.index_dir / POINTER).write_text("a-deleted-version\n")  # so `qa serve` does not build one
    server = ServerProcess(cfg).wait_ready()
    page = new_page(browser)
    try:
        page.goto(server.url + "/")
        expect(page.locator(".notice")).to_contain_text("The articles cannot be searched right now.")
        turn = ask(page, QUESTION)
        expect(turn.locator(".reply.error")).to_contain_text("qa index build")
    finally:
        server.stop()
    turn = ask(page, QUESTION)
    expect(turn.locator(".reply.error")).to_contain_text("The server could not be reached.")
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#log > .turn")).to_have_count(2)
    page.context.close()
