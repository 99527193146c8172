"""From a question to cited, verbatim passages and the one sentence that best answers it.

Everything returned is a slice of a stored article, addressed by its offsets: the service
never writes text of its own.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Iterable, Sequence

import numpy as np

from qa.asking.analyse import Analyser, Query, QueryVectors, answer_type
from qa.asking.differ import Said, disagreements
from qa.asking.fuse import coverage
from qa.asking.passages import Read, assemble, cite
from qa.asking.retrieve import Hit, Retriever
from qa.config import SearchConfig
from qa.encoder import QueryEncoder
from qa.models import Alternative, AnswerSentence, Article, Evidence, Filters, Result
from qa.outlets import Outlets
from qa.storage.base import Store
from qa.text import terms


class Answerer:
    """Answers questions from one index version with one loaded encoder."""

    def __init__(self, store: Store, encoder: QueryEncoder, cfg: SearchConfig, vectors: QueryVectors | None = None):
        self.store = store
        self.encoder = encoder
        self.cfg = cfg
        self.vectors = vectors or QueryVectors(encoder)
        summary = store.summary()
        self.outlets = Outlets.of(summary.sources, summary.source_counts, cfg.outlet_aliases)
        self.analyser = Analyser(store, self.vectors, cfg, self.outlets)
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
        # A question with nothing to search for retrieves nothing, and so abstains.
        return [self._result(q, self.retriever.search(q, k) if q.searchable else [], started) for q in queries]

    def articles(self, doc_ids: Iterable[str]) -> dict[str, Article]:
        """Articles' metadata (without their text) as citations name them: the outlet merged."""
        return {d: replace(a, source=self.outlets.name(a.source)) for d, a in self.store.articles(doc_ids).items()}

    def confidence(self, query: Query, hits: list[Hit]) -> float:
        """Evidence that the passages answer: the best cosine, plus how much of the question
        the best passages contain. Both are independent of corpus size and score scales."""
        top = hits[:3]
        best_dense = max(h.dense for h in top)
        best_cover = max(coverage(query.search_weights, h.terms) for h in top)
        return best_dense + self.cfg.coverage_weight * best_cover

    def _result(self, query: Query, hits: list[Hit], started: float) -> Result:
        level = evidence(self.confidence(query, hits), self.cfg) if hits else "none"
        if level == "none":
            return Result(query.text, True, level, None, [], _ms(started))
        articles = self.articles(h.row.doc_id for h in hits)
        cue = answer_type(query.text)
        reads = [self._read(query, cue, hit, articles[hit.row.doc_id]) for hit in hits]
        passages, where = assemble(reads)
        if level == "weak":  # the closest passages, but no sentence quoted as if it answered
            return Result(query.text, False, level, None, passages, _ms(started))
        best = max(range(len(reads)), key=lambda i: reads[i].scores[reads[i].top])  # the first of equals
        return Result(query.text, False, level, self._answer(query, reads, where, best), passages, _ms(started))

    def _read(self, query: Query, cue: re.Pattern | None, hit: Hit, article: Article) -> Read:
        """The chunk's sentences scored as answers to the question itself: cosine, plus the share
        of the question's terms each holds, plus a bonus when it holds what is asked for (`cue`)."""
        row = hit.row
        segments, vectors = self.store.sentences(row)
        texts = [row.text[s.start - row.start: s.end - row.start] for s in segments]
        scores = vectors @ query.vector + np.array(
            [self.cfg.answer_lexical_weight * coverage(query.weights, set(terms(t)))
             + self.cfg.answer_type_weight * float(bool(cue and cue.search(t))) for t in texts])
        return Read(hit, article, segments, texts, scores)

    def _answer(self, query: Query, reads: list[Read], where: list[int], best: int) -> AnswerSentence:
        """The best sentence, and the sentences of other articles that give another value for it."""
        read = reads[best]
        answer = Said(read.row.doc_id, read.texts[read.top], float(read.scores[read.top]), (best, read.top))
        found = disagreements(query.text, query.weights, answer, _sentences(reads))
        return AnswerSentence(answer.text, where[best], self._cite(reads, best, read.top), round(answer.score, 4),
                              [Alternative(s.text, where[s.ref[0]], self._cite(reads, *s.ref)) for s in found])

    @staticmethod
    def _cite(reads: list[Read], i: int, j: int):
        seg = reads[i].segments[j]
        return cite(reads[i].article, reads[i].row, seg.start, seg.end)


def evidence(confidence: float, cfg: SearchConfig) -> Evidence:
    """How far the passages may be trusted to answer, from `Answerer.confidence`: the one place
    that decides between abstaining, showing the closest passages, and quoting an answer."""
    if confidence < cfg.min_score:
        return "none"
    return "weak" if confidence < cfg.weak_below else "strong"


def _sentences(reads: list[Read]) -> list[Said]:
    """Every retrieved sentence once (one in two overlapping chunks keeps its better score)."""
    said: dict[tuple, Said] = {}
    for i, r in enumerate(reads):
        for j, seg in enumerate(r.segments):
            key = (r.row.doc_id, seg.start, seg.end)
            if key not in said or r.scores[j] > said[key].score:
                said[key] = Said(r.row.doc_id, r.texts[j], float(r.scores[j]), (i, j))
    return list(said.values())


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
