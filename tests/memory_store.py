"""An in-memory implementation of the storage interface, and a model-free encoder, so the
retrieval and answer stages can be tested in milliseconds (no model, no FAISS, no files)."""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from qa.models import Article, Filters, Segment
from qa.storage.base import ChunkMeta, ChunkRow, CorpusSummary, IndexInfo
from qa.text import terms

DIM = 1024


class HashingEncoder:
    """Bag-of-terms vectors: texts that share terms are near, which is all the stages need."""

    name = "hashing"
    dim = DIM

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([embed(t) for t in texts])


def embed(text: str) -> np.ndarray:
    vec = np.zeros(DIM, dtype=np.float32)
    for term in terms(text):
        vec[zlib.crc32(term.encode()) % DIM] += 1.0
    return vec / max(float(np.linalg.norm(vec)), 1e-12)


class MemoryScores:
    """Textbook BM25 (k1 1.5, b 0.75) of every chunk for one list of terms."""

    def __init__(self, store: "MemoryStore", query: list[str]):
        self.store = store
        self.scores = np.array([self._score(Counter(t), query) for t in store.chunk_terms], dtype=np.float32)

    def _score(self, counts: Counter, query: list[str]) -> float:
        length = sum(counts.values())
        avg = np.mean([len(t) for t in self.store.chunk_terms])
        return sum(self.store.idf([q])[q] * counts[q] * 2.5 / (counts[q] + 1.5 * (0.25 + 0.75 * length / avg))
                   for q in query if counts[q])

    def top(self, n: int, where: Filters | None = None) -> dict[int, float]:
        ids = [i for i in self.store.passing(where) if self.scores[i] > 0]
        return {i: float(self.scores[i]) for i in sorted(ids, key=lambda i: -self.scores[i])[:n]}

    def of(self, ids: Sequence[int]) -> np.ndarray:
        return self.scores[np.asarray(ids, dtype=np.int64)]

    def best(self) -> float:
        return float(self.scores.max())


class MemoryStore:
    """Articles cut into chunks of `per_chunk` sentences (split at full stops), each chunk after the
    first repeating the `overlap` last sentences of the one before."""

    def __init__(self, articles: list[Article], per_chunk: int = 2, overlap: int = 0):
        self._articles = {a.doc_id: a for a in articles}
        self.rows: list[ChunkRow] = []
        self.segments: dict[str, list[Segment]] = {}
        for a in articles:
            segs = [Segment(m.start(), m.end()) for m in re.finditer(r"[^\s.][^.]*\.", a.text)]
            self.segments[a.doc_id] = segs
            for first in range(0, max(len(segs) - overlap, 1), per_chunk - overlap):
                last = min(first + per_chunk, len(segs)) - 1
                start, end = segs[first].start, segs[last].end
                self.rows.append(ChunkRow(len(self.rows), a.doc_id, start, end, first, last, a.text[start:end]))
        self.chunk_terms = [terms(r.text) for r in self.rows]
        self.vectors = np.stack([embed(r.text) for r in self.rows])
        self.info = IndexInfo("memory", "hashing", DIM, "", len(articles), len(self.rows),
                              sum(map(len, self.segments.values())), 0, {})

    def passing(self, where: Filters | None) -> list[int]:
        def ok(row: ChunkRow) -> bool:
            a = self._articles[row.doc_id]
            return not where or ((not where.date_from or (a.date or "") >= where.date_from)
                                 and (not where.date_to or (a.date or "9") <= where.date_to)
                                 and (not where.sources or (a.source or "").lower() in {s.lower() for s in where.sources})
                                 and (not where.doc_ids or a.doc_id in where.doc_ids))
        return [r.chunk_id for r in self.rows if ok(r)]

    def dense_top(self, vector: np.ndarray, n: int, where: Filters | None = None) -> dict[int, float]:
        ids = self.passing(where)
        scores = self.vectors[ids] @ vector if ids else np.zeros(0)
        return {ids[i]: float(scores[i]) for i in np.argsort(-scores, kind="stable")[:n]}

    def cosines(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        return {c: float(self.vectors[c] @ vector) for c in ids}

    def lexical(self, term_lists: Sequence[list[str]]) -> list[MemoryScores]:
        return [MemoryScores(self, query) for query in term_lists]

    def idf(self, query: Iterable[str]) -> dict[str, float]:
        n = len(self.rows)
        df = {t: sum(t in ts for ts in self.chunk_terms) for t in query}
        return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {c: self.sentences(self.rows[c])[1] for c in ids}

    def sentences(self, row: ChunkRow) -> tuple[list[Segment], np.ndarray]:
        text = self._articles[row.doc_id].text
        segs = self.segments[row.doc_id][row.seg_first:row.seg_last + 1]
        return segs, np.stack([embed(text[s.start:s.end]) for s in segs])

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        return {int(i): self.rows[int(i)] for i in ids if 0 <= int(i) < len(self.rows)}

    def chunk_meta(self, ids: Iterable[int]) -> dict[int, ChunkMeta]:
        rows = self.chunks(ids)
        return {c: ChunkMeta(r.doc_id, self._articles[r.doc_id].source, self._articles[r.doc_id].date)
                for c, r in rows.items()}

    def terms(self, ids: Iterable[int]) -> dict[int, frozenset[str]]:
        return {c: frozenset(self.chunk_terms[c]) for c in self.chunks(ids)}

    def article(self, doc_id: str) -> Article | None:
        return self._articles.get(doc_id)

    def articles(self, doc_ids: Iterable[str]) -> dict[str, Article]:
        return {d: self._articles[d] for d in set(doc_ids) if d in self._articles}

    def summary(self) -> CorpusSummary:
        dates = sorted(a.date for a in self._articles.values() if a.date)
        sources = Counter(a.source for a in self._articles.values() if a.source)
        ranked = sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))
        return CorpusSummary(len(self._articles), dates[0] if dates else None, dates[-1] if dates else None,
                             [s for s, _ in ranked], [n for _, n in ranked])

    def close(self) -> None:
        pass
