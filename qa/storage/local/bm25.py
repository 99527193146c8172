"""BM25 over the same chunks as the vectors (bm25s), saved beside them without pickle.

Lexical matching carries what a small embedding model misses: names, numbers, outlets.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import bm25s
import numpy as np

BM25_DIR = "bm25"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms: the same for chunks, questions and sentences."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _stopwords()]
    return _stemmer().stemWords(words)


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
    """A loaded BM25 index; scores every chunk for a question (sparse, so cheap)."""

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
        """BM25 score of every chunk; computed once per question (it grows with the corpus)."""
        known = [t for t in query_terms if t in self.model.vocab_dict]
        if not known:
            return np.zeros(self.num_docs, dtype=np.float32)
        return self.model.get_scores(known)


def top(scores: np.ndarray, n: int, among: np.ndarray | None = None) -> dict[int, float]:
    """The `n` best chunks with a positive score, only `among` these ids if given (a filter
    applied before ranking); looks at the chunks that matched, not at every chunk."""
    ids = np.flatnonzero(scores) if among is None else among[scores[among] > 0]
    if len(ids) > n:
        ids = ids[np.argpartition(-scores[ids], n - 1)[:n]] if n else ids[:0]
    return {int(i): float(scores[i]) for i in ids}
