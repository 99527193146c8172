"""What ranking reads for every question, in arrays rather than SQLite rows.

Per chunk: its article and the rows of its sentences; per sentence: its vector and offsets in
the article; per article: its id, outlet and date. A question reads a few hundred chunks'
rows by position, so its cost does not grow with the corpus, and opening a version reads
nothing. The small per-chunk and per-article arrays are memory-mapped; the sentences (the
largest, about seven rows a chunk) are read per question (diskrows.py). Articles are kept in
the byte order of their ids, so an id is found by bisection.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from qa.models import Filters, Segment
from qa.storage.base import ArticleRecord, ChunkMeta
from qa.storage.local.diskrows import DiskRows
from qa.storage.local.strings import Strings, write_strings

ARRAYS_DIR = "arrays"
DATE = "S10"  # ISO dates (YYYY-MM-DD) compare as bytes as they do as text; b"" is no date
SENTENCE_DTYPE = np.float32


def write_arrays(folder: Path, records: Sequence[ArticleRecord]) -> list[str]:
    """The arrays of a build's articles (chunk ids count up through `records`, in order)."""
    order = sorted(range(len(records)), key=lambda i: records[i].article.doc_id.encode())
    position = np.empty(len(records), dtype=np.int64)
    position[order] = np.arange(len(records))
    rows = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([len(r.segments) for r in records], out=rows[1:])
    article = np.array([position[i] for i, r in enumerate(records) for _ in r.chunks], dtype=np.int32)
    sentences = np.array([(rows[i] + c.seg_first, rows[i] + c.seg_last + 1)
                          for i, r in enumerate(records) for c in r.chunks], dtype=np.int64).reshape(-1, 2)
    names = write_chunks(folder, article, sentences)
    names += write_articles(folder, [records[i].article for i in order])
    return names + write_sentences(folder, records, int(rows[-1]))


def write_chunks(folder: Path, article: np.ndarray, sentences: np.ndarray) -> list[str]:
    """Row i: chunk i's article (its position in these arrays) and its sentences' rows [first, end)."""
    if len(article) != len(sentences):
        raise ValueError("one article and one row range per chunk")
    np.save(folder / "chunk_article.npy", article.astype(np.int32))
    np.save(folder / "chunk_sentences.npy", sentences.astype(np.int64))
    return ["chunk_article.npy", "chunk_sentences.npy"]


def write_articles(folder: Path, articles: Sequence) -> list[str]:
    sources = list(dict.fromkeys(a.source for a in articles if a.source))
    code = {s: i for i, s in enumerate(sources)}
    np.save(folder / "article_source.npy", np.array([code.get(a.source, -1) for a in articles], dtype=np.int32))
    np.save(folder / "article_date.npy", np.array([(a.date or "").encode() for a in articles], dtype=DATE))
    return ["article_source.npy", "article_date.npy", *write_strings(folder, "doc_ids", [a.doc_id for a in articles]),
            *write_strings(folder, "sources", sources)]


def write_sentences(folder: Path, records: Sequence[ArticleRecord], total: int) -> list[str]:
    """Every sentence's vector and offsets, article after article, written in place."""
    dim = next((r.segment_vectors.shape[1] for r in records if len(r.segments)), 0)
    vectors = np.lib.format.open_memmap(folder / "sentence_vectors.npy", mode="w+", dtype=SENTENCE_DTYPE,
                                        shape=(total, dim))
    spans = np.lib.format.open_memmap(folder / "sentence_spans.npy", mode="w+", dtype=np.int64, shape=(total, 2))
    row = 0
    for r in records:
        vectors[row:row + len(r.segments)] = r.segment_vectors
        spans[row:row + len(r.segments)] = [(s.start, s.end) for s in r.segments]
        row += len(r.segments)
    vectors.flush()
    spans.flush()
    del vectors, spans
    return ["sentence_vectors.npy", "sentence_spans.npy"]


class Arrays:
    """A version's arrays, opened."""

    def __init__(self, folder: Path):
        self.chunk_article, self.chunk_sentences, self.article_source, self.article_date = (
            np.load(folder / f"{n}.npy", mmap_mode="r")
            for n in ("chunk_article", "chunk_sentences", "article_source", "article_date"))
        self.vectors, self.spans = DiskRows(folder / "sentence_vectors.npy"), DiskRows(folder / "sentence_spans.npy")
        self.doc_ids = Strings(folder, "doc_ids")
        sources = Strings(folder, "sources")
        self.sources = [sources[i] for i in range(len(sources))]  # the outlets: a few hundred at most
        if (len(self.vectors) != len(self.spans) or len(self.article_date) != len(self.doc_ids)
                or len(self.chunk_article) != len(self.chunk_sentences)):
            raise ValueError(f"the arrays in {folder} do not match each other")

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        rows = self.chunk_sentences[np.asarray(ids, dtype=np.int64)].tolist()
        return {int(c): v.astype(np.float32, copy=False) for c, v in zip(ids, self.vectors.ranges(rows))}

    def sentences(self, chunk_id: int) -> tuple[list[Segment], np.ndarray]:
        lo, hi = self.chunk_sentences[chunk_id].tolist()
        spans = self.spans.rows(lo, hi).tolist()
        return [Segment(s, e) for s, e in spans], self.vectors.rows(lo, hi).astype(np.float32, copy=False)

    def chunk_meta(self, ids: Iterable[int]) -> dict[int, ChunkMeta]:
        ids = np.asarray(list(ids), dtype=np.int64)
        articles = self.chunk_article[ids].tolist()
        found: dict[int, ChunkMeta] = {}
        for a in set(articles):
            code, date = int(self.article_source[a]), self.article_date[a].decode()
            found[a] = ChunkMeta(self.doc_ids[a], self.sources[code] if code >= 0 else None, date or None)
        return {c: found[a] for c, a in zip(ids.tolist(), articles)}

    def ids_where(self, filters: Filters) -> np.ndarray:
        """Ascending ids of the chunks whose article passes every given filter."""
        passing = np.ones(len(self.article_date), dtype=bool)
        if filters.date_from or filters.date_to:
            passing &= self.article_date != b""
        if filters.date_from:
            passing &= self.article_date >= filters.date_from.encode()
        if filters.date_to:
            passing &= self.article_date <= filters.date_to.encode()
        if filters.sources:
            wanted = {s.lower() for s in filters.sources}
            passing &= np.isin(self.article_source, [i for i, s in enumerate(self.sources) if s.lower() in wanted])
        if filters.doc_ids:
            named = np.zeros(len(passing), dtype=bool)
            named[[a for a in self.doc_ids.find(filters.doc_ids) if a is not None]] = True
            passing &= named
        return np.flatnonzero(passing[self.chunk_article])

    def summary(self) -> tuple[str | None, str | None, list[str], list[int]]:
        """The date range, the outlets most frequent first (by articles), and their article counts."""
        dates = np.unique(self.article_date[self.article_date != b""])  # sorted
        counts = Counter(self.article_source[self.article_source >= 0].tolist())
        sources = sorted(counts, key=lambda c: (-counts[c], self.sources[c]))
        return (dates[0].decode() if len(dates) else None, dates[-1].decode() if len(dates) else None,
                [self.sources[c] for c in sources], [counts[c] for c in sources])
