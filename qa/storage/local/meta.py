"""Articles and chunks with their text in SQLite: what a citation and a passage quote, read for
the few chunks an answer shows. No pickle, and nothing held in Python objects per row, so a
million chunks cost disk pages rather than memory. (What ranking reads for every candidate is
in memory-mapped arrays: arrays.py.)"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

from qa.models import Article, Chunk
from qa.storage.base import ChunkRow
from qa.text import terms

META_FILE = "meta.sqlite"

SCHEMA = """
CREATE TABLE articles (
    doc_id TEXT PRIMARY KEY, path TEXT NOT NULL, title TEXT, date TEXT, source TEXT, url TEXT,
    text TEXT NOT NULL, body_start INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    seg_first INTEGER NOT NULL, seg_last INTEGER NOT NULL, text TEXT NOT NULL,
    terms TEXT NOT NULL  -- the text's distinct terms (`qa.text.terms`), sorted, space-joined
);
"""


def joined_terms(text: str) -> str:
    """A text's distinct terms as the `terms` column holds them (a term holds no space)."""
    return " ".join(sorted(set(terms(text))))


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
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
            [(first_id + i, c.doc_id, c.start, c.end, c.seg_first, c.seg_last, c.text, joined_terms(c.text))
             for i, c in enumerate(chunks)],
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

    def _chunk_rows(self, columns: str, ids: Iterable[int]) -> list[sqlite3.Row]:
        """`columns` (after chunk_id) of the chunks with these ids; unknown ids are left out."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        return self._conn().execute(
            f"SELECT chunk_id, {columns} FROM chunks WHERE chunk_id IN ({','.join('?' * len(ids))})", ids).fetchall()

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        rows = self._chunk_rows('doc_id, start, "end", seg_first, seg_last, text', ids)
        return {r["chunk_id"]: ChunkRow(*r) for r in rows}

    def terms(self, ids: Iterable[int]) -> dict[int, frozenset[str]]:
        return {r[0]: frozenset(r[1].split()) for r in self._chunk_rows("terms", ids)}

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

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
