"""The raw limits: bare SentenceTransformer.encode and a bare faiss search, no service around them."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Callable

import faiss
import numpy as np

from qa.config import Config
from qa.encoder import resolve_model, reused_memory


def model(device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model(Config().model), device=device)


def encode_cost(texts: list[str], batch_size: int, device: str = "cpu") -> tuple[float, float]:
    """Wall and CPU seconds of plain `encode` on `texts` (CPU time stands still while other work on a
    shared machine takes the cores; wall time does not), with the allocator setting the build's
    encoding runs under: bare encode gains from it as much as the build does, so the floor has it."""
    m = model(device)
    with reused_memory(device):
        m.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
        started, cpu = time.perf_counter(), time.process_time()
        m.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        return time.perf_counter() - started, time.process_time() - cpu


def encode_rate(texts: list[str], batch_size: int, device: str = "cpu") -> float:
    """Chunks per second of plain `encode` on `texts`."""
    return len(texts) / encode_cost(texts, batch_size, device)[0]


@functools.lru_cache(maxsize=1)
def _model():
    return model()


def query_costs(index: faiss.Index, qs: list[str], k: int = 5, warmup: list[str] = (),
                encode: Callable[[list[str]], np.ndarray] | None = None) -> tuple[list[float], np.ndarray]:
    """Per question: `model.encode([q])` (or `encode`, e.g. the server's own question encoder)
    plus a faiss search, in ms; and the question vectors."""
    encode = encode or functools.partial(_model().encode, normalize_embeddings=True)
    for q in warmup:
        index.search(encode([q]), k)
    costs, vecs = [], []
    for q in qs:
        started = time.perf_counter()
        v = encode([q])
        index.search(v, k)
        costs.append((time.perf_counter() - started) * 1000)
        vecs.append(v[0])
    return costs, np.asarray(vecs, dtype=np.float32)


def search_costs(index: faiss.Index, qvecs: np.ndarray, k: int = 10) -> tuple[list[float], np.ndarray]:
    """Per question vector: one faiss search in ms, and the ids found."""
    costs, ids = [], []
    for v in qvecs:
        started = time.perf_counter()
        _, i = index.search(v[None, :], k)
        costs.append((time.perf_counter() - started) * 1000)
        ids.append(i[0])
    return costs, np.asarray(ids)


def version_dir(index_dir: Path) -> Path:
    from qa.storage.local.versions import current_version

    return current_version(index_dir)
