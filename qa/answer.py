"""From a question to cited, verbatim passages and the one sentence that best answers it.

Everything returned is a slice of a stored article, addressed by its offsets: the service
never writes text of its own.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from .config import SearchConfig
from .embed import Encoder
from .index import IndexVersion
from .models import AnswerSentence, Article, Citation, Passage, Result, Span
from .search import Hit, dense_search
from .store import ChunkRow


def _citation(article: Article, row: ChunkRow, start: int, end: int) -> Citation:
    return Citation(doc_id=article.doc_id, title=article.title, source=article.source, date=article.date,
                    path=article.path, chunk_id=row.chunk_id, start=start, end=end, url=article.url)


class Answerer:
    """Answers questions from one index version with one loaded encoder."""

    def __init__(self, index: IndexVersion, encoder: Encoder, cfg: SearchConfig):
        self.index = index
        self.encoder = encoder
        self.cfg = cfg

    def ask(self, question: str, top_k: int | None = None) -> Result:
        return self.ask_batch([question], top_k)[0]

    def ask_batch(self, questions: Sequence[str], top_k: int | None = None) -> list[Result]:
        started = time.perf_counter()
        k = top_k or self.cfg.top_k
        qvecs = self.encoder.encode_queries(questions)
        hits = dense_search(self.index, qvecs, k)
        results = []
        for question, qvec, qhits in zip(questions, qvecs, hits):
            results.append(self._result(question, qvec, qhits, started))
        return results

    def _result(self, question: str, qvec: np.ndarray, hits: list[Hit], started: float) -> Result:
        if not hits or hits[0].score < self.cfg.min_score:
            return Result(question, True, None, [], _ms(started))
        store = self.index.store
        rows = store.chunks(h.chunk_id for h in hits)
        articles = store.articles(r.doc_id for r in rows.values())
        passages: list[Passage] = []
        best: tuple[float, AnswerSentence] | None = None
        for rank, hit in enumerate(hits, 1):
            row = rows[hit.chunk_id]
            article = articles[row.doc_id]
            segs, vecs = store.segments(row.doc_id, row.seg_first, row.seg_last)
            sims = vecs @ qvec
            top = int(np.argmax(sims))
            seg = segs[top]
            passages.append(Passage(rank=rank, score=round(hit.score, 4), text=row.text,
                                    citation=_citation(article, row, row.start, row.end),
                                    highlights=[Span(seg.start - row.start, seg.end - row.start)]))
            if best is None or sims[top] > best[0]:
                sentence = row.text[seg.start - row.start: seg.end - row.start]
                best = (float(sims[top]), AnswerSentence(sentence, rank - 1,
                                                         _citation(article, row, seg.start, seg.end),
                                                         round(float(sims[top]), 4)))
        return Result(question, False, best[1] if best else None, passages, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
