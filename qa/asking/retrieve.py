"""Retrieval in named stages over one candidate record:

gather (dense, BM25, each clause, the named outlets) -> score (cosines, best sentences,
clauses) -> fuse (and boost by named outlet, date, recency) -> diversify (near-duplicates,
per-article cap and penalty).

Only the storage interface is used, so every backend ranks the same way.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass

import numpy as np

from qa.asking.analyse import Method, Query
from qa.asking.fuse import jaccard, minmax, mix, ranks, recency_factor, rrf, weighted_sum
from qa.asking.learned import LearnedRanker, Window, features, load_ranker
from qa.config import SearchConfig
from qa.storage.base import ChunkMeta, ChunkRow, LexicalScores, Store


@dataclass(frozen=True)
class Hit:
    row: ChunkRow
    score: float  # fused, boosted, penalised: orders the results
    dense: float  # cosine of the question (with its conversation) and the chunk; 0 if unknown
    terms: frozenset[str] = frozenset()  # the passage's terms, for coverage


@dataclass
class Candidates:
    """One question's candidates and every score ranking needs, aligned with `ids`; NaN marks
    a score a candidate does not have."""

    ids: np.ndarray  # chunk ids, ascending
    cosine: np.ndarray  # chunk cosine (from the dense search, or exact for the others)
    bm25: np.ndarray  # BM25 of the whole question; NaN: not a BM25 candidate
    sentence: np.ndarray  # best sentence cosine; NaN: not read
    clause: np.ndarray | None = None  # best score for any one clause
    score: np.ndarray | None = None  # the fused and boosted score


@dataclass
class Ranking:
    """One question's candidates in ranked order, with their articles and (lazily) their rows."""

    found: Candidates
    order: np.ndarray  # indices into found, best first
    meta: dict[int, ChunkMeta]
    rows: "_Rows"


def best_sentence(sentences: dict[int, np.ndarray], ids: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each chunk's best cosine between `vector` and one of its stored sentence vectors."""
    return np.array([float((sentences[c] @ vector).max()) if c in sentences else np.nan for c in ids.tolist()])


class Retriever:
    """Ranks the chunks of one index version for analysed questions."""

    def __init__(self, store: Store, cfg: SearchConfig):
        self.store, self.cfg = store, cfg
        self.method = Method.of(cfg)
        self.ranker = load_ranker(cfg.ranker_model) if cfg.ranker == "learned" else None
        latest = store.summary().date_to
        self.newest = dt.date.fromisoformat(latest) if latest else None

    def search(self, query: Query, k: int) -> list[Hit]:
        """The k best chunks, near-duplicates collapsed and the per-article rules applied."""
        ranking = self.rank(query, k)
        if ranking is None:
            return []
        if self.ranker:
            rerank(self.ranker, query, ranking, self.cfg.rerank_depth)
        self._exact_cosines(query, ranking.found, ranking.order[: k * 4])
        return self.diversify(ranking, k)

    def rank(self, query: Query, k: int) -> Ranking | None:
        """Every candidate scored and ordered by the weighted fusion; None if there are none."""
        dense, lexical, parts = self.gather(query)
        if not dense and not lexical:
            return None
        found = self.score(query, dense, lexical, parts)
        meta = self.store.chunk_meta(found.ids.tolist())
        found.score = self.boost(query, self.fuse(found), [meta[c] for c in found.ids.tolist()])
        order = np.argsort(-found.score, kind="stable")  # ties: lower chunk id first
        block = max(k * 4, 20, self.cfg.rerank_depth if self.ranker else 0)  # rows read at once
        return Ranking(found, order, meta, _Rows(self.store, found.ids[order].tolist(), block))

    def gather(self, query: Query) -> tuple[dict[int, float], dict[int, float], list[LexicalScores]]:
        """Candidates with their scores for the whole question: the dense and BM25 top, each
        clause's top (one BM25 call for all), and the best chunks of the outlets the question names."""
        n, m, store = self.cfg.candidates, self.method, self.store
        dense = store.dense_top(query.search_vector, n, query.filters) if m.dense else {}
        lists = store.lexical([query.search_terms, *query.clauses]) if m.lexical else []
        whole, parts = (lists[0], lists[1:]) if lists else (None, [])
        lexical = whole.top(n, query.filters) if whole else {}
        if parts:  # each clause brings its own best chunks, scored for the whole question too
            each = max(10, n // len(parts))
            found = [c for p in parts for c in p.top(each, query.filters)]
            if query.clause_vectors is not None:
                found += [c for v in query.clause_vectors for c in store.dense_top(v, each, query.filters)]
            new = [c for c in dict.fromkeys(found) if c not in lexical]
            lexical.update(zip(new, whole.of(new).tolist()))
        own = query.filters.within_sources(query.outlets) if query.outlets else None
        if own is not None:  # the named outlets' best chunks compete even if they rank low overall
            if m.dense:
                dense.update(store.dense_top(query.search_vector, max(10, n // 5), own))
            if whole:
                lexical.update(whole.top(max(10, n // 5), own))
        return dense, lexical, parts

    def score(self, query: Query, dense: dict[int, float], lexical: dict[int, float],
              parts: list[LexicalScores]) -> Candidates:
        """Every candidate's cosine, best sentence and clause score."""
        ids = sorted(dense.keys() | lexical.keys())
        cfg, m = self.cfg, self.method
        if m.dense and (cfg.sentence_weight or parts):  # a BM25-only candidate's cosine
            dense.update(self.store.cosines(query.search_vector, [c for c in ids if c not in dense]))
        wants = m.dense and (cfg.sentence_weight or query.clause_vectors is not None)
        sentences = self.store.sentence_vectors(ids) if wants else {}
        found = Candidates(np.asarray(ids, dtype=np.int64), np.array([dense.get(c, np.nan) for c in ids]),
                           np.array([lexical.get(c, np.nan) for c in ids]), np.full(len(ids), np.nan))
        if cfg.sentence_weight and sentences:
            found.sentence = best_sentence(sentences, found.ids, query.search_vector)
        if parts:
            found.clause = self._by_clause(query, found.ids, parts, sentences)
        return found

    def _by_clause(self, query: Query, ids: np.ndarray, parts: list[LexicalScores],
                   sentences: dict[int, np.ndarray]) -> np.ndarray:
        """A chunk's best score for any one clause: its BM25 for the clause relative to the
        clause's best chunk, fused with its best sentence's cosine to the clause."""
        best = np.zeros(len(ids))
        w = self.cfg.dense_weight
        for i, part in enumerate(parts):
            score = part.of(ids).astype(np.float64) / (part.best() or 1.0)
            if query.clause_vectors is not None and sentences:
                cos = minmax(best_sentence(sentences, ids, query.clause_vectors[i]))
                score = weighted_sum([(cos, w), (score, 1 - w)])
            best = np.maximum(best, score)
        return best

    def fuse(self, found: Candidates) -> np.ndarray:
        """One score from the dense side (chunk and sentence cosines) and BM25, then clauses."""
        cfg = self.cfg
        dense = mix(found.cosine, found.sentence, cfg.sentence_weight) if cfg.sentence_weight else found.cosine
        if not self.method.lexical:
            fused = dense
        elif not self.method.dense:
            fused = minmax(found.bm25)
        elif cfg.fusion == "rrf":
            fused = rrf([ranks(dense), ranks(found.bm25)], cfg.rrf_k, [cfg.dense_weight, 1 - cfg.dense_weight])
        else:
            fused = weighted_sum([(minmax(dense), cfg.dense_weight), (minmax(found.bm25), 1 - cfg.dense_weight)])
        return mix(fused, found.clause, cfg.clause_weight) if found.clause is not None else fused

    def boost(self, query: Query, fused: np.ndarray, meta: list[ChunkMeta]) -> np.ndarray:
        """A bonus for the outlet and the date the question names (relative to the best fused
        score), and the recency decay."""
        cfg = self.cfg
        scale = float(fused.max()) or 1.0  # keep the bonus relative to the fusion's range
        bonus = np.zeros(len(fused))
        if query.outlets:
            bonus += cfg.metadata_boost * np.array([m.source in query.outlets for m in meta])
        if query.dates:
            bonus += cfg.metadata_boost * np.array([bool(m.date) and m.date.startswith(query.dates) for m in meta])
        boosted = fused + bonus * scale
        if cfg.recency_half_life_days > 0 and self.newest:
            boosted *= np.array([recency_factor((self.newest - dt.date.fromisoformat(m.date)).days,
                                                cfg.recency_half_life_days) if m.date else 1.0 for m in meta])
        return boosted

    def _exact_cosines(self, query: Query, found: Candidates, top: np.ndarray) -> None:
        """Cosines of the best candidates that lack one: abstention reads them."""
        missing = [i for i in top.tolist() if np.isnan(found.cosine[i])]
        exact = self.store.cosines(query.search_vector, found.ids[missing].tolist()) if missing else {}
        for i in missing:
            found.cosine[i] = exact.get(int(found.ids[i]), np.nan)

    def diversify(self, ranking: Ranking, k: int) -> list[Hit]:
        """Walk the ranking best first, skipping near-duplicates and chunks over the per-article
        cap; each passage already kept from an article lowers that article's next ones by
        `article_penalty` x the best score, so one article does not fill the top."""
        cfg, found, order, meta, rows = self.cfg, ranking.found, ranking.order, ranking.meta, ranking.rows
        ids, scores = found.ids[order].tolist(), found.score[order].tolist()
        cosines = np.nan_to_num(found.cosine[order], nan=0.0).tolist()
        kept: list[Hit] = []
        per_article: dict[str, int] = {}
        penalty = cfg.article_penalty * max(abs(scores[0]), 1e-9)
        # (-score as last computed, rank, the article's count it was computed at)
        heap = [(-s, r, 0) for r, s in enumerate(scores)]
        while heap and len(kept) < k:
            neg, rank, seen = heapq.heappop(heap)
            doc = meta[ids[rank]].doc_id
            count = per_article.get(doc, 0)
            if penalty and count != seen:  # its article gained a passage since: score it again
                heapq.heappush(heap, (-(scores[rank] - penalty * count), rank, count))
                continue
            if cfg.max_per_article and count >= cfg.max_per_article:
                continue
            row, words = rows.row(ids[rank]), rows.terms(ids[rank])
            if cfg.dedupe and any(jaccard(words, h.terms) >= cfg.duplicate_jaccard for h in kept):
                continue
            per_article[doc] = count + 1
            kept.append(Hit(row, scores[rank] - penalty * count, cosines[rank], words))
        return kept


def window(ranking: Ranking, depth: int) -> Window:
    """The weighted ranking's best `depth` candidates with what the trees read of them."""
    found, rows = ranking.found, ranking.rows
    top = ranking.order[:depth]
    ids = found.ids[top].tolist()
    bm25_best = 0.0 if np.isnan(found.bm25).all() else float(np.nanmax(found.bm25))
    return Window(ids, found.score[top], found.cosine[top], found.sentence[top], found.bm25[top], bm25_best,
                  found.clause[top] if found.clause is not None else None,
                  [ranking.meta[c] for c in ids], [rows.row(c) for c in ids], [rows.terms(c) for c in ids])


def rerank(ranker: LearnedRanker, query: Query, ranking: Ranking, depth: int) -> None:
    """The window re-ordered by the trees, the rest after it in weighted order. Scores are
    rescaled so the best is 1 and the window spans [0, 1], as the article penalty expects."""
    learned = ranker.scores(features(query, window(ranking, depth)))
    found, order = ranking.found, ranking.order
    top, rest = order[: len(learned)], order[len(learned):]
    score = found.score / (abs(float(found.score[order[0]])) or 1.0) - 2.0
    score[top] = minmax(learned)
    found.score = score
    ranking.order = np.concatenate([top[np.argsort(-learned, kind="stable")], rest])


class _Rows:
    """Chunk rows and their terms read from the store in blocks along a ranking, as they are
    first needed. Terms are kept by text: a republished or copied chunk repeats its text, and
    its terms are not read again."""

    def __init__(self, store: Store, ids: list[int], block: int):
        self.store, self.ids, self.block = store, ids, block
        self.rank = {c: r for r, c in enumerate(ids)}
        self.rows: dict[int, ChunkRow] = {}
        self._terms: dict[str, frozenset[str]] = {}

    def _block(self, cid: int) -> list[int]:
        rank = self.rank[cid]
        return self.ids[rank:rank + self.block]

    def row(self, cid: int) -> ChunkRow:
        if cid not in self.rows:
            self.rows.update(self.store.chunks(self._block(cid)))
        return self.rows[cid]

    def terms(self, cid: int) -> frozenset[str]:
        text = self.row(cid).text
        if text not in self._terms:  # the block's rows whose texts are new, one of each
            new = {self.rows[c].text: c for c in self._block(cid) if c in self.rows} | {text: cid}
            wanted = [c for t, c in new.items() if t not in self._terms]
            self._terms.update((self.rows[c].text, found) for c, found in self.store.terms(wanted).items())
        return self._terms[text]
