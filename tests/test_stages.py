"""The question's analysis and the retrieval stages, over the in-memory store (no model, no FAISS).

Each test sets up a small corpus where one stage decides the outcome, so a broken stage fails it.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from memory_store import HashingEncoder, MemoryStore
from qa.asking.analyse import Method
from qa.asking.answer import Answerer, evidence
from qa.config import SearchConfig
from qa.models import Article, Filters
from qa.storage.base import Store
from qa.storage.local.store import LocalStore

ARTICLES = [
    Article("harbour", "harbour.txt", "The harbour reopened on Monday after repairs. Ships returned at once. "
            "Fishermen welcomed the news. The mayor thanked the workers.", title="Harbour", date="2024-03-02",
            source="Alpha News"),
    Article("bridge", "bridge.txt", "The old bridge was closed for inspection. Engineers found cracks in two piers. "
            "Repairs will take six months. Traffic moves to the ferry.", title="Bridge", date="2024-05-10",
            source="Beta Times"),
    Article("school", "school.txt", "A new school opened in the valley. It has 300 pupils. "
            "The school library holds 5000 books. Teachers came from the city.", title="School", date="2023-09-01",
            source="Alpha News"),
    Article("copy", "copy.txt", "The harbour reopened on Monday after repairs. Ships returned at once. "
            "Fishermen welcomed the news. The mayor thanked the workers.", title="Harbour again", date="2024-03-03",
            source="Gamma Daily"),
]


def answerer(**search) -> Answerer:
    cfg = dataclasses.replace(SearchConfig(), min_score=float("-inf"), **search)
    return Answerer(MemoryStore(ARTICLES), HashingEncoder(), cfg)


def docs(result) -> list[str]:
    return [p.citation.doc_id for p in result.passages]


def test_memory_store_and_local_store_offer_the_whole_interface():
    wanted = {name for name, _ in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")}
    assert {"dense_top", "lexical", "cosines", "sentence_vectors", "summary"} <= wanted
    for impl in (MemoryStore, LocalStore):
        assert wanted <= {name for name, _ in inspect.getmembers(impl, inspect.isfunction)}, impl


def test_search_mode_is_resolved_once():
    assert Method.of(SearchConfig(mode="dense")) == Method(True, False, False, False, True)
    assert Method.of(SearchConfig(mode="bm25", clause_vectors=True)) == Method(False, True, True, False, True)
    assert Method.of(SearchConfig(clause_vectors=True, metadata_boost=0)) == Method(True, True, True, True, False)


def test_citations_slice_the_stored_article():
    result = answerer().ask("When did the harbour reopen?", 4)
    assert not result.abstained
    store = MemoryStore(ARTICLES)
    for p in result.passages:
        c = p.citation
        assert store.article(c.doc_id).text[c.start:c.end] == p.text
        for h in p.highlights:
            assert 0 <= h.start < h.end <= len(p.text)
    a = result.answer.citation
    assert store.article(a.doc_id).text[a.start:a.end] == result.answer.text
    assert "reopened on Monday" in result.answer.text


def test_filters_apply_before_ranking():
    result = answerer().ask("When did the harbour reopen?", 3, filters=Filters(sources=("beta times",)))
    assert docs(result) and set(docs(result)) == {"bridge"}
    dated = answerer().ask("When did the harbour reopen?", 3, filters=Filters(date_from="2024-03-03"))
    assert "harbour" not in docs(dated) and docs(dated)[0] == "copy"


def test_republished_text_is_collapsed():
    """The fixture puts both copies on top of the weighted ranking; de-duplication keeps one."""
    question = "When did the harbour reopen after repairs?"
    weighted = {"ranker": "weighted"}
    assert {"harbour", "copy"} <= set(docs(answerer(dedupe=False, article_penalty=0, **weighted).ask(question, 3))[:2])
    assert len({"harbour", "copy"} & set(docs(answerer(**weighted).ask(question, 3)))) == 1
    texts = [p.text for p in answerer().ask(question, 3).passages]  # the default ranking too repeats no text
    assert len(set(texts)) == len(texts)


def test_named_outlet_is_boosted_and_competes():
    question = "What did Gamma Daily report about the harbour reopening?"
    assert docs(answerer().ask(question, 1)) == ["copy"]
    plain = docs(answerer(metadata_boost=0, dedupe=False).ask(question, 2))
    assert plain[0] == "harbour"  # without the boost the older, identical text wins the tie


def test_named_date_is_boosted():
    question = "What happened to the harbour on March 3, 2024?"
    assert docs(answerer(dedupe=False).ask(question, 1)) == ["copy"]


def test_each_clause_brings_its_own_best_chunk():
    question = "How many pupils does the valley school have, and which piers had cracks?"
    top = answerer(clause_weight=1.0, article_penalty=0).ask(question, 2)
    assert {"school", "bridge"} == set(docs(top))
    assert answerer().analyser.analyse([question], [()], Filters())[0].clauses  # it was split


def test_gather_asks_for_the_question_and_its_clauses_in_one_call():
    """The backend gets every term list at once, so it can read a term they share once."""
    a = answerer()
    query = a.analyser.analyse(["How many pupils does the valley school have, and which piers had cracks?"],
                               [()], Filters())[0]
    calls = []
    lexical = a.retriever.store.lexical
    a.retriever.store.lexical = lambda lists: calls.append(list(lists)) or lexical(lists)
    a.retriever.gather(query)
    assert len(query.clauses) >= 2 and calls == [[query.search_terms, *query.clauses]]


def test_dense_and_bm25_modes_use_one_side_each():
    question = "cracks piers"
    dense = answerer(mode="dense").retriever.gather(answerer().analyser.analyse([question], [()], Filters())[0])
    assert dense[0] and not dense[1] and not dense[2]
    bm25 = answerer(mode="bm25")
    lexical = bm25.retriever.gather(bm25.analyser.analyse([question], [()], Filters())[0])
    assert not lexical[0] and set(lexical[1]) == {2}  # only the bridge's first chunk holds the terms


def test_candidate_record_aligns_every_score():
    a = answerer()
    query = a.analyser.analyse(["How many books does the school library hold?"], [()], Filters())[0]
    found = a.retriever.score(query, *a.retriever.gather(query))
    assert list(found.ids) == sorted(found.ids) and len(found.cosine) == len(found.bm25) == len(found.ids)
    assert not np.isnan(found.cosine).any()  # sentence scores need every candidate's cosine
    assert np.isnan(found.bm25).any() or len(found.ids) == len(MemoryStore(ARTICLES).rows)


def test_follow_up_is_searched_with_the_conversation():
    a = answerer()
    alone, follow = a.analyser.analyse(["And how many were there?"] * 2, [(), ("pupils at the valley school",)],
                                       Filters())
    assert "pupil" in follow.search_terms and "pupil" not in alone.search_terms
    assert follow.terms == alone.terms  # the answer sentence answers the question itself
    assert docs(a.ask("And how many were there?", 1, history=["pupils at the valley school"])) == ["school"]


def test_article_penalty_spreads_the_top():
    question = "Why was the bridge closed, how long will repairs of the piers take, and where does traffic go?"
    assert docs(answerer(article_penalty=0).ask(question, 2)) == ["bridge", "bridge"]
    spread = docs(answerer(article_penalty=1.0).ask(question, 2))
    assert spread[0] == "bridge" and spread[1] != "bridge"


@pytest.mark.parametrize("confidence,level", [(0.09, "none"), (0.1, "weak"), (0.29, "weak"), (0.3, "strong"),
                                              (1.5, "strong")])
def test_evidence_is_none_below_min_score_weak_below_weak_below_else_strong(confidence, level):
    assert evidence(confidence, SearchConfig(min_score=0.1, weak_below=0.3)) == level


def test_no_weak_zone_when_it_equals_min_score():
    cfg = SearchConfig(min_score=0.2, weak_below=0.2)
    assert [evidence(c, cfg) for c in (0.19, 0.2)] == ["none", "strong"]


def test_a_weak_reply_shows_the_same_passages_and_quotes_no_answer():
    question = "When did the harbour reopen?"
    strong = answerer().ask(question, 4)
    weak = answerer(weak_below=float("inf")).ask(question, 4)
    assert (strong.evidence, weak.evidence) == ("strong", "weak")
    assert not weak.abstained and weak.answer is None and strong.answer is not None
    assert weak.passages == strong.passages


@pytest.mark.parametrize("question", ["Who won the chess final in Oslo?", "zebra quantum violin"])
def test_abstains_when_nothing_matches(question):
    result = Answerer(MemoryStore(ARTICLES), HashingEncoder(), SearchConfig()).ask(question, 3)
    assert result.abstained and result.evidence == "none" and result.answer is None and result.passages == []


def test_outlet_spellings_are_one_outlet_in_filters_boosts_and_citations():
    """"Gamma Daily" and "GAMMA-DAILY" are one outlet: a filter on either spelling finds both, a
    question naming it boosts both, and citations show the most frequent spelling."""
    spelled = ARTICLES + [dataclasses.replace(ARTICLES[3], doc_id="copy2", path="copy2.txt", source="GAMMA-DAILY",
                                              date="2024-03-04")]
    store = MemoryStore(spelled + [dataclasses.replace(ARTICLES[3], doc_id="copy3", source="Gamma Daily",
                                                       date="2024-03-05")])
    a = Answerer(store, HashingEncoder(), dataclasses.replace(SearchConfig(), min_score=float("-inf"), dedupe=False))
    assert a.outlets.names[:1] == ("Gamma Daily",)
    filtered = a.ask("When did the harbour reopen?", 5, filters=Filters(sources=("gamma-daily",)))
    assert {"copy", "copy2", "copy3"} == set(docs(filtered))
    assert {p.citation.source for p in filtered.passages} == {"Gamma Daily"}
    question = "What did Gamma Daily report about the harbour reopening?"
    query = a.analyser.analyse([question], [()], Filters())[0]
    assert set(query.outlets) == {"Gamma Daily", "GAMMA-DAILY"}
    assert set(docs(a.ask(question, 3))) == {"copy", "copy2", "copy3"}  # all three boosted above "harbour"


def test_overlapping_chunks_of_one_article_are_one_passage():
    """Chunks repeating a sentence of the one before: both retrieved, they are quoted once, as the
    union of their offsets, still an exact slice of the article, with both answering sentences marked."""
    store = MemoryStore(ARTICLES, per_chunk=3, overlap=1)
    cfg = dataclasses.replace(SearchConfig(), min_score=float("-inf"), dedupe=False, article_penalty=0,
                              ranker="weighted")  # the fixture ranks both bridge chunks in the top 4 of this order
    a = Answerer(store, HashingEncoder(), cfg)
    question = "Why was the old bridge closed, how long will the repairs of the piers take, where does traffic go?"
    hits = a.retriever.search(a.analyser.analyse([question], [()], Filters())[0], 4)
    bridge = sorted((h.row.start, h.row.end) for h in hits if h.row.doc_id == "bridge")
    assert len(bridge) == 2 and bridge[1][0] < bridge[0][1]  # the two chunks of the bridge overlap
    result = a.ask(question, 4)
    assert len(result.passages) == 3 and [p.rank for p in result.passages] == [1, 2, 3]
    (merged,) = [p for p in result.passages if p.citation.doc_id == "bridge"]
    text = store.article("bridge").text
    assert (merged.citation.start, merged.citation.end) == (bridge[0][0], bridge[1][1])
    assert merged.text == text[merged.citation.start:merged.citation.end]
    assert merged.text.count("Repairs will take six months.") == 1
    marked = [merged.text[h.start:h.end] for h in merged.highlights]
    assert len(marked) == len(set(marked)) >= 1 and all(m.endswith(".") for m in marked)
    e = merged.excerpt
    assert 0 <= e.start < e.end <= len(merged.text) and any(e.start <= h.start and h.end <= e.end for h in merged.highlights)
    answer = result.passages[result.answer.passage]
    assert result.answer.text in answer.text and answer.citation.doc_id == result.answer.citation.doc_id


def test_the_excerpt_is_the_best_sentence_with_its_neighbours():
    store = MemoryStore(ARTICLES, per_chunk=4)
    a = Answerer(store, HashingEncoder(), dataclasses.replace(SearchConfig(), min_score=float("-inf")))
    passage = a.ask("How many books does the school library hold?", 1).passages[0]
    assert passage.text[passage.excerpt.start:passage.excerpt.end] == (
        "It has 300 pupils. The school library holds 5000 books. Teachers came from the city.")
    h = passage.highlights[0]
    assert passage.text[h.start:h.end] == "The school library holds 5000 books."
    paragraphs = Article("p", "p.txt", "A new school opened. It has 300 pupils.\n\nThe library holds 5000 books.\n\n"
                         "Teachers came from the city.", source="Alpha News")
    a = Answerer(MemoryStore([paragraphs], per_chunk=4), HashingEncoder(), dataclasses.replace(SearchConfig(), min_score=float("-inf")))
    passage = a.ask("How many books does the library hold?", 1).passages[0]
    assert passage.text[passage.excerpt.start:passage.excerpt.end] == "The library holds 5000 books."  # its paragraph
