"""Peers side by side (issue 15): txtai 9.14 (hybrid, the same MiniLM) and plain bm25s next to ours.

Both peers index exactly the chunk texts of our index, read through the storage interface, and are
asked every question set; their ranked chunk texts are scored by the same qa.evaluation code as
`qa eval` scores our service (`summarize` for question files, `multihop_report` for MultiHop-RAG).
Our system is the default config asked through `Answerer.ask`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from importlib.metadata import version
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from bench.common import MULTIHOP, ROOT
from qa.asking.answer import Answerer
from qa.asking.service import Service
from qa.config import Config
from qa.encoder import Encoder, resolve_model
from qa.evaluation.multihop import (MULTIHOP_CORPUS, MULTIHOP_QUERIES, all_chunk_text, as_question, chunk_texts,
                                    multihop_index, multihop_report, select_queries)
from qa.evaluation.questions import HALVES, Outcome, Question, load_questions, run_questions, summarize
from qa.indexing.build import build_index
from qa.storage.base import IndexInfo

SEED_DATA = ROOT / "data"
SEED_QUESTIONS = ROOT / "eval" / "seed.jsonl"
FACTS = ROOT / "eval" / "multihop_facts.jsonl"
TOP_K = 10
SUBSETS = ("even", "odd", "all")
QUESTION_FIGURES = ("recall@1", "recall@5", "recall@10", "MRR@10")
MULTIHOP_FIGURES = ("MRR@10", "MAP@10", "Hits@1", "Hits@4", "Hits@5", "Hits@10")
# Only our service abstains: a peer always returns its ranking, so these are n/a for peers.
OUR_QUESTION_FIGURES = ("abstention_unanswerable", "false_abstentions")
OUR_MULTIHOP_FIGURES = ("null_abstention", "false_abstention")

Search = Callable[[str], list[str]]
# Our service as configured ("ours"), and the rankings the quality tables compare it with: the
# weighted fusion, and each retriever alone (BM25 or dense, no fusion, no trees).
VARIANTS = {"ours": {}, "ours weighted": {"ranker": "weighted"}, "ours bm25": {"mode": "bm25", "ranker": "weighted"},
            "ours dense": {"mode": "dense", "ranker": "weighted"}}


class Peer(NamedTuple):
    search: Search  # a question -> its top chunk texts, best first
    chunks: int  # how many chunks the peer itself says it indexed


def txtai_peer(texts: Sequence[str], model_path: str, saved: Path | None = None) -> Peer:
    """txtai's hybrid index (dense + its own BM25, content stored) on the same local model, offline;
    kept in `saved` and loaded from there on a later run over the same index version."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: the model is a local folder
    from txtai import Embeddings

    embeddings = Embeddings(content=True, path=model_path, hybrid=True)
    if saved is not None and saved.exists():
        embeddings.load(str(saved))
    else:
        embeddings.index((i, text, None) for i, text in enumerate(texts))
        if saved is not None:
            embeddings.save(str(saved))
    return Peer(lambda q: [r["text"] for r in embeddings.search(q, TOP_K)], embeddings.count())


def bm25s_peer(texts: Sequence[str]) -> Peer:
    """Plain bm25s: English stemmer and stop words, BM25 defaults. A chunk scoring 0 matched no
    question term; bm25s would still fill the top k with such chunks, which is no ranking."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    model = bm25s.BM25()
    model.index(bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer, show_progress=False),
                show_progress=False)
    k = min(TOP_K, len(texts))

    def search(question: str) -> list[str]:
        query = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False)
        ids, scores = model.retrieve(query, k=k, show_progress=False)
        return [texts[i] for i, s in zip(ids[0], scores[0]) if s > 0]

    return Peer(search, int(model.scores["num_docs"]))


def peer_outcomes(search: Search, questions: Sequence[Question]) -> list[Outcome]:
    """Each question's ranking as an Outcome that never abstains, timed like `run_questions` times ours."""
    outcomes = []
    for q in questions:
        started = time.perf_counter()
        passages = search(q.question)
        outcomes.append(Outcome(q, False, None, passages, (time.perf_counter() - started) * 1000))
    return outcomes


def compare(answerer: Answerer, questions: Sequence[Question], model_path: str,
            saved: Path | None = None) -> tuple[dict[str, list[Outcome]], dict[str, dict]]:
    """Ours (the default and each variant) and each peer over the same chunks, asked `questions`:
    outcomes by system, and what each system indexed and spent (seconds to build and to answer)."""
    texts = chunk_texts(answerer.store)
    outcomes, cost = {}, {}
    for name, changes in VARIANTS.items():
        started = time.perf_counter()
        # A fresh Answerer, not with_settings: its question vectors are not shared, so every
        # system's p50 includes the model call.
        variant = Answerer(answerer.store, answerer.encoder, dataclasses.replace(answerer.cfg, **changes))
        outcomes[name] = run_questions(variant, questions, TOP_K)
        cost[name] = {"chunks": answerer.store.info.chunks, "ask_s": round(time.perf_counter() - started, 1)}
    txtai_saved = saved / f"txtai-{answerer.store.info.version}" if saved else None
    makers = {"txtai": lambda: txtai_peer(texts, model_path, txtai_saved), "bm25s": lambda: bm25s_peer(texts)}
    for name, make in makers.items():
        started = time.perf_counter()
        peer = make()
        built = time.perf_counter()
        outcomes[name] = peer_outcomes(peer.search, questions)
        cost[name] = {"chunks": peer.chunks, "build_s": round(built - started, 1),
                      "ask_s": round(time.perf_counter() - built, 1)}
    return outcomes, cost


def question_figures(outcomes: Sequence[Outcome], ours: bool) -> dict:
    """`qa eval`'s figures for one system on a question set (abstention only for ours)."""
    summary = summarize(outcomes)
    keys = QUESTION_FIGURES + (OUR_QUESTION_FIGURES if ours else ())
    return {"questions": summary["questions"], "answerable": summary["answerable"],
            **{k: summary[k] for k in keys}, "p50_ms": summary["latency_ms"]["p50"]}


def multihop_figures(pairs: Sequence[tuple[dict, Outcome]], chunk_text: str, info: IndexInfo, ours: bool) -> dict:
    """`qa eval --multihop`'s figures for one system on (query, outcome) pairs; null queries are
    left out of the ranking figures there, as the benchmark does."""
    report = multihop_report([q for q, _ in pairs], [o for _, o in pairs], chunk_text, info, None)
    keys = ("queries", "null_queries") + MULTIHOP_FIGURES + (OUR_MULTIHOP_FIGURES if ours else ())
    return {**{k: report[k] for k in keys}, "p50_ms": report["latency_ms"]["p50"]}


def multihop_sets(outcomes: dict[str, list[Outcome]], own: int, queries: Sequence[dict], chunk_text: str,
                  info: IndexInfo) -> dict[str, dict]:
    """Figures by set and system: the first `own` outcomes are our question file's, split by
    half; the rest are MultiHop-RAG's queries in file order, split by position."""
    sets: dict[str, dict] = {}
    for name, outs in outcomes.items():
        for half in HALVES:
            chosen = [o for o in outs[:own] if o.question.half == half]
            sets.setdefault(f"facts {half}", {})[name] = question_figures(chosen, name.startswith("ours"))
        pairs = list(zip(queries, outs[own:]))
        for subset in SUBSETS:
            sets.setdefault(f"multihop {subset}", {})[name] = multihop_figures(
                select_queries(pairs, subset), chunk_text, info, name.startswith("ours"))
    return sets


def seed_part(cfg: Config, encoder: Encoder, root: Path, data: Path, questions: Path) -> dict:
    """The seed questions over the seed articles, built into `root`/index with `cfg`."""
    seed_cfg = cfg.replace(data_dir=data, index_dir=root / "index")
    built = build_index(seed_cfg, encoder=encoder, progress=False)
    answerer = Service(seed_cfg, encoder=encoder).answerer()
    try:
        outcomes, cost = compare(answerer, load_questions(questions), resolve_model(cfg.model))
        info = answerer.store.info
    finally:
        answerer.store.close()
    cost["ours"]["build_s"] = round(built.seconds, 1)
    return {"index": {"articles": info.articles, "systems": cost},
            "sets": {"seed": {name: question_figures(o, name.startswith("ours")) for name, o in outcomes.items()}}}


def multihop_part(cfg: Config, encoder: Encoder, root: Path, multihop: Path, facts: Path) -> dict:
    """Our question file's halves and MultiHop-RAG's even / odd / all queries over its articles,
    indexed in `root` (an index already there from this corpus, model and chunking is reused)."""
    run_cfg, built = multihop_index(cfg, encoder, (multihop / MULTIHOP_CORPUS).read_bytes(), root, progress=False)
    own = load_questions(facts)
    queries = json.loads((multihop / MULTIHOP_QUERIES).read_text(encoding="utf-8"))
    answerer = Service(run_cfg, encoder=encoder).answerer()
    try:
        outcomes, cost = compare(answerer, own + [as_question(q) for q in queries], resolve_model(cfg.model), root)
        chunk_text, info = all_chunk_text(answerer), answerer.store.info
    finally:
        answerer.store.close()
    cost["ours"]["build_s"] = round(built.seconds, 1) if built else None  # None: a kept index was reused
    return {"index": {"articles": info.articles, "systems": cost},
            "sets": multihop_sets(outcomes, len(own), queries, chunk_text, info)}


def run(work: Path, multihop: Path = MULTIHOP, seed_data: Path = SEED_DATA, seed_questions: Path = SEED_QUESTIONS,
        facts: Path = FACTS) -> dict:
    """Every question set, each system: the seed set in `work`/seed, the MultiHop-RAG corpus in
    `work`/multihop (copy a built index there to skip our build: `cp -r KEPT work/multihop`)."""
    cfg = Config()
    encoder = Encoder(cfg.model)
    seed = seed_part(cfg, encoder, work / "seed", seed_data, seed_questions)
    mh = multihop_part(cfg, encoder, work / "multihop", multihop, facts)
    return {"model": cfg.model.name, "top_k": TOP_K, "versions": {p: version(p) for p in ("txtai", "bm25s")},
            "indexes": {"seed": seed["index"], "multihop": mh["index"]}, "sets": {**seed["sets"], **mh["sets"]}}
