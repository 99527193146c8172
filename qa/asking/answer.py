"""From a question to cited, verbatim passages and the one sentence that best answers it.

Everything returned is a slice of a stored article, addressed by its offsets: the service
never writes text of its own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Sequence

import numpy as np

from qa.config import SearchConfig
from qa.encoder import Encoder
from qa.asking.fuse import coverage
from qa.storage.local.store import IndexVersion
from qa.storage.local.bm25 import terms
from qa.models import AnswerSentence, Article, Citation, Passage, Result, Span
from qa.models import Filters
from qa.asking.retrieve import Hit, Query, Retriever, answer_type_match, clauses, is_follow_up
from qa.storage.local.meta import ChunkRow

QUERY_CACHE_SIZE = 1024


def _citation(article: Article, row: ChunkRow, start: int, end: int) -> Citation:
    return Citation(doc_id=article.doc_id, title=article.title, source=article.source, date=article.date,
                    path=article.path, chunk_id=row.chunk_id, start=start, end=end, url=article.url)


def _normalize(vec: np.ndarray) -> np.ndarray:
    return (vec / max(float(np.linalg.norm(vec)), 1e-12)).astype(np.float32)


class QueryVectors:
    """An LRU cache of question vectors, keyed by the question with its white space folded."""

    def __init__(self, encoder: Encoder, size: int = QUERY_CACHE_SIZE):
        self.encoder = encoder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> list[np.ndarray]:
        keys = [" ".join(t.split()) for t in texts]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
            for k in found:
                self._cache.move_to_end(k)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            for k, vec in zip(missing, self.encoder.encode_queries(missing)):
                found[k] = vec
            with self._lock:
                for k in missing:
                    self._cache[k] = found[k]
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return [found[k] for k in keys]


class Answerer:
    """Answers questions from one index version with one loaded encoder."""

    def __init__(self, index: IndexVersion, encoder: Encoder, cfg: SearchConfig):
        self.index = index
        self.encoder = encoder
        self.cfg = cfg
        self.retriever = Retriever(index, cfg)
        self.vectors = QueryVectors(encoder)

    def ask(self, question: str, top_k: int | None = None, *, history: Sequence[str] = (),
            filters: Filters | None = None) -> Result:
        return self.ask_batch([question], top_k, histories=[history], filters=filters)[0]

    def ask_batch(self, questions: Sequence[str], top_k: int | None = None, *,
                  histories: Sequence[Sequence[str]] | None = None, filters: Filters | None = None) -> list[Result]:
        started = time.perf_counter()
        k = top_k or self.cfg.top_k
        histories = histories or [()] * len(questions)
        # A follow-up is searched with its conversation's last question; others stand alone.
        contexts = [h[-1] if h and is_follow_up(q) else None for q, h in zip(questions, histories)]
        parts = [self._parts(q) for q in questions]
        embed_parts = self.cfg.clause_vectors and self.cfg.mode != "bm25"
        # One model call: the questions, then per question its context and its clauses.
        extra = [t for c, ps in zip(contexts, parts) for t in ([c] if c else []) + (list(ps) if embed_parts else [])]
        vecs = self.vectors(list(questions) + extra)
        extra_vecs = iter(vecs[len(questions):])
        results = []
        for question, context, own_vec, own_parts in zip(questions, contexts, vecs, parts):
            own_terms = terms(question)
            own_weights = {t: self.index.lexical.idf(t) for t in own_terms}
            qvec, qterms, weights = own_vec, own_terms, own_weights
            if context:  # retrieval sees the topic of the conversation ...
                qvec = _normalize(own_vec + self.cfg.history_weight * next(extra_vecs))
                qterms = own_terms + [t for t in terms(context) if t not in own_terms]
                weights = {t: self.index.lexical.idf(t) for t in qterms}
            part_vecs = np.stack([next(extra_vecs) for _ in own_parts]) if embed_parts and own_parts else None
            query = Query(question, qvec, qterms, filters or Filters(), weights, own_parts, part_vecs)
            # ... while the answer sentence is the one that answers the question itself.
            own = Query(question, own_vec, own_terms, query.filters, own_weights)
            results.append(self._result(query, own, self.retriever.search(query, k), started))
        return results

    def _parts(self, question: str) -> tuple[str, ...]:
        """The clauses searched on their own: none for a one-part question."""
        if not self.cfg.clause_weight or self.cfg.mode == "dense":
            return ()
        parts = clauses(question)
        return tuple(parts) if len(parts) > 1 else ()

    def confidence(self, query: Query, hits: list[Hit]) -> float:
        """Evidence that the passages answer: the best cosine, plus how much of the question
        the best passages contain. Both are independent of corpus size and score scales."""
        top = hits[:3]
        best_dense = max(h.dense for h in top)
        best_cover = max(coverage(query.weights, h.terms) for h in top)
        return best_dense + self.cfg.coverage_weight * best_cover

    def _result(self, query: Query, own: Query, hits: list[Hit], started: float) -> Result:
        if not hits or self.confidence(query, hits) < self.cfg.min_score:
            return Result(query.text, True, None, [], _ms(started))
        store = self.index.store
        articles = store.articles(h.row.doc_id for h in hits)
        passages: list[Passage] = []
        best: tuple[float, AnswerSentence] | None = None
        for rank, hit in enumerate(hits, 1):
            row = hit.row
            article = articles[row.doc_id]
            segs, vecs = store.segments(row.doc_id, row.seg_first, row.seg_last)
            texts = [row.text[s.start - row.start: s.end - row.start] for s in segs]
            scores = vecs @ own.vector + np.array(
                [self.cfg.answer_lexical_weight * coverage(own.weights, set(terms(t)))
                 + self.cfg.answer_type_weight * answer_type_match(own.text, t) for t in texts])
            top = int(np.argmax(scores))
            seg = segs[top]
            passages.append(Passage(rank=rank, score=round(hit.score, 4), text=row.text,
                                    citation=_citation(article, row, row.start, row.end),
                                    highlights=[Span(seg.start - row.start, seg.end - row.start)]))
            if best is None or scores[top] > best[0]:
                best = (float(scores[top]), AnswerSentence(texts[top], rank - 1,
                                                           _citation(article, row, seg.start, seg.end),
                                                           round(float(scores[top]), 4)))
        return Result(query.text, False, best[1] if best else None, passages, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
