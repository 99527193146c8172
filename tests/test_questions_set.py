"""eval/multihop_facts.jsonl, the second question set (issue 15): single-fact questions over
the MultiHop-RAG corpus, written apart from its queries, read with the real parser and held
to its promises against the corpus itself."""

from __future__ import annotations

import calendar
import json
import re
from collections import Counter

import pytest

from qa.evaluation import metrics, multihop, questions

from conftest import MULTIHOP, ROOT

FACTS = ROOT / "eval" / "multihop_facts.jsonl"
KINDS = {"literal", "paraphrase", "outlet", "month", "unanswerable"}

needs_multihop = pytest.mark.skipif(not (MULTIHOP / multihop.MULTIHOP_CORPUS).exists(),
                                    reason="the shared MultiHop-RAG folder is absent")


@pytest.fixture(scope="module")
def facts() -> list[questions.Question]:
    return questions.load_questions(FACTS)


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    """The corpus, each article with its body folded as `hit_rank` folds passages."""
    raw = json.loads((MULTIHOP / multihop.MULTIHOP_CORPUS).read_text(encoding="utf-8"))
    return [{**a, "folded": metrics.fold(a["body"])} for a in raw]


def squash(text: str) -> str:
    """Letters and digits only, case folded: how a question names an outlet."""
    return re.sub(r"[\W_]+", "", text.casefold())


def outlet_core(source: str) -> str:
    """'The Roar | Sports Writers Blog' -> 'roar', 'FOX News - Health' -> 'foxnews'."""
    name = re.split(r" \| | - ", source)[0].removeprefix("The ").removesuffix(".com")
    return squash(name)


def test_the_set_has_the_kinds_of_question_issue_15_asks_for(facts):
    tags = Counter(q.tag for q in facts)
    assert set(tags) == KINDS
    assert sum(q.answerable for q in facts) >= 160
    assert tags["paraphrase"] >= 60 and tags["outlet"] >= 25 and tags["month"] >= 25
    assert tags["unanswerable"] >= 30 and all(not q.answerable for q in facts if q.tag == "unanswerable")
    assert len({metrics.fold(q.question) for q in facts}) == len(facts), "a question is repeated"


def test_halves_alternate_within_each_tag_and_balance(facts):
    """The fixed rule: the n-th question of a tag, in file order, is 'train' when n is even
    and 'report' when odd, so appending questions never moves an old one."""
    seen: Counter[str] = Counter()
    for q in facts:
        assert q.half == questions.HALVES[seen[q.tag] % 2], q.question
        seen[q.tag] += 1
    halves = Counter(q.half for q in facts)
    assert abs(halves["train"] - halves["report"]) <= 0.1 * len(facts)
    unanswerable = Counter(q.half for q in facts if not q.answerable)
    assert unanswerable["train"] >= 15 and unanswerable["report"] >= 15


@needs_multihop
def test_every_gold_substring_is_verbatim_in_exactly_one_article(facts, articles):
    counts = {g: sum(metrics.fold(g) in a["folded"] for a in articles) for q in facts for g in q.contains}
    assert {g: n for g, n in counts.items() if n != 1} == {}


def _gold_article(q: questions.Question, articles: list[dict]) -> dict:
    return next(a for a in articles if metrics.fold(q.contains[0]) in a["folded"])


@needs_multihop
def test_outlet_and_month_questions_name_their_gold_article(facts, articles):
    wrong = []
    for q in facts:
        if q.tag == "outlet":
            source = _gold_article(q, articles)["source"]
            wrong += [(q.question, source)] if outlet_core(source) not in squash(q.question) else []
        elif q.tag == "month":
            month = _gold_article(q, articles)["published_at"][:7]
            named = f"{calendar.month_name[int(month[5:])]} {month[:4]}"
            wrong += [(q.question, named)] if named not in q.question else []
    assert wrong == []


@needs_multihop
def test_questions_spread_over_outlets_and_categories(facts, articles):
    gold = [_gold_article(q, articles) for q in facts if q.answerable]
    outlets = Counter(a["source"] for a in gold)
    assert len(outlets) >= 30
    assert max(outlets.values()) <= 0.08 * len(facts), outlets.most_common(3)
    assert {a["category"] for a in gold} == {a["category"] for a in articles}


@needs_multihop
def test_no_question_copies_a_multihop_rag_query(facts):
    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())

    queries = json.loads((MULTIHOP / multihop.MULTIHOP_QUERIES).read_text(encoding="utf-8"))
    benchmark = {norm(q["query"]) for q in queries}
    assert [q.question for q in facts if norm(q.question) in benchmark] == []
