"""A question analysed once: its terms and their weights, its clauses, the outlets and dates it
names, the conversation it leans on, and its vectors (one model call for a whole batch).

Everything here reads the question and the index's own metadata; nothing is guessed or
generated. Retrieval and the answer step only read the resulting `Query`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from qa.config import SearchConfig
from qa.encoder import QueryEncoder
from qa.models import Filters
from qa.outlets import Outlets
from qa.storage.base import Store
from qa.text import terms

QUERY_CACHE_SIZE = 1024

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december"]
MONTH_PATTERN = "|".join(m.capitalize() for m in MONTHS)
_FULL_DATE = re.compile(rf"\b({MONTH_PATTERN}) (\d{{1,2}}),? (\d{{4}})\b")
_MONTH_YEAR = re.compile(rf"\b({MONTH_PATTERN}),? (\d{{4}})\b")
_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_CLAUSE_BREAK = re.compile(r"[,;:?]\s*|\s+(?:and|while|whereas|but|or|whose|which|who|that)\s+", re.IGNORECASE)
_REFERRING = re.compile(
    r"^(and|but|also|so|then|what about|how about)\b|\b(they|them|their|theirs|it|its|there|those|these|"
    r"he|him|his|she|her|hers|that event|this event|the same)\b", re.IGNORECASE)
QUANTITY_QUESTION = re.compile(r"\b(how (many|much|long|old)|number of|what (percentage|share|amount)|count of)\b", re.I)
TIME_QUESTION = re.compile(r"\b(when|what (year|date|day|month|time)|which (year|date|day|month))\b", re.I)
# A count ("613 people", "1,275 residents"), not a date or an ordinal ("February 25, 1992").
_NUMBER = re.compile(r"\b(?!(?:1[89]|20)\d\d\b)\d[\d,.]*\s+[a-z]")
_TIME = re.compile(rf"\b(1[89]\d\d|20\d\d|{MONTH_PATTERN})\b")


@dataclass(frozen=True)
class Method:
    """What questions are searched with, resolved once from `search.mode` and the weights."""

    dense: bool  # FAISS candidates and cosines
    lexical: bool  # BM25 candidates and scores
    clauses: bool  # a many-part question's clauses searched one by one (needs BM25)
    clause_vectors: bool  # ... and embedded (needs both sides)
    outlets_and_dates: bool  # outlets and dates the question names count

    @classmethod
    def of(cls, cfg: SearchConfig) -> "Method":
        dense, lexical = cfg.mode != "bm25", cfg.mode != "dense"
        clauses = lexical and cfg.clause_weight > 0
        return cls(dense, lexical, clauses, clauses and dense and cfg.clause_vectors, cfg.metadata_boost > 0)


@dataclass(frozen=True)
class Query:
    """One question, analysed. `search_*` add a follow-up's conversation topic (what retrieval
    and abstention see); the plain fields are the question alone (what the answer must answer)."""

    text: str
    vector: np.ndarray
    terms: list[str]
    weights: dict[str, float]  # IDF of each distinct term: how much finding it counts
    search_vector: np.ndarray
    search_terms: list[str]
    search_weights: dict[str, float]
    clauses: tuple[list[str], ...] = ()  # the terms of each clause of a many-part question
    clause_vectors: np.ndarray | None = None
    outlets: tuple[str, ...] = ()  # the index's spellings of the outlets the question names
    dates: tuple[str, ...] = ()  # date prefixes (YYYY-MM-DD or YYYY-MM) it names
    filters: Filters = Filters()

    @property
    def searchable(self) -> bool:
        """Whether there is anything to search for: a term that is not a number. A question of one
        letter, of digits or of stop words alone has none, and any passage would be a guess."""
        return any(not t.isdigit() for t in self.search_terms)


def named_dates(question: str) -> list[str]:
    """Date prefixes (YYYY-MM-DD or YYYY-MM) that the question names."""
    found = [f"{y}-{MONTHS.index(m.lower()) + 1:02d}-{int(d):02d}" for m, d, y in _FULL_DATE.findall(question)]
    found += [f"{y}-{MONTHS.index(m.lower()) + 1:02d}" for m, y in _MONTH_YEAR.findall(question)]
    return found + _ISO_DATE.findall(question)


def clauses(question: str) -> list[str]:
    """The parts of a many-part question, split at punctuation and conjunctions; a part with
    fewer than two content terms joins the next one."""
    parts, pending = [], ""
    for piece in _CLAUSE_BREAK.split(question):
        pending = f"{pending} {piece}".strip()
        if len(terms(pending)) >= 2:
            parts.append(pending)
            pending = ""
    if pending and parts:
        parts[-1] = f"{parts[-1]} {pending}"
    return parts


@lru_cache(maxsize=4096)
def _source_pattern(source: str) -> re.Pattern:
    return re.compile(rf"(?<!\w){re.escape(source)}(?!\w)", re.IGNORECASE)


def named_sources(question: str, sources: Sequence[str]) -> list[str]:
    """Outlets of the index that the question names as proper nouns ("according to TechCrunch")."""
    named = []
    for source in sources:
        for m in _source_pattern(source).finditer(question):
            if m.group()[0].isupper():
                named.append(source)
                break
    return named


def is_follow_up(question: str) -> bool:
    """A question that leans on the conversation: it refers back, or is too short to stand alone."""
    return bool(_REFERRING.search(question.strip())) or len(terms(question)) < 2


def answer_type(question: str) -> re.Pattern | None:
    """What a sentence holding the kind of thing the question asks for matches (a number for
    "how many", a date for "when"), or None: a cue that embeddings of this size miss. Read once
    per question, then matched against each candidate sentence."""
    if QUANTITY_QUESTION.search(question):
        return _NUMBER
    if TIME_QUESTION.search(question):
        return _TIME
    return None


def _normalize(vec: np.ndarray) -> np.ndarray:
    return (vec / max(float(np.linalg.norm(vec)), 1e-12)).astype(np.float32)


class QueryVectors:
    """An LRU cache of question vectors, keyed by the question with its white space folded."""

    def __init__(self, encoder: QueryEncoder, size: int = QUERY_CACHE_SIZE):
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
            found.update(zip(missing, self.encoder.encode_queries(missing)))
            with self._lock:
                self._cache.update((k, found[k]) for k in missing)
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return [found[k] for k in keys]


class Analyser:
    """Turns questions into `Query` records against one index version."""

    def __init__(self, store: Store, vectors: QueryVectors, cfg: SearchConfig, outlets: Outlets):
        self.store = store
        self.vectors = vectors
        self.cfg = cfg
        self.method = Method.of(cfg)
        self.outlets = outlets

    def analyse(self, questions: Sequence[str], histories: Sequence[Sequence[str]],
                filters: Filters) -> list[Query]:
        """Every question of a batch, with one model call for all their vectors."""
        # A follow-up is searched with its conversation's last question; others stand alone.
        contexts = [h[-1] if h and is_follow_up(q) else None for q, h in zip(questions, histories)]
        parts = [self._clauses(q) for q in questions]
        embed_parts = self.method.clause_vectors
        extra = [t for c, ps in zip(contexts, parts) for t in ([c] if c else []) + (ps if embed_parts else [])]
        vecs = self.vectors(list(questions) + extra)
        rest = iter(vecs[len(questions):])
        queries = []
        for question, context, vector, own_parts in zip(questions, contexts, vecs, parts):
            context_vector = next(rest) if context else None
            part_vecs = np.stack([next(rest) for _ in own_parts]) if embed_parts and own_parts else None
            queries.append(self._query(question, vector, context, context_vector, own_parts, part_vecs, filters))
        return queries

    def _clauses(self, question: str) -> list[str]:
        """The clauses searched on their own: none for a one-part question."""
        if not self.method.clauses:
            return []
        parts = clauses(question)
        return parts if len(parts) > 1 else []

    def _query(self, question: str, vector: np.ndarray, context: str | None, context_vector: np.ndarray | None,
               parts: list[str], part_vectors: np.ndarray | None, filters: Filters) -> Query:
        own_terms = terms(question)
        weights = self.store.idf(own_terms)
        search_vector, search_terms, search_weights = vector, own_terms, weights
        if context:  # retrieval sees the topic of the conversation ...
            search_vector = _normalize(vector + self.cfg.history_weight * context_vector)
            search_terms = own_terms + [t for t in terms(context) if t not in own_terms]
            search_weights = self.store.idf(search_terms)
        named = self.method.outlets_and_dates
        # ... while the answer sentence is the one that answers the question itself.
        return Query(question, vector, own_terms, weights, search_vector, search_terms, search_weights,
                     tuple(terms(p) for p in parts), part_vectors, self._named_outlets(question) if named else (),
                     tuple(named_dates(question)) if named else (), self.outlets.expand(filters))

    def _named_outlets(self, question: str) -> tuple[str, ...]:
        """Every spelling in the index of the outlets the question names, by any of their names."""
        named = named_sources(question, self.outlets.called)
        return tuple(dict.fromkeys(s for name in named for s in self.outlets.spellings(name)))
