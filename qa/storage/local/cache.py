"""Chunk embeddings cached by (model, embedded text), so an update re-encodes only what changed.

The cache sits beside the index versions (index/cache/), survives rebuilds, and is trimmed to
the chunks of the latest build. Values are raw float32 bytes: nothing is unpickled.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable

import numpy as np

CACHE_FILE = Path("cache") / "embeddings.sqlite"


class EmbeddingCache:
    """Vectors by key (the build derives keys from the model and the embedded text)."""

    def __init__(self, index_dir: Path, dim: int):
        path = index_dir / CACHE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, chunk BLOB NOT NULL, "
                          "spans BLOB NOT NULL) WITHOUT ROWID")

    def get(self, keys: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        found = {}
        for lo in range(0, len(keys), 500):
            part = keys[lo:lo + 500]
            rows = self.conn.execute(
                f"SELECT key, chunk, spans FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            for key, chunk, spans in rows:
                found[key] = (np.frombuffer(chunk, dtype=np.float32),
                              np.frombuffer(spans, dtype=np.float32).reshape(-1, self.dim))
        return found

    def put(self, items: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
                              [(k, c.astype(np.float32).tobytes(), s.astype(np.float32).tobytes())
                               for k, c, s in items])
        self.conn.commit()

    def keep_only(self, keys: Iterable[str]) -> None:
        """Drop entries no chunk of the latest build uses, so the cache tracks the corpus."""
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY)")
        self.conn.execute("DELETE FROM live")
        self.conn.executemany("INSERT OR IGNORE INTO live VALUES (?)", ((k,) for k in keys))
        self.conn.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM live)")
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()
