"""The learned ranker: its features, the re-ranking of the weighted window, the model file's
checks, and `qa train-ranker` end to end on a small MultiHop-RAG folder with the real model."""

from __future__ import annotations

import dataclasses
import json

import lightgbm
import numpy as np
import pytest

from memory_store import HashingEncoder, MemoryStore
from qa.asking import learned
from qa.asking.answer import Answerer
from qa.asking.retrieve import window
from qa.cli import cli
from qa.config import ConfigError, SearchConfig, load_config
from qa.evaluation import multihop, train
from qa.models import Filters
from qa.text import terms
from test_stages import ARTICLES

from conftest import open_store
from test_eval import MULTIHOP, needs_multihop


def answerer(**search) -> Answerer:
    cfg = dataclasses.replace(SearchConfig(), min_score=float("-inf"), dedupe=False, article_penalty=0.0, **search)
    return Answerer(MemoryStore(ARTICLES), HashingEncoder(), cfg)


def window_of(a: Answerer, question: str):
    query = analysed(a, question)
    return query, window(a.retriever.rank(query, 5), a.cfg.rerank_depth)


def analysed(a: Answerer, question: str):
    return a.analyser.analyse([question], [()], Filters())[0]


def test_features_are_one_column_each_in_their_declared_order():
    a = answerer()
    query, w = window_of(a, "What did Gamma Daily report about the harbour reopening?")
    x = learned.features(query, w)
    assert x.shape == (len(w.ids), len(learned.FEATURES))
    col = {f: x[:, i] for i, f in enumerate(learned.FEATURES)}
    assert col["weighted"][0] == 1.0 and np.all(np.diff(col["weighted_rank"]) == 1)
    assert np.all(col["outlet_named"] == 1)
    gamma = [float(m.source == "Gamma Daily") for m in w.meta]
    assert col["outlet_match"].tolist() == gamma and 0.0 in gamma and 1.0 in gamma
    assert np.isnan(col["date_match"]).all() and np.all(col["date_named"] == 0)  # no date named: unknown
    assert np.isnan(col["cue_match"]).all()  # not a count or date question
    assert ((0 <= col["coverage"]) & (col["coverage"] <= 1)).all()


def test_a_count_question_marks_the_chunks_holding_a_count():
    a = answerer()
    query, w = window_of(a, "How many pupils does the valley school have?")
    x = learned.features(query, w)
    cue = dict(zip(w.ids, x[:, learned.FEATURES.index("cue_match")]))
    counts = ("300 pupils", "5000 books")  # the corpus's only counts
    assert all(cue[c] == float(any(n in a.store.rows[c].text for n in counts)) for c in w.ids)
    assert 1.0 in cue.values() and 0.0 in cue.values()


def test_the_window_reads_its_terms_from_the_store_one_block_at_a_time(monkeypatch):
    a = answerer()
    asked: list[list[int]] = []
    stored = a.store.terms
    monkeypatch.setattr(a.store, "terms", lambda ids: asked.append(list(ids)) or stored(ids))
    query = analysed(a, "Which bridge piers had cracks after the harbour reopened?")
    ranking = a.retriever.rank(query, 5)
    w = window(ranking, 3)
    assert w.terms == [frozenset(terms(a.store.rows[c].text)) for c in w.ids] and len(w.ids) == 3
    # One read for the window's block: one chunk of each text (a copied chunk repeats a text).
    texts = [a.store.rows[c].text for c in ranking.rows.ids[:ranking.rows.block]]
    assert len(asked) == 1 and len(set(texts)) < len(texts)
    assert sorted(a.store.rows[c].text for c in asked[0]) == sorted(set(texts))
    assert window(ranking, 3).terms == w.terms and len(asked) == 1


class Reverse:
    """A stand-in model that scores the window in reverse weighted order."""

    def scores(self, x: np.ndarray) -> np.ndarray:
        return x[:, learned.FEATURES.index("weighted_rank")]


def test_the_trees_order_the_window_and_the_rest_follows_in_weighted_order():
    weighted = answerer(rerank_depth=3)
    question = "Which bridge piers had cracks after the harbour reopened?"
    base = weighted.retriever.rank(analysed(weighted, question), 5)
    ids = base.found.ids[base.order].tolist()
    reranked = answerer(rerank_depth=3)
    reranked.retriever.ranker = Reverse()
    hits = reranked.retriever.search(analysed(reranked, question), 6)
    got = [h.row.chunk_id for h in hits]
    assert got[:3] == ids[:3][::-1] and got[3:] == ids[3:6]
    assert hits[0].score == 1.0 and all(h.score < 0 for h in hits[3:])


def _model(folder, names):
    rng = np.random.default_rng(0)
    data = lightgbm.Dataset(rng.random((40, len(names))), rng.integers(0, 2, 40), group=[10] * 4,
                            feature_name=list(names))
    lightgbm.train({"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 2}, data, 3).save_model(
        str(folder / learned.MODEL_FILE))


def test_a_model_trained_on_other_features_is_refused(tmp_path):
    _model(tmp_path, [f"f{i}" for i in range(len(learned.FEATURES))])
    with pytest.raises(ConfigError, match="other features"):
        learned.LearnedRanker(tmp_path)


def test_a_missing_or_broken_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the ranking model"):
        learned.LearnedRanker(tmp_path)
    (tmp_path / learned.MODEL_FILE).write_text("not a model", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the ranking model"):
        learned.LearnedRanker(tmp_path)


def test_ranker_settings_are_checked_and_the_model_path_is_relative_to_the_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("search:\n  ranker: learned\n  ranker_model: models/r\n", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.search.ranker == "learned" and cfg.search.ranker_model == str(tmp_path / "models" / "r")
    for bad, message in [("ranker: trees", "'search.ranker' must be one of learned, weighted"),
                         ("rerank_depth: 0", "'search.rerank_depth' must be at least 1")]:
        path.write_text(f"search:\n  {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_config(path)


def test_the_packaged_model_reads_the_declared_features():
    ranker = learned.load_ranker()
    assert tuple(ranker.booster.feature_name()) == learned.FEATURES
    assert ranker.about["features"] == list(learned.FEATURES) and ranker.about["rounds"] > 0


def _small_multihop(tmp_path, n_queries: int = 12):
    """The first `n_queries` queries with evidence and only the articles they cite."""
    queries = [q for q in json.loads((MULTIHOP / multihop.MULTIHOP_QUERIES).read_text()) if q["evidence_list"]]
    queries = queries[:n_queries]
    titles = {e["title"] for q in queries for e in q["evidence_list"]}
    corpus = [a for a in json.loads((MULTIHOP / multihop.MULTIHOP_CORPUS).read_text()) if a["title"] in titles]
    folder = tmp_path / "mh"
    folder.mkdir()
    (folder / multihop.MULTIHOP_QUERIES).write_text(json.dumps(queries))
    (folder / multihop.MULTIHOP_CORPUS).write_text(json.dumps(corpus))
    return folder


@needs_multihop
@pytest.mark.e2e
def test_train_ranker_writes_a_model_the_service_answers_with(runner, tmp_path, encoder):
    folder, out, kept = _small_multihop(tmp_path), tmp_path / "model", tmp_path / "kept"
    config = tmp_path / "c.yaml"
    config.write_text(f"search:\n  ranker: learned\n  ranker_model: {out}\n", encoding="utf-8")
    args = ["train-ranker", "--config", str(config), "--multihop", str(folder), "--keep-index", str(kept)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    about = json.loads((out / learned.ABOUT_FILE).read_text())
    assert about["questions"]["multihop"] > 0 and about["features"] == list(learned.FEATURES)
    first = (out / learned.MODEL_FILE).read_bytes()
    assert runner.invoke(cli, args).exit_code == 0 and (out / learned.MODEL_FILE).read_bytes() == first  # same trees
    cfg = load_config(config).replace(data_dir=kept / "data", index_dir=kept / "index")
    store = open_store(cfg)
    try:
        service = Answerer(store, encoder, cfg.search)
        result = service.ask("Which company did the article say was sued?", 5)
        assert result.passages and service.retriever.ranker is not None
        for p in result.passages:  # offsets are truth under the learned order too
            assert store.article(p.citation.doc_id).text[p.citation.start:p.citation.end] == p.text
    finally:
        store.close()


def test_training_without_gold_in_any_window_is_an_error(tmp_path):
    with pytest.raises(train.EvalError, match="no training question"):
        train.train([], tmp_path)
    assert not (tmp_path / learned.MODEL_FILE).exists()
