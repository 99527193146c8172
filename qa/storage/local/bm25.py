"""BM25 over the same chunks as the vectors. bm25s computes every (term, chunk) score at build
time; they are kept term by term in arrays on disk (the terms in byte order, so opening reads
nothing: no vocabulary dictionary, no posting), a question reads the postings of its terms,
and its scores are those postings added up exactly as bm25s adds them (a question and its
clauses are scored together, so the terms they share are read once).

Lexical matching carries what a small embedding model misses: names, numbers, outlets.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Sequence

import bm25s
import numba
from numba.types import Array, float32, int32, void
import numpy as np

from qa.models import Filters
from qa.storage.local.diskrows import DiskRows
from qa.storage.local.strings import Strings, write_strings
from qa.text import terms

BM25_DIR = "bm25"
# The chunks of the rarest terms read to find a floor for the n-th best score, at most.
SAMPLE = 1 << 16


def build_bm25(texts: Sequence[str], folder: Path) -> list[str]:
    """Index `texts` (row i is chunk id i) into `folder`; returns the file names written."""
    return save_bm25([terms(t) for t in texts], folder)


def save_bm25(term_lists: Sequence[list[str]], folder: Path) -> list[str]:
    """Index texts already split by `terms` (row i is chunk id i) into `folder`: the terms in
    byte order, and each term's chunks ascending with their scores."""
    model = bm25s.BM25()
    model.index(list(term_lists), show_progress=False)
    indptr, docs, scores = (model.scores[k] for k in ("indptr", "indices", "data"))
    # bm25s also lists an empty term that no chunk holds; it has no postings.
    vocab = sorted((t for t, i in model.vocab_dict.items() if i < len(indptr) - 1), key=lambda t: t.encode())
    old = np.array([model.vocab_dict[t] for t in vocab], dtype=np.int64)
    lengths = indptr[old + 1] - indptr[old]
    new_indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_indptr[1:])
    gather = np.repeat(indptr[old] - new_indptr[:-1], lengths) + np.arange(new_indptr[-1])
    np.save(folder / "indptr.npy", new_indptr)
    np.save(folder / "docs.npy", docs[gather].astype(np.int32))
    np.save(folder / "scores.npy", scores[gather].astype(np.float32))
    (folder / "params.json").write_text(json.dumps({
        "num_docs": len(term_lists), "k1": model.k1, "b": model.b, "method": model.method,
        "idf_method": model.idf_method, "bm25s": bm25s.__version__}, sort_keys=True))
    names = ["indptr.npy", "docs.npy", "scores.npy", "params.json", *write_strings(folder, "terms", vocab)]
    return sorted(names)


def _member(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` occur in the ascending array `sorted_ids`."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[pos] == ids


@numba.njit(void(float32[::1], Array(int32, 1, "C", readonly=True), Array(float32, 1, "C", readonly=True)),
            nogil=True)
def add_postings(total: np.ndarray, docs: np.ndarray, impacts: np.ndarray) -> None:
    """One term's postings added into a list's running scores, each addition in float32 as
    bm25s makes it. Compiled: at a million chunks `np.add.at` took a third of a question's
    own work and this loop takes half of that; it lets go of the GIL, so other questions go on."""
    for k in range(docs.shape[0]):
        total[docs[k]] += impacts[k]


def prefix_sources(tid_lists: Sequence[list[int]]) -> dict[int, int]:
    """For each non-empty list that begins another (a longer one, or an equal one before it),
    the longest such list: its running sums pass through the first's scores exactly."""
    sources = {}
    for i, head in enumerate(tid_lists):
        for j, whole in enumerate(tid_lists):
            longer = len(whole) > len(head) or (len(whole) == len(head) and j < i)
            if (head and j != i and longer and whole[:len(head)] == head
                    and (i not in sources or len(whole) > len(tid_lists[sources[i]]))):
                sources[i] = j
    return sources


def best_n(ids: np.ndarray, scores: np.ndarray, n: int) -> dict[int, float]:
    """The `n` best chunks with a positive score, ties to the lower id."""
    if n <= 0:
        return {}
    keep = scores > 0
    if keep.sum() > n:  # only the n-th score and those above it (ties included) are sorted
        keep &= scores >= np.partition(scores, len(scores) - n)[len(scores) - n]
    ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:n]
    return {int(i): float(s) for i, s in zip(ids[order], scores[order])}


class Lexical:
    """A version's BM25 arrays: the terms and their offsets memory-mapped, the postings (which
    grow with the corpus) read per question."""

    def __init__(self, folder: Path):
        self.terms = Strings(folder, "terms")
        self.indptr = np.load(folder / "indptr.npy", mmap_mode="r")
        self.docs, self.impacts = DiskRows(folder / "docs.npy"), DiskRows(folder / "scores.npy")
        self.num_docs = int(json.loads((folder / "params.json").read_text())["num_docs"])
        if (len(self.indptr) != len(self.terms) + 1 or not len(self.docs) == len(self.impacts) == self.indptr[-1]
                or self.docs.dtype != np.int32 or self.impacts.dtype != np.float32):
            raise ValueError(f"the BM25 arrays in {folder} do not match each other")

    def term_ids(self, query_terms: list[str]) -> list[int]:
        """Ids of the terms some chunk holds, in the question's order, repeats kept (bm25s
        counts a repeated term twice, and so do these scores)."""
        distinct = list(dict.fromkeys(query_terms))
        found = dict(zip(distinct, self.terms.find(distinct)))
        return [found[t] for t in query_terms if found[t] is not None]

    def idf(self, terms: Sequence[str]) -> list[float]:
        """BM25's inverse document frequency of each term; a term no chunk contains gets the highest."""
        df = [int(self.indptr[t + 1] - self.indptr[t]) if t is not None else 0 for t in self.terms.find(terms)]
        return [math.log(1 + (self.num_docs - d + 0.5) / (d + 0.5)) for d in df]

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = int(self.indptr[tid]), int(self.indptr[tid + 1])
        return self.docs.rows(lo, hi), self.impacts.rows(lo, hi)

    def scores(self, tid_lists: Sequence[list[int]]) -> list[np.ndarray]:
        """Every chunk's score for each list of term ids, scored together so a term the lists
        share is read once. Float32 addition depends on order, so each list must add its terms'
        postings in its own order, as bm25s does (every score is then bm25s's to the bit): the
        next term of the first unfinished list is read and added into every list whose next
        term it is; a term out of step with that order is read again, never added early. One
        term's postings are held at a time. A list that begins another (a question's first
        clause, often) adds nothing: its scores are the other's sums when they reach its end."""
        sources = prefix_sources(tid_lists)
        totals = [np.zeros(self.num_docs, dtype=np.float32) if i not in sources else None
                  for i in range(len(tid_lists))]
        done = [0] * len(tid_lists)
        pending = [i for i, tids in enumerate(tid_lists) if tids and i not in sources]
        while pending:
            tid = tid_lists[pending[0]][done[pending[0]]]
            docs, impacts = self.postings(tid)
            for i in pending:
                if tid_lists[i][done[i]] == tid:
                    add_postings(totals[i], docs, impacts)
                    done[i] += 1
            for i, j in sources.items():
                if totals[i] is None and done[j] == len(tid_lists[i]):
                    totals[i] = totals[j].copy()
            pending = [i for i in pending if done[i] < len(tid_lists[i])]
        return totals

    def first_docs(self, tid: int) -> np.ndarray:
        """A term's first SAMPLE chunk ids (all of them for a shorter list)."""
        lo, hi = int(self.indptr[tid]), int(self.indptr[tid + 1])
        return self.docs.rows(lo, min(hi, lo + SAMPLE))

    def floor(self, tids: list[int], scores: np.ndarray, n: int, allowed: np.ndarray | None) -> float:
        """A score the n-th best chunk reaches, found cheaply: the n-th best among some chunks
        of the rarest terms (a subset's n-th best is never above the whole's); 0 when the
        sample holds fewer than n chunks."""
        sample = np.zeros(0, dtype=np.int32)
        read = 0
        for tid in sorted(set(tids), key=lambda t: self.indptr[t + 1] - self.indptr[t]):
            docs = self.first_docs(tid)
            docs = docs if allowed is None else docs[_member(allowed, docs)]
            # A term's chunks are ascending and distinct already: only a second term needs a union.
            sample = np.union1d(sample, docs) if len(sample) else docs
            read += len(docs)
            if len(sample) >= n or read >= SAMPLE:
                break
        return float(np.partition(scores[sample], len(sample) - n)[len(sample) - n]) if len(sample) >= n else 0.0


class TermLists:
    """A question's term lists (the whole question and its clauses), scored together on first
    use: nothing is read until some list's scores are needed, then every list's are computed."""

    def __init__(self, lexical: Lexical, term_lists: Sequence[list[str]]):
        self.lexical = lexical
        self.tids = [lexical.term_ids(t) for t in term_lists]
        self._scores: list[np.ndarray] | None = None

    def scores(self, i: int) -> np.ndarray:
        if self._scores is None:
            self._scores = self.lexical.scores(self.tids)
        return self._scores[i]


class ScoredChunks:
    """One question's (or clause's) BM25 scores of every chunk, computed on first use along
    with those of the other lists it was asked with."""

    def __init__(self, lists: TermLists, i: int, ids_where: Callable[[Filters], np.ndarray]):
        self._lists, self._i = lists, i
        self._lexical = lists.lexical
        self._tids = lists.tids[i]
        self._ids_where = ids_where  # Filters -> allowed chunk ids, ascending
        self._best: float | None = None

    @property
    def scores(self) -> np.ndarray:
        return self._lists.scores(self._i)

    def top(self, n: int, where: Filters | None = None) -> dict[int, float]:
        """Only the chunks at or above a floor the n-th best reaches are ranked, so the cost is
        one comparison per chunk, not a partial sort of every matching chunk."""
        among = self._ids_where(where) if where else None
        if n <= 0 or not self._tids or (among is not None and not len(among)):
            return {}
        floor = self._lexical.floor(self._tids, self.scores, n, among)
        if among is None:
            ids = np.flatnonzero(self.scores >= floor) if floor > 0 else np.flatnonzero(self.scores)
        else:
            ids = among[self.scores[among] >= floor] if floor > 0 else among
        found = best_n(ids, self.scores[ids], n)
        if among is None:  # the best of every chunk is the first found: no pass over all of them
            self._best = max(found.values(), default=0.0)
        return found

    def of(self, ids: Sequence[int]) -> np.ndarray:
        return self.scores[np.asarray(ids, dtype=np.int64)]

    def best(self) -> float:
        if self._best is None:
            self._best = float(self.scores.max()) if len(self.scores) else 0.0
        return self._best


def scored_together(lexical: Lexical, term_lists: Sequence[list[str]],
                    ids_where: Callable[[Filters], np.ndarray]) -> list[ScoredChunks]:
    """Each list's scores, all computed in one pass when the first is needed."""
    lists = TermLists(lexical, term_lists)
    return [ScoredChunks(lists, i, ids_where) for i in range(len(term_lists))]
