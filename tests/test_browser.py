"""The page in a real Chromium (Debian's, never a downloaded one) against real `qa serve`
processes on free loopback ports, each with a temporary index. Writes the README's screenshots."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import (FLOOD_QUESTION, ROOT, WEAK_EVERYWHERE, XSS_IMG, XSS_QUESTION, XSS_SCRIPT, ServerProcess,
                      make_config, open_store, served_config, stateless_server)
from playwright.sync_api import Page, expect, sync_playwright

from qa.models import WEAK_NOTICE
from qa.storage.local.versions import POINTER

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
DOCS = ROOT / "docs"
QUESTION = "How many people died in the Khojaly massacre?"
SECOND = "Where was the conference on the Karabakh heritage held?"
OFF_TOPIC = "What is the capital of France?"
FATE = "How many people's fate remains unknown?"
EXAMPLES = [QUESTION, SECOND, FATE]
# axe-core from npm (scripts/test installs it), injected into pages by the tests only.
AXE = ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"


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
    yield from _serving(seed_config, tmp_path_factory.mktemp("web"), web={"examples": EXAMPLES})


def _serving(cfg, folder, **sections):
    """`qa serve` of `cfg`'s index with these config sections, stopped when the fixture ends."""
    proc = ServerProcess(cfg, "--config", str(served_config(cfg, folder / "config.yaml", **sections))).wait_ready()
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
    expect(turn.locator(".passage").first.locator("mark:visible").first).to_have_text(
        first["text"][h["start"]:h["end"]])
    expect(page.locator("#starter")).to_be_hidden()
    expect(page.locator("#q")).to_be_focused()

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


def test_a_fragment_alone_marks_its_chunk(web_server, seed_config, page):
    """`#chunk-N` alone marks chunk N itself (a passage may merge it with its overlapping neighbour)."""
    cite = api_answer(web_server, QUESTION)["passages"][0]["citation"]
    page.goto(f"{web_server.url}/articles/{cite['doc_id']}#chunk-{cite['chunk_id']}")
    mark = page.locator(f"mark#chunk-{cite['chunk_id']}")
    expect(mark).to_be_in_viewport()
    store = open_store(seed_config)
    try:
        row = store.chunks([cite["chunk_id"]])[cite["chunk_id"]]
    finally:
        store.close()
    assert len(mark.text_content()) == row.end - row.start and cite["start"] <= row.start < row.end <= cite["end"]


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


# ---------------------------------------------------------------- issue 14: disagreements, groups, citations

@pytest.fixture(scope="module")
def outlets_server(outlets_config):
    """The small multi-outlet archive (conftest.OUTLET_ARTICLES) served."""
    proc = ServerProcess(outlets_config).wait_ready()
    yield proc
    proc.stop()


@pytest.fixture()
def axe_page(browser):
    """A page whose context lets a test inject axe-core (the site's CSP allows only its own scripts)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: scripts/test installs it (npm install --prefix .ci/node axe-core@4.14.1)")
    page = new_page(browser, bypass_csp=True)
    yield page
    page.context.close()


WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_violations(page: Page) -> list[dict]:
    """What axe-core finds on the page as it is now: WCAG 2.0 and 2.1 A and AA rules, and its best practices."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async (tags) => {
        const found = await axe.run(document, {runOnly: {type: "tag", values: tags}});
        return found.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}));
    }""", WCAG_21_AA)


def open_every_disclosure(page: Page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


@pytest.mark.parametrize("width", [1280, 375])
def test_every_page_passes_axe(web_server, outlets_server, axe_page, width):
    """Pages drawn by the server, with every disclosure closed and then open, on a desktop and a phone."""
    axe_page.set_viewport_size({"width": width, "height": 900})
    cite = api_answer(web_server, QUESTION)["passages"][0]["citation"]
    paths = [(web_server, "/"), (web_server, "/?q=" + requests.utils.quote(FATE)),
             (web_server, f"/?q={requests.utils.quote(QUESTION)}&group_by=source"),
             (outlets_server, f"/?q={requests.utils.quote(FLOOD_QUESTION)}&group_by=date"),
             (web_server, "/?q=" + requests.utils.quote(OFF_TOPIC)), (web_server, "/?q=%20"),
             (web_server, f"/articles/{cite['doc_id']}?chunk={cite['chunk_id']}"), (web_server, "/no-such-page")]
    for server, path in paths:
        axe_page.goto(server.url + path)
        assert axe_violations(axe_page) == [], path
        open_every_disclosure(axe_page)
        assert axe_violations(axe_page) == [], f"{path}, every disclosure open"


def test_turns_the_script_inserts_pass_axe(web_server, axe_page):
    axe_page.goto(web_server.url + "/")
    ask(axe_page, FATE)
    ask(axe_page, QUESTION)
    ask(axe_page, "why " * 501)  # refused: an error turn
    open_every_disclosure(axe_page)
    assert axe_violations(axe_page) == []
    assert axe_page.dialogs == []


@pytest.fixture(scope="module")
def weak_server(seed_config, tmp_path_factory):
    """`qa serve` with every reply that would quote an answer in the weak zone (conftest.WEAK_EVERYWHERE)."""
    yield from _serving(seed_config, tmp_path_factory.mktemp("weak"), search={"weak_below": WEAK_EVERYWHERE})


def test_a_weak_reply_says_the_articles_may_not_answer_and_quotes_no_answer(weak_server, axe_page):
    expected = api_answer(weak_server, QUESTION)
    assert expected["evidence"] == "weak" and expected["answer"] is None

    def shown_weak(turn) -> None:
        expect(turn.locator(".reply.weak .weak-lead")).to_have_text(WEAK_NOTICE)
        expect(turn.locator(".reply.answer, blockquote, .differ")).to_have_count(0)
        expect(turn.locator(".passage")).to_have_count(len(expected["passages"]))
        assert axe_violations(axe_page) == []
        open_every_disclosure(axe_page)
        assert axe_violations(axe_page) == []

    axe_page.goto(weak_server.url + "/")
    shown_weak(ask(axe_page, QUESTION))  # the turn the script inserts
    axe_page.goto(weak_server.url + "/?q=" + requests.utils.quote(QUESTION))
    shown_weak(axe_page.locator("#log > .turn"))  # the turn the server draws into the page
    assert axe_page.dialogs == []


def test_sources_that_differ_are_side_by_side(backend_web_server, backend_config, page):
    server = backend_web_server
    page.goto(server.url + "/")
    expected = api_answer(server, FATE)["answer"]
    turn = ask(page, FATE)
    expect(turn.locator(".differ-lead")).to_contain_text("Sources differ.")
    quotes = [expected, *expected["alternatives"]]
    sides = turn.locator(".differ .side")
    expect(sides.locator("blockquote")).to_have_text([q["text"] for q in quotes])
    expect(sides.locator(".meta")).to_have_text([f"{q['citation']['source'] or 'outlet not stated'} · "
                                                 f"{q['citation']['date']}" for q in quotes])
    first, second = (sides.nth(i).bounding_box() for i in range(2))
    assert abs(first["y"] - second["y"]) < 1 and second["x"] > first["x"] + first["width"] - 1  # side by side
    expect(turn.locator("blockquote")).to_have_count(2)  # the answer is one side, never quoted twice
    if backend_config.storage.backend == "local":  # the README's picture, taken once
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(DOCS / "screenshot-desktop.png"))
    assert page.dialogs == []


def test_passages_show_their_sentence_and_open_to_the_whole(web_server, page):
    page.goto(web_server.url + "/")
    passages = api_answer(web_server, QUESTION)["passages"]
    turn = ask(page, QUESTION)
    n, expected = next((i, p) for i, p in enumerate(passages) if p["excerpt"]["end"] - p["excerpt"]["start"] < len(p["text"]))
    passage = turn.locator(".passage").nth(n)
    e = expected["excerpt"]
    expect(passage.locator(".p-excerpt")).to_have_text(expected["text"][e["start"]:e["end"]])
    expect(passage.locator(".whole .p-text")).to_be_hidden()
    closed = turn.bounding_box()["height"]
    passage.locator(".whole summary").click()
    expect(passage.locator(".whole .p-text")).to_be_visible()
    expect(passage.locator(".whole .p-text")).to_have_text(expected["text"])
    expect(passage.locator(".p-excerpt")).to_be_hidden()  # the excerpt gives way: no sentence shown twice
    assert turn.bounding_box()["height"] > closed
    passage.locator(".whole summary").click()
    expect(passage.locator(".p-excerpt")).to_be_visible()


def test_copy_buttons_put_each_citation_on_the_clipboard(web_server, browser):
    page = new_page(browser)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_server.url)
    page.goto(web_server.url + "/")
    doc_id = api_answer(web_server, QUESTION)["answer"]["citation"]["doc_id"]
    turn = ask(page, QUESTION)
    cite_as = turn.locator(".reply.answer > .cite .cite-as")
    expect(cite_as.locator(".copy").first).to_be_hidden()  # closed until asked for
    cite_as.locator("summary").click()
    expect(cite_as.locator("a.cite-style").first).to_be_hidden()  # with the script: buttons, not links
    for style, label in (("apa", "APA"), ("bibtex", "BibTeX"), ("csl-json", "CSL-JSON")):
        cite_as.get_by_role("button", name=f"Copy {label}").click()
        expect(page.locator("#copy-status")).to_have_text(f"{label} citation copied")
        reference = requests.get(web_server.url + "/api/cite", params={"doc_id": doc_id, "style": style}, timeout=30)
        assert page.evaluate("navigator.clipboard.readText()") == reference.text
    assert page.dialogs == []
    page.context.close()


def test_without_javascript_each_citation_style_is_a_link(web_server, browser):
    page = new_page(browser, java_script_enabled=False)
    page.goto(web_server.url + "/?q=" + requests.utils.quote(QUESTION))
    cite_as = page.locator(".reply.answer > .cite .cite-as")
    cite_as.locator("summary").click()
    expect(cite_as.locator(".copy").first).to_be_hidden()
    cite_as.get_by_role("link", name="Chicago").click()
    page.wait_for_url("**/api/cite?*")
    assert "“" in page.locator("body").text_content() and parse_qs(urlsplit(page.url).query)["style"] == ["chicago"]
    page.context.close()


def test_an_archive_of_outlets_grouped_by_outlet_and_as_a_timeline(outlets_server, page):
    page.goto(outlets_server.url + "/")
    expect(page.locator(".corpus")).to_have_text("5 articles, 2024-03-01 to 2024-03-06, from 3 outlets "
                                                 "(choose one under Filters).")
    page.click("#filters summary")
    expect(page.locator("#source option")).to_have_text(["Any outlet", "River Post", "Hill Gazette.", "Valley Times"])
    page.select_option("#group_by", "source")
    with page.expect_request("**/reply") as request:
        turn = ask(page, FLOOD_QUESTION)
    assert request.value.post_data_json == {"question": FLOOD_QUESTION, "history": [], "group_by": "source"}
    api = requests.post(outlets_server.url + "/api/ask", json={"question": FLOOD_QUESTION, "group_by": "source"},
                        timeout=30).json()
    expect(turn.locator(".group-head strong")).to_have_text([g["key"] for g in api["groups"]])
    river = turn.locator(".group").filter(has_text="River Post").first
    expect(river.locator(".passage")).to_have_count(len(next(g for g in api["groups"] if g["key"] == "River Post")["passages"]))
    assert "RIVER POST" not in turn.text_content()  # one outlet, one name
    expect(turn.locator(".differ .side blockquote")).to_have_count(2)  # 12 people or 14
    page.click("#filters summary")  # closed, so the picture shows the groups
    turn.locator(".passages > summary").evaluate("node => node.scrollIntoView()")
    page.screenshot(path=str(DOCS / "screenshot-grouped.png"))
    page.click("#filters summary")

    page.select_option("#group_by", "date")
    timeline = ask(page, FLOOD_QUESTION)
    dates = timeline.locator(".group-head strong").all_text_contents()
    assert dates == sorted(dates) and len(dates) >= 3
    page.select_option("#group_by", "")
    page.select_option("#source", "River Post")
    filtered = ask(page, FLOOD_QUESTION)
    metas = filtered.locator(".passage .cite .meta").all_text_contents()
    assert len(metas) >= 2 and {m.split(" · ")[0] for m in metas} == {"River Post"}  # every spelling, one name
    assert page.dialogs == []
