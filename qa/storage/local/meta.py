"""Article, chunk and sentence metadata in SQLite: no pickle, and nothing held in Python
objects per row, so a million chunks cost disk pages rather than memory."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from qa.models import Article, Chunk, Filters, Segment
from qa.storage.base import ChunkMeta, ChunkRow

META_FILE = "meta.sqlite"

SCHEMA = """
CREATE TABLE articles (
    doc_id TEXT PRIMARY KEY, path TEXT NOT NULL, title TEXT, date TEXT, source TEXT, url TEXT,
    text TEXT NOT NULL, body_start INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    seg_first INTEGER NOT NULL, seg_last INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE TABLE segments (
    doc_id TEXT NOT NULL, seg_no INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    vec BLOB NOT NULL, PRIMARY KEY (doc_id, seg_no)
) WITHOUT ROWID;
-- An article's chunk ids without reading chunk texts: filters and outlet boosts stay cheap
-- at a million chunks.
CREATE INDEX chunks_by_doc ON chunks (doc_id, chunk_id);
"""


class MetaWriter:
    """Writes one index version's metadata in a single transaction."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path)
        self.conn.executescript(SCHEMA)

    def add_article(self, article: Article, sha256: str) -> None:
        self.conn.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?)",
            (article.doc_id, article.path, article.title, article.date, article.source, article.url,
             article.text, article.body_start, sha256),
        )

    def add_chunks(self, first_id: int, chunks: Sequence[Chunk]) -> None:
        self.conn.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?)",
            [(first_id + i, c.doc_id, c.start, c.end, c.seg_first, c.seg_last, c.text)
             for i, c in enumerate(chunks)],
        )

    def add_segments(self, doc_id: str, segments: Sequence[Segment], vectors: np.ndarray) -> None:
        self.conn.executemany(
            "INSERT INTO segments VALUES (?,?,?,?,?)",
            [(doc_id, i, s.start, s.end, vectors[i].astype(np.float32).tobytes())
             for i, s in enumerate(segments)],
        )

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()


class MetaStore:
    """Read-only access, one connection per thread (sqlite3 connections are not shared)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._conn()  # fail now, not on the first request

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self._conn().execute(
            f'SELECT chunk_id, doc_id, start, "end", seg_first, seg_last, text FROM chunks '
            f"WHERE chunk_id IN ({','.join('?' * len(ids))})", ids).fetchall()
        return {r["chunk_id"]: ChunkRow(*r) for r in rows}

    def article(self, doc_id: str) -> Article | None:
        row = self._conn().execute(
            "SELECT doc_id, path, text, body_start, title, date, source, url FROM articles WHERE doc_id=?",
            (doc_id,)).fetchone()
        return Article(**dict(row)) if row else None

    def articles(self, doc_ids: Iterable[str]) -> dict[str, Article]:
        ids = list(set(doc_ids))
        if not ids:
            return {}
        rows = self._conn().execute(
            "SELECT doc_id, path, '' AS text, body_start, title, date, source, url FROM articles "
            f"WHERE doc_id IN ({','.join('?' * len(ids))})", ids).fetchall()
        return {r["doc_id"]: Article(**dict(r)) for r in rows}

    def segments(self, doc_id: str, first: int, last: int) -> tuple[list[Segment], np.ndarray]:
        rows = self._conn().execute(
            'SELECT start, "end", vec FROM segments WHERE doc_id=? AND seg_no BETWEEN ? AND ? ORDER BY seg_no',
            (doc_id, first, last)).fetchall()
        segs = [Segment(r[0], r[1]) for r in rows]
        vecs = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows]) if rows else np.zeros((0, 0))
        return segs, vecs

    def sentence_vectors(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The stored vectors of each chunk's sentences, in one query for all the chunks."""
        ids = [int(i) for i in chunk_ids]
        if not ids:
            return {}
        rows = self._conn().execute(
            "SELECT c.chunk_id, s.vec FROM chunks c JOIN segments s ON s.doc_id = c.doc_id "
            "AND s.seg_no BETWEEN c.seg_first AND c.seg_last "
            f"WHERE c.chunk_id IN ({','.join('?' * len(ids))}) ORDER BY c.chunk_id, s.seg_no", ids).fetchall()
        found: dict[int, list[np.ndarray]] = {}
        for cid, vec in rows:
            found.setdefault(cid, []).append(np.frombuffer(vec, dtype=np.float32))
        return {cid: np.stack(vecs) for cid, vecs in found.items()}

    def chunk_ids_where(self, filters: Filters) -> np.ndarray:
        """Sorted ids of the chunks whose article passes every given filter."""
        where, args = [], []
        if filters.date_from:
            where.append("a.date >= ?")
            args.append(filters.date_from)
        if filters.date_to:
            where.append("a.date <= ?")
            args.append(filters.date_to)
        if filters.sources:
            where.append(f"lower(a.source) IN ({','.join('?' * len(filters.sources))})")
            args.extend(s.lower() for s in filters.sources)
        if filters.doc_ids:
            where.append(f"a.doc_id IN ({','.join('?' * len(filters.doc_ids))})")
            args.extend(filters.doc_ids)
        sql = "SELECT c.chunk_id FROM chunks c JOIN articles a ON a.doc_id = c.doc_id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._conn().execute(sql + " ORDER BY c.chunk_id", args).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def chunk_meta(self, ids: Iterable[int]) -> dict[int, ChunkMeta]:
        """(doc_id, source, date) of each chunk: what boosts and de-duplication need."""
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self._conn().execute(
            "SELECT c.chunk_id, c.doc_id, a.source, a.date FROM chunks c JOIN articles a ON a.doc_id = c.doc_id "
            f"WHERE c.chunk_id IN ({','.join('?' * len(ids))})", ids).fetchall()
        return {r[0]: ChunkMeta(r[1], r[2], r[3]) for r in rows}

    def summary(self) -> tuple[str | None, str | None, list[str], list[int]]:
        """The date range, the outlets most frequent first, and their article counts."""
        conn = self._conn()
        lo, hi = conn.execute("SELECT min(date), max(date) FROM articles").fetchone()
        rows = conn.execute("SELECT source, count(*) FROM articles WHERE source IS NOT NULL GROUP BY source "
                            "ORDER BY count(*) DESC, source").fetchall()
        return lo, hi, [r[0] for r in rows], [r[1] for r in rows]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
