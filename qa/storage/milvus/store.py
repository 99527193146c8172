"""One Milvus index version opened for questions: every read is a query or search of its
collections, so an API server keeps nothing of the corpus in memory.

Filters become filter expressions evaluated inside Milvus before ranking, as the local
backend's id selectors are: outlets and article ids are compared by their integer keys, dates
as strings (validated YYYY-MM-DD, quoted with JSON escapes). BM25 is Milvus's own, over the
terms the local backend scores (see schema.py); a question's scores are asked for lazily and
reused where one search already answered (an unfiltered top that came back short holds every
matching chunk).
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from qa.errors import IndexUnavailable
from qa.models import Article, Filters, Segment
from qa.storage.base import ChunkMeta, ChunkRow, CorpusSummary, IndexInfo
from qa.storage.milvus.catalog import Catalog
from qa.storage.milvus.client import Milvus, int_list, key
from qa.storage.milvus.schema import BM25_PARAMS
from qa.text import terms as text_terms

SEARCH_LIMIT = 16384  # Milvus's largest topk
# Milvus's BM25 keeps the (k1 + 1) factor of each term's score that Lucene, and so bm25s, drop:
# divided out, the scores are the local backend's own numbers (rankings are the same either way).
NUMERATOR = 1 + BM25_PARAMS["bm25_k1"]
ARTICLE_FIELDS = ["doc_id", "path", "body_start", "title", "date", "source", "url"]
# Vectors fetched by id per query: Milvus Lite 2.5.1 takes about 600 ms for the ~2,400 sentence
# vectors of a question's candidates in one query, 100-200 ms in pieces of 256 (docs/performance.md).
VECTOR_BATCH = 256


def expression(filters: Filters | None) -> str:
    """A filter expression for the chunks passing `filters` ("" when none is set)."""
    if not filters:
        return ""
    parts = []
    if filters.date_from:
        parts.append(f"date >= {json.dumps(filters.date_from)}")
    if filters.date_to:
        parts.append(f'date != "" and date <= {json.dumps(filters.date_to)}')
    if filters.sources:
        parts.append(f"source_key in {int_list(key(s.lower()) for s in filters.sources)}")
    if filters.doc_ids:
        parts.append(f"doc_key in {int_list(key(d) for d in filters.doc_ids)}")
    return " and ".join(parts)


def _article(row: dict[str, Any], text: str = "") -> Article:
    return Article(doc_id=row["doc_id"], path=row["path"], text=text, body_start=int(row["body_start"]),
                   title=row["title"] or None, date=row["date"] or None, source=row["source"] or None,
                   url=row["url"] or None)


class MilvusStore:
    """The Store of one version's collections; shared by a server's threads."""

    def __init__(self, db: Milvus, catalog: Catalog, names: dict[str, str], manifest: dict[str, Any],
                 search_params: dict[str, Any]):
        self.db = db
        self.catalog = catalog
        self.names = names
        self.info = IndexInfo.from_manifest(manifest)
        self.search_params = search_params
        self.release: Callable[[], Any] = lambda: None  # the backend's hold on the version

    def _query(self, kind: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        return self.db.call("query", self.names[kind], filter=expr, output_fields=fields)

    def search(self, data: list, field: str, n: int, expr: str, params: dict) -> list[list[dict[str, Any]]]:
        """Batched search of the chunks: one list of hits per query in `data`."""
        return self.db.call("search", self.names["chunks"], data=data, anns_field=field,
                            limit=max(1, min(n, SEARCH_LIMIT)), filter=expr, search_params=params)

    def dense_top(self, vector: np.ndarray, n: int, where: Filters | None = None) -> dict[int, float]:
        if n <= 0:
            return {}
        hits = self.search([vector.astype(np.float32).tolist()], "vector", n, expression(where),
                           {"metric_type": "IP", "params": self.search_params})
        return {int(h["id"]): float(h["distance"]) for h in hits[0]}

    def cosines(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        if not len(ids):
            return {}
        rows = self._query("chunks", f"id in {int_list(ids)}", ["id", "vector"])
        return {int(r["id"]): float(np.asarray(r["vector"], dtype=np.float32) @ vector) for r in rows}

    def lexical(self, term_lists: Sequence[list[str]]) -> list["BM25Scores"]:
        return [BM25Scores(self, terms) for terms in term_lists]

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        wanted = list(dict.fromkeys(terms))
        rows = self._query("terms", f"id in {int_list(key(t) for t in wanted)}", ["term", "df"]) if wanted else []
        df = {r["term"]: int(r["df"]) for r in rows}
        n = self.info.chunks
        return {t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in wanted}

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        if not len(ids):
            return {}
        spans = self._query("chunks", f"id in {int_list(ids)}", ["id", "seg_base", "seg_first", "seg_last"])
        wanted = {int(r["id"]): range(r["seg_base"] + r["seg_first"], r["seg_base"] + r["seg_last"] + 1)
                  for r in spans}
        sids = [s for r in wanted.values() for s in r]
        rows = [row for lo in range(0, len(sids), VECTOR_BATCH)
                for row in self._query("sentences", f"id in {int_list(sids[lo:lo + VECTOR_BATCH])}", ["id", "vector"])]
        vectors = {int(r["id"]): r["vector"] for r in rows}
        return {cid: np.asarray([vectors[s] for s in span], dtype=np.float32) for cid, span in wanted.items()
                if all(s in vectors for s in span)}

    def sentences(self, row: ChunkRow) -> tuple[list[Segment], np.ndarray]:
        rows = self._query("sentences", f"doc_key == {key(row.doc_id)} and seg_no >= {row.seg_first} and "
                                        f"seg_no <= {row.seg_last}", ["seg_no", "start", "end", "vector"])
        rows.sort(key=lambda r: r["seg_no"])
        vecs = np.asarray([r["vector"] for r in rows], dtype=np.float32) if rows else np.zeros((0, 0))
        return [Segment(int(r["start"]), int(r["end"])) for r in rows], vecs

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self._query("chunks", f"id in {int_list(ids)}",
                           ["id", "doc_id", "start", "end", "seg_first", "seg_last", "text"])
        found = {}
        for r in rows:
            text = r["text"]
            if not text and r["end"] > r["start"]:  # too long for a VARCHAR: stored in the article only
                article = self.article(r["doc_id"])
                text = article.text[r["start"]:r["end"]] if article else ""
            found[int(r["id"])] = ChunkRow(int(r["id"]), r["doc_id"], int(r["start"]), int(r["end"]),
                                           int(r["seg_first"]), int(r["seg_last"]), text)
        return found

    def chunk_meta(self, ids: Iterable[int]) -> dict[int, ChunkMeta]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self._query("chunks", f"id in {int_list(ids)}", ["id", "doc_id", "source", "date"])
        return {int(r["id"]): ChunkMeta(r["doc_id"], r["source"] or None, r["date"] or None) for r in rows}

    def terms(self, ids: Iterable[int]) -> dict[int, frozenset[str]]:
        # The `terms` field holds the embedded text's (header included), not the chunk text's.
        return {cid: frozenset(text_terms(row.text)) for cid, row in self.chunks(ids).items()}

    def article(self, doc_id: str) -> Article | None:
        rows = [r for r in self._query("articles", f"doc_key == {key(doc_id)}", [*ARTICLE_FIELDS, "part", "text"])
                if r["doc_id"] == doc_id]
        if not rows:
            return None
        rows.sort(key=lambda r: r["part"])
        return _article(rows[0], "".join(r["text"] for r in rows))

    def articles(self, doc_ids: Iterable[str]) -> dict[str, Article]:
        wanted = set(doc_ids)
        if not wanted:
            return {}
        rows = self._query("articles", f"part == 0 and doc_key in {int_list(key(d) for d in wanted)}", ARTICLE_FIELDS)
        return {r["doc_id"]: _article(r) for r in rows if r["doc_id"] in wanted}

    def summary(self) -> CorpusSummary:
        """Read from Milvus at every call, so a health check fails while Milvus is unreachable."""
        doc = self.catalog.doc(self.info.version)
        if doc is None:
            raise IndexUnavailable(f"index version {self.info.version} was removed from Milvus at {self.db.uri}; "
                                   "run `qa index build`")
        return CorpusSummary(**doc["summary"])

    def close(self) -> None:
        self.release()


class BM25Scores:
    """Milvus's BM25 scores for one list of terms, asked for as ranking needs them."""

    def __init__(self, store: MilvusStore, terms: list[str]):
        self.store = store
        self.text = " ".join(terms)
        self._all: dict[int, float] | None = None  # every chunk holding a term, once known
        self._best: float | None = None

    def _search(self, n: int, expr: str) -> dict[int, float]:
        if not self.text or n <= 0:
            return {}
        hits = self.store.search([self.text], "sparse", n, expr, {"metric_type": "BM25"})
        return {int(h["id"]): float(h["distance"]) / NUMERATOR for h in hits[0] if h["distance"] > 0}

    def top(self, n: int, where: Filters | None = None) -> dict[int, float]:
        found = self._search(n, expression(where))
        if not where:
            self._best = max(found.values(), default=0.0) if n > 0 else self._best
            if len(found) < n:
                self._all = found
        return found

    def of(self, ids: Sequence[int]) -> np.ndarray:
        ids = [int(i) for i in ids]
        found = self._all
        if found is None:
            found = self._search(len(ids), f"id in {int_list(ids)}") if ids else {}
        return np.array([found.get(i, 0.0) for i in ids], dtype=np.float32)

    def best(self) -> float:
        if self._best is None:
            self._best = max(self._search(1, "").values(), default=0.0)
        return self._best
