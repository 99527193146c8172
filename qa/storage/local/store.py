"""One local index version opened for questions: FAISS vectors, BM25 and ranking arrays
(memory-mapped), SQLite rows for the text that answers quote."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterable, Sequence

import faiss
import numpy as np

from qa.config import VectorsConfig
from qa.errors import IndexUnavailable
from qa.models import Article, Filters, Segment
from qa.storage.base import ChunkMeta, ChunkRow, CorpusSummary, IndexInfo
from qa.storage.local.arrays import ARRAYS_DIR, Arrays
from qa.storage.local.bm25 import BM25_DIR, Lexical, ScoredChunks, scored_together
from qa.storage.local.manifest import REBUILD, read_manifest
from qa.storage.local.meta import META_FILE, MetaStore
from qa.storage.local.vectors import VECTORS_FILE, load_vectors, search as vector_search, selector

FILTER_CACHE_SIZE = 16


class LocalStore:
    """The Store of one version folder; read-only, shared by a server's threads."""

    def __init__(self, path: Path, manifest: dict, vectors: faiss.Index, meta: MetaStore, lexical: Lexical,
                 arrays: Arrays):
        self.path = path
        self.info = IndexInfo.from_manifest(manifest)
        self.vectors = vectors
        self.meta = meta
        self.bm25 = lexical
        self.arrays = arrays
        self._summary: CorpusSummary | None = None
        # Recent filters' chunk ids and FAISS selectors (each a pass over every chunk at a million
        # chunks). Kept on the instance, so a replaced version frees them.
        self._by_filters: dict[Filters, tuple[np.ndarray, faiss.IDSelector]] = {}
        self._lock = threading.Lock()

    def _passing(self, where: Filters) -> tuple[np.ndarray, faiss.IDSelector]:
        """The ids (ascending) of the chunks that pass `where`, and a FAISS selector of them."""
        found = self._by_filters.get(where)
        if found is None:
            ids = self.arrays.ids_where(where)
            found = (ids, selector(ids, self.info.chunks))
            with self._lock:
                if len(self._by_filters) >= FILTER_CACHE_SIZE:
                    self._by_filters.pop(next(iter(self._by_filters)))
                self._by_filters[where] = found
        return found

    def _ids(self, where: Filters) -> np.ndarray:
        return self._passing(where)[0]

    def dense_top(self, vector: np.ndarray, n: int, where: Filters | None = None) -> dict[int, float]:
        allowed, chosen = self._passing(where) if where else (None, None)
        if self.vectors.ntotal == 0 or (allowed is not None and not len(allowed)):
            return {}
        scores, ids = vector_search(self.vectors, vector[None, :], n, chosen)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}

    def cosines(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        if not len(ids):
            return {}
        try:
            vecs = self.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        except RuntimeError:  # an approximate index without a direct map
            return {}
        return {c: float(s) for c, s in zip(ids, vecs @ vector)}

    def lexical(self, term_lists: Sequence[list[str]]) -> list[ScoredChunks]:
        return scored_together(self.bm25, term_lists, self._ids)

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        distinct = list(dict.fromkeys(terms))
        return dict(zip(distinct, self.bm25.idf(distinct)))

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return self.arrays.sentence_vectors(ids)

    def sentences(self, row: ChunkRow) -> tuple[list[Segment], np.ndarray]:
        return self.arrays.sentences(row.chunk_id)

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        return self.meta.chunks(ids)

    def chunk_meta(self, ids: Iterable[int]) -> dict[int, ChunkMeta]:
        return self.arrays.chunk_meta(ids)

    def terms(self, ids: Iterable[int]) -> dict[int, frozenset[str]]:
        return self.meta.terms(ids)

    def article(self, doc_id: str) -> Article | None:
        return self.meta.article(doc_id)

    def articles(self, doc_ids: Iterable[str]) -> dict[str, Article]:
        return self.meta.articles(doc_ids)

    def summary(self) -> CorpusSummary:
        if self._summary is None:
            self._summary = CorpusSummary(self.info.articles, *self.arrays.summary())
        return self._summary

    def close(self) -> None:
        self.meta.close()


def open_version(path: Path, *, model: str, vectors: VectorsConfig) -> LocalStore:
    """Load and verify one version folder; a mismatch says to rebuild.

    `vectors` gives the search parameters (nprobe, efSearch) and whether to memory-map the
    vector codes (pages then count only once a question touches them); the BM25 and ranking
    arrays are always memory-mapped.
    """
    manifest = read_manifest(path)
    if manifest.get("model") != model:
        raise IndexUnavailable(
            f"index {path} was built with model '{manifest.get('model')}' but the config names '{model}'; {REBUILD}")
    try:
        index = load_vectors(path / VECTORS_FILE, vectors)
        meta = MetaStore(path / META_FILE)
        lexical = Lexical(path / BM25_DIR)
        arrays = Arrays(path / ARRAYS_DIR)
    except Exception as exc:  # faiss raises RuntimeError, sqlite DatabaseError, numpy ValueError: same fix
        raise IndexUnavailable(f"index {path} cannot be opened ({exc}); {REBUILD}") from None
    chunks = manifest["counts"]["chunks"]
    if index.ntotal != chunks or index.d != manifest["dimension"]:
        raise IndexUnavailable(f"index {path / VECTORS_FILE} does not match its manifest; {REBUILD}")
    if lexical.num_docs != chunks or len(arrays.chunk_article) != chunks:
        raise IndexUnavailable(f"index {path} holds BM25 or ranking arrays of another chunk count; {REBUILD}")
    return LocalStore(path, manifest, index, meta, lexical, arrays)
