"""Retrieval: dense (FAISS) and lexical (BM25) candidates, fused, boosted and de-duplicated.

Filters restrict both retrievers before ranking; boosts for an outlet or a date the question
names come from the index's own metadata, so nothing is guessed or generated.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from qa.config import SearchConfig
from qa.models import Filters
from qa.asking.fuse import jaccard, minmax, recency_factor, rrf, weighted_sum
from qa.storage.local.store import IndexVersion
from qa.storage.local.bm25 import terms, top as lexical_top
from qa.storage.local.meta import ChunkRow
from qa.storage.local.vectors import search as vector_search

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december"]
_MONTH_RE = "|".join(m.capitalize() for m in _MONTHS)
_FULL_DATE = re.compile(rf"\b({_MONTH_RE}) (\d{{1,2}}),? (\d{{4}})\b")
_MONTH_YEAR = re.compile(rf"\b({_MONTH_RE}),? (\d{{4}})\b")
_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


@dataclass(frozen=True)
class Query:
    text: str
    vector: np.ndarray
    terms: list[str]
    filters: Filters = field(default_factory=Filters)
    # IDF of each distinct term: how much finding it in a text counts.
    weights: dict[str, float] = field(default_factory=dict)
    # The clauses of a many-part question, each also searched on its own, and their vectors.
    parts: tuple[str, ...] = ()
    part_vectors: np.ndarray | None = None


@dataclass(frozen=True)
class Hit:
    row: ChunkRow
    score: float  # fused, boosted: orders the results
    dense: float  # cosine similarity of question and chunk
    lexical: float  # BM25 score
    terms: frozenset[str] = frozenset()  # the passage's terms, for coverage


def named_dates(question: str) -> list[str]:
    """Date prefixes (YYYY-MM-DD or YYYY-MM) that the question names."""
    found = [f"{y}-{_MONTHS.index(m.lower()) + 1:02d}-{int(d):02d}" for m, d, y in _FULL_DATE.findall(question)]
    found += [f"{y}-{_MONTHS.index(m.lower()) + 1:02d}" for m, y in _MONTH_YEAR.findall(question)]
    return found + _ISO_DATE.findall(question)


_CLAUSE_BREAK = re.compile(r"[,;:?]\s*|\s+(?:and|while|whereas|but|or|whose|which|who|that)\s+", re.IGNORECASE)


def clauses(question: str) -> list[str]:
    """The parts of a many-part question, split at punctuation and conjunctions; a part with
    fewer than two content terms joins the next one."""
    parts, pending = [], ""
    for piece in _CLAUSE_BREAK.split(question):
        pending = f"{pending} {piece}".strip()
        if len(terms(pending)) >= 2:
            parts.append(pending)
            pending = ""
    if pending and parts:
        parts[-1] = f"{parts[-1]} {pending}"
    return parts


def best_sentence(sentences: dict[int, np.ndarray], ids, vector: np.ndarray) -> dict[int, float]:
    """Each chunk's best cosine between `vector` and one of its stored sentence vectors."""
    return {c: float((sentences[c] @ vector).max()) for c in ids if c in sentences}


def named_sources(question: str, sources: list[str]) -> list[str]:
    """Outlets of the index that the question names as proper nouns ("according to TechCrunch")."""
    named = []
    for source in sources:
        for m in re.finditer(rf"(?<!\w){re.escape(source)}(?!\w)", question, re.IGNORECASE):
            if m.group()[0].isupper():
                named.append(source)
                break
    return named


class Retriever:
    """Ranks the chunks of one index version for a question."""

    def __init__(self, index: IndexVersion, cfg: SearchConfig):
        self.index = index
        self.cfg = cfg
        self._by_source: dict[str, np.ndarray] = {}

    @cached_property
    def sources(self) -> list[str]:
        return self.index.store.summary()["sources"]

    @cached_property
    def newest(self) -> dt.date | None:
        latest = self.index.store.summary()["date_to"]
        return dt.date.fromisoformat(latest) if latest else None

    def _source_chunks(self, sources: tuple[str, ...]) -> np.ndarray:
        """Chunk ids of the named outlets. Each outlet's ids are read once per index version
        (any combination of outlets reuses them) and kept on the instance, not in a
        class-level cache, so a replaced version is freed."""
        for source in sources:
            if source not in self._by_source:
                self._by_source[source] = self.index.store.chunk_ids_where(sources=(source,))
        return np.concatenate([self._by_source[s] for s in sources]) if sources else np.zeros(0, np.int64)

    def allowed(self, filters: Filters) -> np.ndarray | None:
        if not filters:
            return None
        return self.index.store.chunk_ids_where(date_from=filters.date_from, date_to=filters.date_to,
                                                sources=filters.sources, doc_ids=filters.doc_ids)

    def _dense(self, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        if self.index.vectors.ntotal == 0 or (allowed is not None and not len(allowed)):
            return {}
        scores, ids = vector_search(self.index.vectors, vector[None, :], n, allowed)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}

    def _candidates(self, query: Query, allowed: np.ndarray | None
                    ) -> tuple[dict[int, float], dict[int, float], list[np.ndarray]]:
        """Dense and BM25 candidates, with their scores for the whole question, and each
        clause's BM25 scores of every chunk."""
        n, mode = self.cfg.candidates, self.cfg.mode
        dense = self._dense(query.vector, n, allowed) if mode != "bm25" else {}
        scores = self.index.lexical.scores(query.terms) if mode != "dense" else None
        lexical = lexical_top(scores, n, allowed) if scores is not None else {}
        # Clause search needs BM25 (the Answerer gives no clauses in dense mode).
        part_scores = [self.index.lexical.scores(terms(p)) for p in query.parts] if scores is not None else []
        if part_scores:
            # Each clause brings its own best chunks too, scored for the whole question as well.
            each = max(10, n // len(part_scores))
            found = [c for a in part_scores for c in lexical_top(a, each, allowed)]
            if query.part_vectors is not None and mode != "bm25":
                found += [c for v in query.part_vectors for c in self._dense(v, each, allowed)]
            for c in found:
                lexical.setdefault(c, float(scores[c]))
        named = named_sources(query.text, self.sources)
        if named and self.cfg.metadata_boost > 0:
            # Make sure the named outlets' best chunks compete, even if they rank low overall.
            own = self._source_chunks(tuple(named))
            own = np.intersect1d(own, allowed) if allowed is not None else own
            if mode != "bm25":
                dense.update(self._dense(query.vector, max(10, n // 5), own))
            if scores is not None:
                lexical.update(lexical_top(scores, max(10, n // 5), own))
        return dense, lexical, part_scores

    def _by_part(self, query: Query, ids: list[int], part_scores: list[np.ndarray],
                 sentences: dict[int, np.ndarray]) -> dict[int, float]:
        """A chunk's best score for any one clause: its BM25 score for the clause relative to
        the clause's best chunk, fused with its best sentence's cosine to the clause."""
        best: dict[int, float] = {}
        for i, scores in enumerate(part_scores):
            hi = float(scores.max()) or 1.0
            part = {c: float(scores[c]) / hi for c in ids}
            if query.part_vectors is not None and sentences:
                cos = minmax(best_sentence(sentences, ids, query.part_vectors[i]))
                part = weighted_sum([(cos, self.cfg.dense_weight), (part, 1 - self.cfg.dense_weight)])
            for c, v in part.items():
                best[c] = max(best.get(c, 0.0), v)
        return best

    def fuse(self, dense: dict[int, float], lexical: dict[int, float]) -> dict[int, float]:
        cfg = self.cfg
        if cfg.mode == "dense":
            return dict(dense)
        if cfg.mode == "bm25":
            return minmax(lexical)
        if cfg.fusion == "rrf":
            ranked = [sorted(d, key=d.get, reverse=True) for d in (dense, lexical)]
            return rrf(ranked, cfg.rrf_k, [cfg.dense_weight, 1 - cfg.dense_weight])
        return weighted_sum([(minmax(dense), cfg.dense_weight), (minmax(lexical), 1 - cfg.dense_weight)])

    def _boost(self, query: Query, fused: dict[int, float], meta: dict) -> dict[int, float]:
        cfg = self.cfg
        named = set(named_sources(query.text, self.sources)) if cfg.metadata_boost else set()
        dates = named_dates(query.text) if cfg.metadata_boost else []
        scale = max(fused.values(), default=0.0) or 1.0  # keep the bonus relative to the fusion's range
        boosted = {}
        for cid, score in fused.items():
            _, source, date = meta[cid]
            bonus = 0.0
            if source in named:
                bonus += cfg.metadata_boost
            if date and any(date.startswith(d) for d in dates):
                bonus += cfg.metadata_boost
            score += bonus * scale
            if cfg.recency_half_life_days > 0 and date and self.newest:
                age = (self.newest - dt.date.fromisoformat(date)).days
                score *= recency_factor(age, cfg.recency_half_life_days)
            boosted[cid] = score
        return boosted

    def search(self, query: Query, k: int) -> list[Hit]:
        """The k best chunks, near-duplicates collapsed and per-article cap applied."""
        cfg = self.cfg
        allowed = self.allowed(query.filters)
        dense, lexical, part_scores = self._candidates(query, allowed)
        ids = sorted(dense.keys() | lexical.keys())
        if not ids:
            return []
        if cfg.mode != "bm25" and (cfg.sentence_weight or part_scores):
            dense.update(self._cosines(query, [c for c in ids if c not in dense]))
        wants_sentences = cfg.mode != "bm25" and (cfg.sentence_weight or query.part_vectors is not None)
        sentences = self.index.store.sentence_vectors(ids) if wants_sentences else {}
        fused = self.fuse(self._sentence_mix(query, dense, sentences), lexical)
        if part_scores:
            by_part = self._by_part(query, ids, part_scores, sentences)
            w = cfg.clause_weight
            fused = {c: (1 - w) * f + w * by_part.get(c, 0.0) for c, f in fused.items()}
        meta = self.index.store.chunk_meta(fused)
        fused = self._boost(query, fused, meta)
        ranked = sorted(fused, key=lambda c: (-fused[c], c))
        missing = [c for c in ranked[: k * 4] if c not in dense]
        dense.update(self._cosines(query, missing))
        return self._diversify(ranked, fused, dense, lexical, meta, k)

    def _sentence_mix(self, query: Query, dense: dict[int, float],
                      sentences: dict[int, np.ndarray]) -> dict[int, float]:
        w = self.cfg.sentence_weight
        if not w:
            return dense
        best = best_sentence(sentences, dense, query.vector)
        return {c: (1 - w) * s + w * best[c] if c in best else s for c, s in dense.items()}

    def _cosines(self, query: Query, ids: list[int]) -> dict[int, float]:
        """Exact cosine for candidates only the lexical side found (abstention needs it)."""
        if not ids:
            return {}
        try:
            vecs = self.index.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        except RuntimeError:  # an approximate index without a direct map
            return {}
        return {c: float(s) for c, s in zip(ids, vecs @ query.vector)}

    def _diversify(self, ranked: list[int], fused: dict[int, float], dense: dict[int, float],
                   lexical: dict[int, float], meta: dict, k: int) -> list[Hit]:
        """Walk the ranking best first, skipping near-duplicates and chunks over the per-article
        cap; each passage already kept from an article lowers that article's next ones by
        `article_penalty` x the best score, so one article does not fill the top."""
        cfg = self.cfg
        kept: list[Hit] = []
        kept_terms: list[set[str]] = []
        per_article: dict[str, int] = {}
        penalty = cfg.article_penalty * max(abs(fused[ranked[0]]), 1e-9) if ranked else 0.0
        # (-score as last computed, rank, chunk id, the article's count it was computed at)
        heap = [(-fused[c], r, c, 0) for r, c in enumerate(ranked)]
        rows: dict[int, ChunkRow] = {}
        block = max(k * 4, 20)
        while heap and len(kept) < k:
            neg, rank, cid, seen = heapq.heappop(heap)
            doc = meta[cid][0]
            count = per_article.get(doc, 0)
            if penalty and count != seen:  # its article gained a passage since: score it again
                heapq.heappush(heap, (-(fused[cid] - penalty * count), rank, cid, count))
                continue
            if cfg.max_per_article and count >= cfg.max_per_article:
                continue
            if cid not in rows:
                rows.update(self.index.store.chunks(ranked[rank:rank + block]))
            row = rows[cid]
            words = frozenset(terms(row.text))
            if cfg.dedupe and any(jaccard(words, other) >= cfg.duplicate_jaccard for other in kept_terms):
                continue
            kept_terms.append(words)
            per_article[doc] = count + 1
            kept.append(Hit(row, fused[cid] - penalty * count, dense.get(cid, 0.0), lexical.get(cid, 0.0), words))
        return kept

_REFERRING = re.compile(
    r"^(and|but|also|so|then|what about|how about)\b|\b(they|them|their|theirs|it|its|there|those|these|"
    r"he|him|his|she|her|hers|that event|this event|the same)\b", re.IGNORECASE)


def is_follow_up(question: str) -> bool:
    """A question that leans on the conversation: it refers back, or is too short to stand alone."""
    return bool(_REFERRING.search(question.strip())) or len(terms(question)) < 2


_QUANTITY_Q = re.compile(r"\b(how (many|much|long|old)|number of|what (percentage|share|amount)|count of)\b", re.I)
_TIME_Q = re.compile(r"\b(when|what (year|date|day|month|time)|which (year|date|day|month))\b", re.I)
# A count ("613 people", "1,275 residents"), not a date or an ordinal ("February 25, 1992").
_NUMBER = re.compile(r"\b(?!(?:1[89]|20)\d\d\b)\d[\d,.]*\s+[a-z]")
_TIME = re.compile(rf"\b(1[89]\d\d|20\d\d|{_MONTH_RE})\b")


def answer_type_match(question: str, sentence: str) -> float:
    """1 when the sentence holds the kind of thing the question asks for (a number for
    "how many", a date for "when"), else 0: a cue that embeddings of this size miss."""
    if _QUANTITY_Q.search(question):
        return float(bool(_NUMBER.search(sentence)))
    if _TIME_Q.search(question):
        return float(bool(_TIME.search(sentence)))
    return 0.0
