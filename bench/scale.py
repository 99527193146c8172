"""Latency and scale: /api/ask over HTTP vs the raw cost, on the real index and on 10k-1M chunks.

Above the real chunk count, vectors are real chunk embeddings perturbed with Gaussian noise
(cosine about 0.9 to their source) and each gets a metadata row (and a BM25 document)
copied from its source chunk, so answers and citations stay real.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import faiss
import numpy as np

from bench.common import Server, http_latencies, percentiles, questions, warmup_questions, write_config
from bench.raw import query_costs, search_costs, version_dir
from qa.config import load_config
from qa.encoder import query_encoder
from qa.storage.local import write_files
from qa.storage.local.arrays import ARRAYS_DIR, write_chunks
from qa.storage.local.bm25 import BM25_DIR, save_bm25, terms
from qa.storage.local.manifest import MANIFEST, write_manifest
from qa.storage.local.meta import META_FILE
from qa.storage.local.vectors import VECTORS_FILE, build_vectors, describe, load_vectors, save_vectors
from qa.storage.local.versions import new_version_dir, publish

NOISE = 0.48  # noise norm relative to a unit vector: cosine to the source about 1/sqrt(1+0.48²) = 0.9
N_QUESTIONS = 200
ROUND = 40


def real_vectors(index_dir: Path) -> np.ndarray:
    index = faiss.read_index(str(version_dir(index_dir) / VECTORS_FILE))
    return index.reconstruct_n(0, index.ntotal)


def synthetic(real: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((size, real.shape[1]), dtype=np.float32)
    out[:len(real)] = real[:size]
    step = 65536
    for lo in range(len(real), size, step):
        hi = min(size, lo + step)
        noise = rng.standard_normal((hi - lo, real.shape[1])).astype(np.float32) * (NOISE / np.sqrt(real.shape[1]))
        v = real[np.arange(lo, hi) % len(real)] + noise
        out[lo:hi] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def write_version(source_index: Path, target_index: Path, vectors: np.ndarray, config: Path) -> dict:
    """An index version of `vectors` whose chunks copy the source's (chunk i -> i mod n): their
    rows, terms, article and sentences; articles and sentences are the source's own."""
    cfg = load_config(config)
    src = version_dir(source_index)
    n_real = json.loads((src / MANIFEST).read_text())["counts"]["chunks"]
    version = new_version_dir(target_index)
    started = time.perf_counter()
    index = build_vectors(vectors, cfg.vectors)
    save_vectors(index, version / VECTORS_FILE)
    vectors_s = time.perf_counter() - started
    shutil.copyfile(src / META_FILE, version / META_FILE)
    with sqlite3.connect(version / META_FILE) as conn:
        for first in range(n_real, len(vectors), n_real):
            conn.execute('INSERT INTO chunks SELECT chunk_id + ?, doc_id, start, "end", seg_first, seg_last, text, '
                         "terms FROM chunks WHERE chunk_id < ?", (first, min(n_real, len(vectors) - first)))
        real_terms = [terms(r[0]) for r in conn.execute("SELECT text FROM chunks WHERE chunk_id < ? ORDER BY chunk_id",
                                                         (n_real,))]
    source = np.arange(len(vectors)) % n_real
    # Each copy's terms are its source's: split the real texts once, not a million times.
    files = [*write_files(version, BM25_DIR, lambda folder: save_bm25([real_terms[i] for i in source], folder)),
             *write_files(version, ARRAYS_DIR, lambda folder: copy_arrays(src / ARRAYS_DIR, folder, source))]
    manifest = json.loads((src / MANIFEST).read_text())
    manifest.pop("files")
    manifest.update(version=version.name, vectors=describe(index),
                    counts={**manifest["counts"], "chunks": len(vectors)})
    write_manifest(version, manifest, files=[VECTORS_FILE, META_FILE, *files])
    publish(target_index, version, keep=1)
    return {"vectors_build_s": round(vectors_s, 1), "total_build_s": round(time.perf_counter() - started, 1),
            "index": describe(index)}


def copy_arrays(src: Path, folder: Path, source: np.ndarray) -> list[str]:
    """The source version's ranking arrays, with chunk i's entries copied from chunk source[i]."""
    for file in src.iterdir():
        shutil.copyfile(file, folder / file.name)
    write_chunks(folder, np.load(src / "chunk_article.npy")[source], np.load(src / "chunk_sentences.npy")[source])
    return sorted(f.name for f in folder.iterdir())


def disk_mb(index_dir: Path) -> int:
    return round(sum(f.stat().st_size for f in version_dir(index_dir).rglob("*") if f.is_file()) / 2**20)


def measure(index_dir: Path, config: Path, exact_vectors: np.ndarray | None = None) -> dict:
    """HTTP p50/p99 against the raw cost on the same index; recall@10 and search-only latency."""
    qs, warmup = questions(N_QUESTIONS), warmup_questions()
    cfg = load_config(config)
    index = load_vectors(version_dir(index_dir) / VECTORS_FILE, cfg.vectors)
    own = query_encoder(cfg.model).encode_queries  # what the server encodes questions with
    with Server(config, index_dir) as server:
        # Raw and HTTP rounds alternate, so a change in the machine's load hits both alike.
        raw_ms, own_ms, http_ms, qvecs = [], [], [], []
        for lo in range(0, len(qs), ROUND):
            costs, vecs = query_costs(index, qs[lo:lo + ROUND], warmup=warmup if lo == 0 else [])
            raw_ms += costs
            qvecs.append(vecs)
            own_ms += query_costs(index, qs[lo:lo + ROUND], warmup=warmup if lo == 0 else [], encode=own)[0]
            http_ms += http_latencies(server.url, qs[lo:lo + ROUND], warmup if lo == 0 else [])
        rss = server.rss_mb()
    qvecs = np.concatenate(qvecs)
    search_ms, found = search_costs(index, qvecs)
    out = {"chunks": int(index.ntotal), "index": describe(index), "disk_mb": disk_mb(index_dir),
           "raw": percentiles(raw_ms), "raw_own": percentiles(own_ms), "query_runtime": cfg.model.query_runtime,
           "search": percentiles(search_ms), "http": percentiles(http_ms),
           "ready_s": server.ready_s, **rss}
    if exact_vectors is not None:
        exact = faiss.IndexFlatIP(exact_vectors.shape[1])
        exact.add(exact_vectors)
        _, want = exact.search(qvecs, 10)
        out["recall_at_10"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(want, found)])), 4)
    out["p50_ratio"] = round(out["http"]["p50_ms"] / out["raw"]["p50_ms"], 2)
    out["p99_ratio"] = round(out["http"]["p99_ms"] / out["raw"]["p99_ms"], 2)
    out["own_ratio"] = [round(out["http"][p] / out["raw_own"][p], 2) for p in ("p50_ms", "p99_ms")]
    return out


def latency(work: Path) -> dict:
    """The real MultiHop-RAG index as built by the build part."""
    return measure(work / "index", write_config(work))


def scale(work: Path, sizes: list[int], sq8_above: int, mmap_above: int) -> dict:
    real = real_vectors(work / "index")
    results = {}
    for size in sizes:
        target = work / f"index-{size}"
        shutil.rmtree(target, ignore_errors=True)
        config = write_config(work, index_dir=str(target),
                              vectors={"sq8": size > sq8_above, "mmap": size > mmap_above})
        vectors = synthetic(real, size)
        built = write_version(work / "index", target, vectors, config)
        results[str(size)] = {**measure(target, config, exact_vectors=vectors), **built,
                              "real_chunks": min(size, len(real))}
        del vectors
        shutil.rmtree(target, ignore_errors=True)
    return results
