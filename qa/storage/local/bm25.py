"""BM25 over the same chunks as the vectors (bm25s), saved beside them without pickle.

Lexical matching carries what a small embedding model misses: names, numbers, outlets.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import bm25s
import numpy as np

from qa.text import terms

BM25_DIR = "bm25"

def build_bm25(texts: Sequence[str], folder: Path) -> list[str]:
    """Index `texts` (row i is chunk id i) into `folder`; returns the file names written."""
    return save_bm25([terms(t) for t in texts], folder)


def save_bm25(term_lists: Sequence[list[str]], folder: Path) -> list[str]:
    """Index texts already split by `terms` (row i is chunk id i) into `folder`."""
    model = bm25s.BM25()
    model.index(list(term_lists), show_progress=False)
    model.save(str(folder), show_progress=False)
    return sorted(f"{folder.name}/{p.name}" for p in folder.iterdir())


class Lexical:
    """A loaded BM25 index (bm25s arrays, memory-mapped with `vectors.mmap`)."""

    def __init__(self, folder: Path, mmap: bool = False):
        self.model = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)

    @property
    def num_docs(self) -> int:
        return int(self.model.scores["num_docs"])

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency; a term no chunk contains gets the highest."""
        tid = self.model.vocab_dict.get(term)
        indptr = self.model.scores["indptr"]
        df = int(indptr[tid + 1] - indptr[tid]) if tid is not None and tid + 1 < len(indptr) else 0
        return math.log(1 + (self.num_docs - df + 0.5) / (df + 0.5))

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every chunk (it grows with the corpus, so a question pays it once)."""
        known = [t for t in query_terms if t in self.model.vocab_dict]
        if not known:
            return np.zeros(self.num_docs, dtype=np.float32)
        return self.model.get_scores(known)


class ScoredChunks:
    """One question's (or clause's) BM25 scores of every chunk, computed on first use."""

    def __init__(self, lexical: Lexical, query_terms: list[str], ids_where):
        self._lexical = lexical
        self._terms = query_terms
        self._ids_where = ids_where  # Filters -> allowed chunk ids
        self._scores: np.ndarray | None = None

    @property
    def scores(self) -> np.ndarray:
        if self._scores is None:
            self._scores = self._lexical.scores(self._terms)
        return self._scores

    def top(self, n: int, where=None) -> dict[int, float]:
        return top(self.scores, n, self._ids_where(where) if where else None)

    def of(self, ids) -> np.ndarray:
        return self.scores[np.asarray(ids, dtype=np.int64)]

    def best(self) -> float:
        return float(self.scores.max()) if len(self.scores) else 0.0


def top(scores: np.ndarray, n: int, among: np.ndarray | None = None) -> dict[int, float]:
    """The `n` best chunks with a positive score, only `among` these ids if given (a filter
    applied before ranking); looks at the chunks that matched, not at every chunk."""
    ids = np.flatnonzero(scores) if among is None else among[scores[among] > 0]
    if len(ids) > n:
        ids = ids[np.argpartition(-scores[ids], n - 1)[:n]] if n else ids[:0]
    return {int(i): float(scores[i]) for i in ids}
