"""`python -m bench --only peers` end to end on a tiny corpus: ours, txtai and bm25s index the same
chunks with the real model, every question set is scored, and the report shows each system."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import peers, report

SYSTEMS = {*peers.VARIANTS, "txtai", "bm25s"}

ARTICLES = [
    ("Divers survey the mussels of Lake Quillon", "Quillon Gazette", "2023-06-02",
     "Volunteer divers spent the weekend under the piers of Lake Quillon. "
     "On the northern pier the divers counted 4,812 zebra mussels, twice the figure of last summer. "
     "The survey is run each June by the lake's fishing club. "
     "Zebra mussels clog water intakes and crowd out native clams. "
     "The club asks boat owners to rinse their hulls before launching."),
    ("Brennick's tram line turns a century and a quarter", "Brennick Courier", "2022-09-14",
     "The Brennick tram line opened in 1897 with four horse-drawn cars. "
     "It was electrified in 1911 and extended to the harbour in 1930. "
     "Today twelve restored cars run between the station and the old market. "
     "A parade of the oldest cars closed the anniversary weekend."),
    ("Harlow bakery wins the regional bread prize", "Harlow Daily", "2024-03-21",
     "Pell & Daughters, a bakery on Mill Street, won this year's Harlow bread prize. "
     "The judges praised its rye loaf, baked in a wood-fired oven built in 1962. "
     "Forty bakeries entered the contest, the most since it began."),
    ("Storm closes the coastal road near Varne", "Varne Herald", "2023-11-08",
     "High winds and a spring tide flooded the coastal road north of Varne on Tuesday. "
     "Council crews cleared shingle from the carriageway overnight. "
     "The road reopened on Wednesday afternoon with a lower speed limit."),
]
MUSSELS = "counted 4,812 zebra mussels"


def _corpus() -> list[dict]:
    return [{"title": t, "author": "staff", "source": s, "published_at": d, "category": "news",
             "url": f"https://example.org/{i}", "body": b} for i, (t, s, d, b) in enumerate(ARTICLES)]


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _fixture(tmp: Path) -> dict[str, Path]:
    """A seed data folder, a MultiHop-RAG folder (corpus, two scored queries and a null one) and
    two question files over the same four articles."""
    (tmp / "seed-data").mkdir()
    (tmp / "seed-data" / "corpus.json").write_text(json.dumps(_corpus()))
    mh = tmp / "multihop"
    mh.mkdir()
    (mh / "corpus.json").write_text(json.dumps(_corpus()))
    fact = {"title": ARTICLES[0][0], "source": ARTICLES[0][1], "fact": "the divers counted 4,812 zebra mussels"}
    tram = {"title": ARTICLES[1][0], "source": ARTICLES[1][1], "fact": "The Brennick tram line opened in 1897"}
    (mh / "MultiHopRAG.json").write_text(json.dumps([
        {"query": "How many zebra mussels did divers count on Lake Quillon's northern pier?", "answer": "4,812",
         "question_type": "inference_query", "evidence_list": [fact]},
        {"query": "In which year did the Brennick tram line open?", "answer": "1897",
         "question_type": "temporal_query", "evidence_list": [tram]},
        {"query": "Who won the 1950 Quillon rowing regatta?", "answer": "Insufficient information.",
         "question_type": "null_query", "evidence_list": []}]))
    seed = _jsonl(tmp / "seed.jsonl", [
        {"question": "How many zebra mussels did the divers count on the northern pier?", "answerable": True,
         "contains": [MUSSELS]},
        {"question": "What does a season ticket for the Varne ferry cost?", "answerable": False}])
    facts = _jsonl(tmp / "facts.jsonl", [
        {"question": "Which Harlow bakery won the bread prize?", "answerable": True, "contains": ["Pell & Daughters"],
         "half": "train"},
        {"question": "When did the Brennick tram line open?", "answerable": True, "contains": ["opened in 1897"],
         "half": "report"}])
    return {"multihop": mh, "seed_data": tmp / "seed-data", "seed_questions": seed, "facts": facts}


@pytest.mark.e2e
def test_peers_part_scores_three_systems_on_the_same_chunks(tmp_path):
    figures = peers.run(tmp_path / "work", **_fixture(tmp_path))
    assert set(figures["sets"]) == {"seed", "facts train", "facts report", "multihop even", "multihop odd",
                                    "multihop all"}
    for index in figures["indexes"].values():
        counts = {system: c["chunks"] for system, c in index["systems"].items()}
        assert set(counts) == SYSTEMS and len(set(counts.values())) == 1, counts
        assert all(c["ask_s"] >= 0 for c in index["systems"].values())
    for name, by_system in figures["sets"].items():
        assert set(by_system) == SYSTEMS
        kind = peers.MULTIHOP_FIGURES if name.startswith("multihop") else peers.QUESTION_FIGURES
        for system, f in by_system.items():
            assert all(0 <= f[k] <= 1 for k in kind), (name, system, f)
            assert f["p50_ms"] > 0
            own = peers.OUR_MULTIHOP_FIGURES if name.startswith("multihop") else peers.OUR_QUESTION_FIGURES
            assert all((k in f) == system.startswith("ours") for k in own), (name, system)
    # The one answerable seed question and the one scored even query are known answers: each
    # system ranks the chunk holding the gold text first.
    for system in ("ours", "txtai", "bm25s"):
        assert figures["sets"]["seed"][system]["recall@1"] == 1.0, system
        assert figures["sets"]["multihop even"][system]["MRR@10"] == 1.0, system
    even = figures["sets"]["multihop even"]["ours"]
    assert (even["queries"], even["null_queries"]) == (1, 1)
    assert figures["indexes"]["multihop"]["systems"]["ours"]["build_s"] is not None


def test_the_report_shows_each_system_with_n_a_for_what_only_ours_measures(tmp_path):
    f = {"questions": 2, "answerable": 1, "recall@1": 1.0, "recall@5": 1.0, "recall@10": 1.0, "MRR@10": 1.0,
         "p50_ms": 3.0}
    m = {"queries": 1, "null_queries": 1, "MRR@10": 1.0, "MAP@10": 1.0, "Hits@1": 1.0, "Hits@4": 1.0, "Hits@5": 1.0,
         "Hits@10": 1.0, "p50_ms": 2.0}
    cost = {"chunks": 4, "build_s": 1.0, "ask_s": 0.1}
    figures = {"model": "m", "top_k": 10, "versions": {"txtai": "9.14.0", "bm25s": "0.3"},
               "indexes": {"seed": {"articles": 4, "systems": {"ours": {**cost, "build_s": None}, "txtai": cost}}},
               "sets": {"seed": {"ours": {**f, "abstention_unanswerable": 0.5, "false_abstentions": 0}, "txtai": f},
                        "multihop all": {"ours": {**m, "null_abstention": 0.0, "false_abstention": 0.0},
                                         "txtai": m}}}
    when = {"at": "2026-11-27T00:00:00", "load_before": [1.0], "load_after": [1.0], "command": "python -m bench --only peers"}
    out = tmp_path / "performance.md"
    report.write({"peers": figures, "when": {"peers": when}}, out)
    text = out.read_text()
    assert "| seed | ours | 2 (1) | 1.0 | 1.0 | 1.0 | 1.0 | 0.5 | 0 | 3.0 |" in text
    assert "| seed | txtai | 2 (1) | 1.0 | 1.0 | 1.0 | 1.0 | n/a | n/a | 3.0 |" in text
    assert "| multihop all | txtai | 1 (1) | 1.0 | 1.0 | 1.0 | 1.0 | 1.0 | 1.0 | n/a | n/a | 2.0 |" in text
    assert "| seed (4 articles) | ours | 4 | reused | 0.1 |" in text
    assert "`python -m bench --only peers`" in text
