"""The storage interface: all that retrieval, answers and builds may ask of an index.

A backend keeps index versions and a pointer to the one in service; a `Store` is one opened
version. The local backend (FAISS + bm25s + SQLite files) is the first implementation; the
code above this package imports none of faiss, bm25s or sqlite3, so another backend is a new
subpackage beside `local`, chosen by `storage.backend`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ContextManager, Iterable, Protocol, Sequence

import numpy as np

from qa.models import Article, Chunk, Filters, Segment


@dataclass(frozen=True)
class ChunkRow:
    """A stored chunk: its text is `article.text[start:end]`, its sentences are the article's
    segments `seg_first`..`seg_last`."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    seg_first: int
    seg_last: int
    text: str


@dataclass(frozen=True)
class ChunkMeta:
    """What ranking needs of a candidate's article: boosts by outlet and date, per-article caps."""

    doc_id: str
    source: str | None
    date: str | None


@dataclass(frozen=True)
class CorpusSummary:
    """What the corpus is, for the health endpoint and the page's welcome line."""

    articles: int
    date_from: str | None
    date_to: str | None
    sources: list[str]  # most frequent first
    source_counts: list[int] = field(default_factory=list)  # articles of each (empty from older Milvus versions)


@dataclass(frozen=True)
class IndexInfo:
    """An index version as its manifest describes it."""

    version: str
    model: str
    dimension: int
    built_at: str
    articles: int
    chunks: int
    segments: int
    bytes: int
    manifest: dict[str, Any]

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> "IndexInfo":
        counts = manifest["counts"]
        return cls(version=manifest["version"], model=manifest["model"], dimension=int(manifest["dimension"]),
                   built_at=manifest["built_at"], articles=int(counts["articles"]), chunks=int(counts["chunks"]),
                   segments=int(counts.get("segments", 0)),
                   bytes=sum(f["bytes"] for f in manifest.get("files", {}).values()), manifest=manifest)


class LexicalScores(Protocol):
    """BM25 scores of every chunk for one list of terms, computed at most once."""

    def top(self, n: int, where: Filters | None = None) -> dict[int, float]:
        """The `n` best chunks with a positive score, among those passing `where`."""

    def of(self, ids: Sequence[int]) -> np.ndarray:
        """The scores of these chunks, in their order (0 where the terms do not occur)."""

    def best(self) -> float:
        """The highest score over all chunks (0 when no chunk holds a term)."""


class Store(Protocol):
    """One opened, read-only index version."""

    info: IndexInfo

    def dense_top(self, vector: np.ndarray, n: int, where: Filters | None = None) -> dict[int, float]:
        """The `n` chunks nearest to `vector` (cosine), among those passing `where`."""

    def cosines(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Exact cosines of given chunks; {} where the vector index cannot give them back."""

    def lexical(self, term_lists: Sequence[list[str]]) -> list[LexicalScores]:
        """BM25 for each list of terms (already analysed by `qa.text.terms`), in order: a
        question and its clauses are asked for together, so a backend can share their work."""

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each term (highest for an unseen term)."""

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Each chunk's stored sentence vectors, one row per sentence."""

    def sentences(self, row: ChunkRow) -> tuple[list[Segment], np.ndarray]:
        """A chunk's sentences (article offsets) and their vectors."""

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        """Stored chunks by id; unknown ids are left out."""

    def chunk_meta(self, ids: Iterable[int]) -> dict[int, ChunkMeta]:
        """Each chunk's article id, outlet and date."""

    def terms(self, ids: Iterable[int]) -> dict[int, frozenset[str]]:
        """Each chunk's distinct terms, as `qa.text.terms` splits its text: what coverage and
        near-duplicates compare, read rather than split again for every question."""

    def article(self, doc_id: str) -> Article | None:
        """One article with its whole text (what citations slice)."""

    def articles(self, doc_ids: Iterable[str]) -> dict[str, Article]:
        """Articles' metadata, without their text."""

    def summary(self) -> CorpusSummary:
        """Article count, date range and outlets."""

    def close(self) -> None:
        """Release what the version holds (connections, the hold on its folder)."""


@dataclass(frozen=True)
class ArticleRecord:
    """One article of a build, with its sentences and their vectors, and its chunks."""

    article: Article
    sha256: str
    segments: list[Segment]
    segment_vectors: np.ndarray
    chunks: list[Chunk]


@dataclass(frozen=True)
class VersionContent:
    """Everything a build writes: chunk ids are positions in `embedded` and `vectors`."""

    articles: list[ArticleRecord]
    embedded: list[str]  # what was embedded and is BM25-indexed: header + chunk text
    vectors: np.ndarray  # one normalised row per chunk
    manifest: dict[str, Any]  # model, chunking, counts, fingerprint: what the build knows


class EmbeddingCache(Protocol):
    """Chunk and sentence vectors kept by key across builds, so an update encodes only what changed."""

    def get(self, keys: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]: ...

    def put(self, items: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> None: ...

    def keep_only(self, keys: Iterable[str]) -> None: ...


class Backend(Protocol):
    """Where index versions live, and which one is in service."""

    def exists(self) -> bool:
        """Whether any version was ever published."""

    def current(self) -> str:
        """The name of the version in service; IndexUnavailable when there is none."""

    def open(self, version: str, *, model: str) -> Store:
        """Open and verify a version (refusing one built with another model), holding it
        so a build's pruning spares it until the store is closed."""

    def manifest(self, version: str) -> dict[str, Any]:
        """A version's manifest, checked: what `qa index info` prints."""

    def building(self, dim: int) -> ContextManager[EmbeddingCache]:
        """One build at a time: holds the build lock and opens the embedding cache."""

    def write(self, content: VersionContent) -> str:
        """Write a new version, publish it as current, prune old ones; returns its name."""
