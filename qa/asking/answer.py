"""From a question to cited, verbatim passages and the one sentence that best answers it.

Everything returned is a slice of a stored article, addressed by its offsets: the service
never writes text of its own.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from qa.asking.analyse import Analyser, Query, QueryVectors, answer_type_match
from qa.asking.fuse import coverage
from qa.asking.retrieve import Hit, Retriever
from qa.config import SearchConfig
from qa.encoder import Encoder
from qa.models import AnswerSentence, Article, Citation, Filters, Passage, Result, Span
from qa.storage.base import ChunkRow, Store
from qa.text import terms


def _citation(article: Article, row: ChunkRow, start: int, end: int) -> Citation:
    return Citation(doc_id=article.doc_id, title=article.title, source=article.source, date=article.date,
                    path=article.path, chunk_id=row.chunk_id, start=start, end=end, url=article.url)


class Answerer:
    """Answers questions from one index version with one loaded encoder."""

    def __init__(self, store: Store, encoder: Encoder, cfg: SearchConfig, vectors: QueryVectors | None = None):
        self.store = store
        self.encoder = encoder
        self.cfg = cfg
        self.vectors = vectors or QueryVectors(encoder)
        self.analyser = Analyser(store, self.vectors, cfg)
        self.retriever = Retriever(store, cfg)

    def with_settings(self, cfg: SearchConfig) -> "Answerer":
        """The same index, model and question vectors under other search settings."""
        return Answerer(self.store, self.encoder, cfg, self.vectors)

    def ask(self, question: str, top_k: int | None = None, *, history: Sequence[str] = (),
            filters: Filters | None = None) -> Result:
        return self.ask_batch([question], top_k, histories=[history], filters=filters)[0]

    def ask_batch(self, questions: Sequence[str], top_k: int | None = None, *,
                  histories: Sequence[Sequence[str]] | None = None, filters: Filters | None = None) -> list[Result]:
        started = time.perf_counter()
        k = top_k or self.cfg.top_k
        queries = self.analyser.analyse(questions, histories or [()] * len(questions), filters or Filters())
        return [self._result(q, self.retriever.search(q, k), started) for q in queries]

    def confidence(self, query: Query, hits: list[Hit]) -> float:
        """Evidence that the passages answer: the best cosine, plus how much of the question
        the best passages contain. Both are independent of corpus size and score scales."""
        top = hits[:3]
        best_dense = max(h.dense for h in top)
        best_cover = max(coverage(query.search_weights, h.terms) for h in top)
        return best_dense + self.cfg.coverage_weight * best_cover

    def _result(self, query: Query, hits: list[Hit], started: float) -> Result:
        if not query.searchable or not hits or self.confidence(query, hits) < self.cfg.min_score:
            return Result(query.text, True, None, [], _ms(started))
        articles = self.store.articles(h.row.doc_id for h in hits)
        passages: list[Passage] = []
        best: tuple[float, AnswerSentence] | None = None
        for rank, hit in enumerate(hits, 1):
            article = articles[hit.row.doc_id]
            score, sentence = self._answer_sentence(query, hit.row, article, rank - 1)
            passages.append(Passage(rank=rank, score=round(hit.score, 4), text=hit.row.text,
                                    citation=_citation(article, hit.row, hit.row.start, hit.row.end),
                                    highlights=[Span(sentence.citation.start - hit.row.start,
                                                     sentence.citation.end - hit.row.start)]))
            if best is None or score > best[0]:
                best = (score, sentence)
        return Result(query.text, False, best[1] if best else None, passages, _ms(started))

    def _answer_sentence(self, query: Query, row: ChunkRow, article: Article,
                         passage: int) -> tuple[float, AnswerSentence]:
        """The passage's sentence that best answers the question itself: cosine, plus the share
        of the question's terms it holds, plus a bonus when it holds what is asked for."""
        segments, vectors = self.store.sentences(row)
        texts = [row.text[s.start - row.start: s.end - row.start] for s in segments]
        scores = vectors @ query.vector + np.array(
            [self.cfg.answer_lexical_weight * coverage(query.weights, set(terms(t)))
             + self.cfg.answer_type_weight * answer_type_match(query.text, t) for t in texts])
        top = int(np.argmax(scores))
        seg = segments[top]
        score = float(scores[top])
        return score, AnswerSentence(texts[top], passage, _citation(article, row, seg.start, seg.end), round(score, 4))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
