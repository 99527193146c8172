"""The embedded default backend: each version a folder of files under `index_dir`.

`index/versions/<version>/` holds vectors.faiss, the BM25 arrays (bm25/), the ranking arrays
(arrays/), meta.sqlite and manifest.json; `index/CURRENT` names the version in service and is
replaced atomically.
"""

from __future__ import annotations

import os
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from qa.config import VectorsConfig
from qa.storage.base import VersionContent
from qa.storage.local.arrays import ARRAYS_DIR, write_arrays
from qa.storage.local.bm25 import BM25_DIR, build_bm25
from qa.storage.local.cache import EmbeddingCache
from qa.storage.local.manifest import read_manifest, write_manifest
from qa.storage.local.meta import META_FILE, MetaWriter
from qa.storage.local.store import LocalStore, open_version
from qa.storage.local.vectors import VECTORS_FILE, build_vectors, describe, save_vectors
from qa.storage.local.versions import POINTER, VERSIONS, build_lock, current_version, hold, new_version_dir, publish


class LocalBackend:
    """Versions as folders, the pointer as a file, one build at a time by a file lock."""

    def __init__(self, index_dir: Path, vectors: VectorsConfig, keep_versions: int):
        self.index_dir = index_dir
        self.vectors = vectors
        self.keep_versions = keep_versions

    def exists(self) -> bool:
        return (self.index_dir / POINTER).exists()

    def current(self) -> str:
        return current_version(self.index_dir).name

    def open(self, version: str, *, model: str) -> LocalStore:
        # Hold the folder first, so a concurrent build's prune cannot delete it under us.
        fd = hold(self.index_dir / VERSIONS / version)
        try:
            store = open_version(self.index_dir / VERSIONS / version, model=model, vectors=self.vectors)
        except BaseException:
            os.close(fd)
            raise
        weakref.finalize(store, os.close, fd)  # released when the last request using it ends
        return store

    def manifest(self, version: str) -> dict[str, Any]:
        return read_manifest(self.index_dir / VERSIONS / version)

    @contextmanager
    def building(self, dim: int) -> Iterator[EmbeddingCache]:
        with build_lock(self.index_dir):
            cache = EmbeddingCache(self.index_dir, dim)
            try:
                yield cache
            finally:
                cache.close()

    def write(self, content: VersionContent) -> str:
        version = new_version_dir(self.index_dir)
        files = [*write_files(version, BM25_DIR, lambda folder: build_bm25(content.embedded, folder)),
                 *write_files(version, ARRAYS_DIR, lambda folder: write_arrays(folder, content.articles))]
        vectors = build_vectors(content.vectors, self.vectors)
        save_vectors(vectors, version / VECTORS_FILE)
        writer = MetaWriter(version / META_FILE)
        next_id = 0
        for record in content.articles:
            writer.add_article(record.article, record.sha256)
            writer.add_chunks(next_id, record.chunks)
            next_id += len(record.chunks)
        writer.close()
        write_manifest(version, {**content.manifest, "version": version.name, "vectors": describe(vectors)},
                       files=[VECTORS_FILE, META_FILE, *files])
        publish(self.index_dir, version, keep=self.keep_versions)
        return version.name


def write_files(version: Path, name: str, write: Callable[[Path], list[str]]) -> list[str]:
    """Run `write` into the new folder `name` of a version; the written files, relative to the version."""
    (version / name).mkdir()
    return [f"{name}/{f}" for f in write(version / name)]
