"""Open the index version in service, refusing one this program or model cannot use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss

from qa.config import VectorsConfig
from qa.errors import IndexUnavailable
from qa.storage.local.bm25 import BM25_DIR, Lexical
from qa.storage.local.manifest import REBUILD, read_manifest
from qa.storage.local.meta import META_FILE, MetaStore
from qa.storage.local.vectors import VECTORS_FILE, load_vectors
from qa.storage.local.versions import current_version


@dataclass
class IndexVersion:
    path: Path
    manifest: dict[str, Any]
    vectors: faiss.Index
    store: MetaStore
    lexical: Lexical

    @property
    def name(self) -> str:
        return self.path.name

    def close(self) -> None:
        self.store.close()


def open_index(index_dir: Path, *, model: str, vectors: VectorsConfig | None = None) -> IndexVersion:
    """Load and verify the current version; a mismatch says to rebuild.

    `vectors` gives the search parameters (nprobe, efSearch) and whether to memory-map the
    vector codes and the BM25 arrays (pages then count only once a question touches them).
    """
    mmap = bool(vectors and vectors.mmap)
    version = current_version(index_dir)
    manifest = read_manifest(version)
    if manifest.get("model") != model:
        raise IndexUnavailable(
            f"index {version} was built with model '{manifest.get('model')}' but the config names '{model}'; {REBUILD}")
    try:
        vectors = load_vectors(version / VECTORS_FILE, vectors)
        store = MetaStore(version / META_FILE)
        lexical = Lexical(version / BM25_DIR, mmap=mmap)
    except Exception as exc:  # faiss raises RuntimeError, sqlite DatabaseError: same fix
        raise IndexUnavailable(f"index {version} cannot be opened ({exc}); {REBUILD}") from None
    if vectors.ntotal != manifest["counts"]["chunks"] or vectors.d != manifest["dimension"]:
        raise IndexUnavailable(f"index {version / VECTORS_FILE} does not match its manifest; {REBUILD}")
    return IndexVersion(version, manifest, vectors, store, lexical)
