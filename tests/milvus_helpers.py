"""Milvus Lite as a server process on a loopback port (the tests' stand-in for a cluster), configs
that point at it, and index versions written without the model (for the backend's own tests)."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import numpy as np

from conftest import free_port
from qa.config import Config, IndexConfig, MilvusConfig, StorageConfig
from qa.models import Article, Chunk, Segment
from qa.storage.base import ArticleRecord, VersionContent
from qa.text import sentence_spans


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class LiteServer:
    """`milvus_lite.server.Server` on a free port; stop() and start() again keep its data."""

    def __init__(self, db_file: Path):
        self.db_file = db_file
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._server = None

    def start(self, timeout: float = 60) -> "LiteServer":
        from milvus_lite.server import Server

        server = Server(str(self.db_file), address=f"127.0.0.1:{self.port}")
        if not (server.init() and server.start()):
            raise RuntimeError(f"Milvus Lite did not start on {self.uri}")
        self._server = server
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Milvus Lite is not listening on {self.uri}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # releases the file lock (the process exits), then kills it if needed
            self._server = None
        deadline = time.monotonic() + 30
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)


def milvus_config(cfg: Config, uri: str, *, prefix: str = "newsqa_", keep: int | None = None,
                  timeout: int = 5) -> Config:
    """`cfg` on the Milvus backend at `uri`, its collections named `prefix...`."""
    milvus = MilvusConfig(uri=uri, collection_prefix=prefix, timeout=timeout)
    index = IndexConfig(keep_versions=keep) if keep is not None else cfg.index
    return cfg.replace(storage=StorageConfig(backend="milvus", milvus=milvus), index=index)


def synthetic(articles: list[Article], dim: int = 8, seed: int = 0) -> VersionContent:
    """A version's content as a build would give it, with random unit vectors instead of the model's:
    one chunk per two sentences."""
    rng = np.random.default_rng(seed)

    def unit(n: int) -> np.ndarray:
        v = rng.normal(size=(n, dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    records, embedded = [], []
    for a in articles:
        segs = [Segment(s, e) for s, e in sentence_spans(a.text, a.body_start)]
        chunks = [Chunk(a.doc_id, segs[i].start, segs[min(i + 1, len(segs) - 1)].end,
                        a.text[segs[i].start:segs[min(i + 1, len(segs) - 1)].end], i, min(i + 1, len(segs) - 1))
                  for i in range(0, len(segs), 2)]
        records.append(ArticleRecord(a, hashlib.sha256(a.text.encode()).hexdigest(), segs, unit(len(segs)), chunks))
        embedded += [c.text for c in chunks]
    manifest = {"model": "synthetic", "dimension": dim, "built_at": "2025-01-01T00:00:00+00:00",
                "counts": {"articles": len(records), "chunks": len(embedded),
                           "segments": sum(len(r.segments) for r in records)}}
    return VersionContent(records, embedded, unit(len(embedded)), manifest)


def small_corpus() -> list[Article]:
    return [Article("a.txt", "a.txt", "The harbour reopened on Monday. Fishing boats returned. Crowds cheered.",
                    title="Harbour", date="2024-05-01", source="Test Wire"),
            Article("b.txt", "b.txt", "A storm closed the bridge. Repairs took a week. Traffic resumed.",
                    title="Bridge", date="2023-01-10", source="Other Post")]


def publish(cfg: Config, content: VersionContent) -> str:
    """Write `content` as a new version the way `build_index` does; returns its name."""
    from qa.storage import open_backend

    backend = open_backend(cfg)
    with backend.building(int(content.manifest["dimension"])):
        return backend.write(content)
