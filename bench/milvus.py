"""The Milvus backend against the local one, in the same run: `python -m bench --backend milvus`.

Milvus Lite runs as its own server process on a loopback port (`milvus_lite.server.Server`), as a
cluster stands apart from the API servers: its memory is measured apart from theirs, and the API
server it backs has no index folder and no data folder. Builds and updates of both backends take
their vectors from the local index's embedding cache (`qa index update`): encoding is the same code
for both (the build part of the local bench times it), so these times are the storage's part.
The scale part writes synthetic chunks as the local scale part makes them (real vectors plus
noise, each row copied from its source chunk; sentences and articles stay the real ones).
"""

from __future__ import annotations

import shutil
import socket
import time
from collections import Counter
from pathlib import Path

import faiss
import numpy as np
import psutil

from bench import update
from bench.common import Server, free_port, http_latencies, percentiles, qa, questions, warmup_questions, write_config
from bench.raw import query_costs, version_dir
from bench.scale import N_QUESTIONS, ROUND, synthetic
from qa.config import VectorsConfig, load_config
from qa.storage import open_backend
from qa.storage.local.vectors import VECTORS_FILE, build_vectors, describe, load_vectors
from qa.text import terms

PREFIX = "newsqa_"
PARTS = ("build", "latency", "scale", "update")


class Lite:
    """Milvus Lite as a server process on `db_file`; restart() keeps its data and times its readiness."""

    def __init__(self, db_file: Path):
        db_file.parent.mkdir(parents=True, exist_ok=True)
        self.db_file, self.port = db_file, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> "Lite":
        from milvus_lite.server import Server as LiteServer

        self.started = time.perf_counter()
        self.server = LiteServer(str(self.db_file), address=f"127.0.0.1:{self.port}")
        if not (self.server.init() and self.server.start()):
            raise RuntimeError(f"Milvus Lite did not start on {self.uri}")
        while socket.socket().connect_ex(("127.0.0.1", self.port)) != 0:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def ready_s(self, config: Path) -> float:
        """Seconds from start() until the version in service answers a search (loaded if it was not)."""
        cfg = load_config(config)
        backend = open_backend(cfg)
        store = backend.open(backend.current(), model=cfg.model.name)
        store.dense_top(np.ones(store.info.dimension, dtype=np.float32), 10)
        store.close()
        return round(time.perf_counter() - self.started, 2)

    def rss_mb(self) -> int:
        proc = psutil.Process(self.server._p.pid)
        return round(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20)

    def disk_mb(self) -> int:
        return round(sum(f.stat().st_size for f in self.db_file.parent.rglob("*") if f.is_file()) / 2**20)

    def __enter__(self) -> "Lite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def milvus_config(work: Path, uri: str, name: str = "bench-milvus.yaml", index_type: str = "FLAT",
                  stateless: bool = False, **sections) -> Path:
    """The Milvus backend at `uri`; `stateless`: an API server's config, with no index or data folder."""
    places = {"data_dir": str(work / "api" / "data"), "index_dir": str(work / "api" / "index")} if stateless else {}
    return write_config(work, name=name, storage={"backend": "milvus", "milvus": {
        "uri": uri, "collection_prefix": PREFIX, "index_type": index_type}}, **places, **sections)


def chunk_count(config: Path) -> int:
    backend = open_backend(load_config(config))
    return int(backend.manifest(backend.current())["counts"]["chunks"])


def build(work: Path) -> dict:
    """Both backends written from a full embedding cache; the Milvus one into a fresh Milvus."""
    local_s = qa("index", "update", config=write_config(work))
    shutil.rmtree(work / "milvus", ignore_errors=True)
    with Lite(work / "milvus" / "milvus.db") as lite:
        config = milvus_config(work, lite.uri)
        milvus_s = qa("index", "update", config=config)
        chunks = chunk_count(config)
        return {"chunks": chunks, "local_build_s": round(local_s, 1), "milvus_build_s": round(milvus_s, 1),
                "milvus_rss_mb": lite.rss_mb(), "milvus_disk_mb": lite.disk_mb()}


def update_both(work: Path, built: dict) -> dict:
    """One article changed: `qa index update` on each backend."""
    with Lite(work / "milvus" / "milvus.db") as lite:
        return {"local": update.run(work, built.get("local_build_s"), config=write_config(work)),
                "milvus": update.run(work, built.get("milvus_build_s"), config=milvus_config(work, lite.uri))}


def engine(config: Path, qs: list[str], qvecs: np.ndarray) -> tuple[dict, list[list[int]]]:
    """Bare Milvus searches through the backend's own store: dense top 10 and BM25 top 10 per question."""
    cfg = load_config(config)
    backend = open_backend(cfg)
    store = backend.open(backend.current(), model=cfg.model.name)
    dense_ms, bm25_ms, found = [], [], []
    for q, v in zip(qs, qvecs):
        started = time.perf_counter()
        found.append(list(store.dense_top(v, 10)))
        dense_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        store.lexical([terms(q)])[0].top(10)
        bm25_ms.append((time.perf_counter() - started) * 1000)
    store.close()
    return {"dense": percentiles(dense_ms), "bm25": percentiles(bm25_ms)}, found


def measure(index: faiss.Index, servers: dict[str, Server], lite: Lite, config: Path) -> dict:
    """HTTP p50/p99 of each server against the raw floor (bare encode + faiss search of the same
    vectors), rounds alternating; RSS of each API server and of Milvus; bare Milvus searches."""
    qs, warmup = questions(N_QUESTIONS), warmup_questions()
    raw_ms, qvecs, http = [], [], {name: [] for name in servers}
    for lo in range(0, len(qs), ROUND):
        costs, vecs = query_costs(index, qs[lo:lo + ROUND], warmup=warmup if lo == 0 else [])
        raw_ms, qvecs = raw_ms + costs, qvecs + [vecs]
        for name, server in servers.items():
            http[name] += http_latencies(server.url, qs[lo:lo + ROUND], warmup if lo == 0 else [])
    qvecs = np.concatenate(qvecs)
    search, found = engine(config, qs, qvecs)
    raw = percentiles(raw_ms)
    out = {"raw": raw, "milvus_search": search, "milvus_rss_mb": lite.rss_mb(), "qvecs": qvecs, "found": found}
    for name, server in servers.items():
        h = percentiles(http[name])
        out[name] = {"http": h, "p50_ratio": round(h["p50_ms"] / raw["p50_ms"], 2),
                     "p99_ratio": round(h["p99_ms"] / raw["p99_ms"], 2), "ready_s": server.ready_s,
                     **server.rss_mb()}
    return out


def latency(work: Path) -> dict:
    """The real MultiHop-RAG index: a local `qa serve` and a stateless one on Milvus, same questions."""
    local = write_config(work)
    index = load_vectors(version_dir(work / "index") / VECTORS_FILE, load_config(local).vectors)
    with Lite(work / "milvus" / "milvus.db") as lite:
        config = milvus_config(work, lite.uri, stateless=True)
        ready = lite.ready_s(config)
        with Server(local, work / "index") as a, Server(config, work / "api" / "index") as b:
            out = measure(index, {"local": a, "milvus": b}, lite, config)
    del out["qvecs"], out["found"]
    return {"chunks": int(index.ntotal), "milvus_ready_s": ready, "milvus_disk_mb": lite.disk_mb(), **out}


def scaled_rows(content, vectors: np.ndarray) -> dict:
    """The collections' rows of `len(vectors)` chunks, chunk i copying real chunk i mod n."""
    from qa.storage.milvus.write import article_rows, chunk_rows, sentence_rows, term_rows

    term_lists = [terms(t) for t in content.embedded]
    real = list(chunk_rows(content, term_lists))
    n, size = len(real), len(vectors)
    copies = [size // n + (j < size % n) for j in range(n)]
    df = Counter()
    for ts, c in zip(term_lists, copies):
        df.update({t: c for t in set(ts)})
    chunks = ({**real[i % n], "id": i, "vector": vectors[i]} for i in range(size))
    return {"chunks": chunks, "sentences": sentence_rows(content), "articles": article_rows(content),
            "terms": term_rows(df)}


def real_content(cfg, encoder, cache):
    """The MultiHop-RAG version's content, its vectors from the embedding cache (after the update
    part, the changed article's original chunks are encoded again: not timed)."""
    from qa.indexing.build import LocalEncoding, content, plan_and_embed, read_articles

    encoding = LocalEncoding(encoder)
    built, embedded = plan_and_embed(read_articles(cfg, False).articles, encoding, cfg, cache, reuse=True,
                                     progress=False)
    return content(built, embedded, encoder, 0)


def write_scaled(config: Path, size: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """A published version of `size` synthetic chunks in the Milvus at `config`, written as a build
    writes one; its vectors and the seconds the writing took."""
    from qa.encoder import Encoder
    from qa.storage.milvus.catalog import new_version
    from qa.storage.milvus.write import summary, write_rows

    cfg = load_config(config)
    backend, encoder = open_backend(cfg), Encoder(cfg.model)
    with backend.building(encoder.dim) as cache:
        real = real_content(cfg, encoder, cache)
        vectors = synthetic(real.vectors, size, seed)
        started = time.perf_counter()
        manifest = {**real.manifest, "counts": {**real.manifest["counts"], "chunks": size}}
        version = new_version()
        write_rows(backend.db, backend.catalog, cfg, version, scaled_rows(real, vectors), manifest, summary(real),
                   renew=lambda: None)
        backend.catalog.set_pointer(version)
    return vectors, round(time.perf_counter() - started, 1)


def scale(work: Path, sizes: list[int], sq8_above: int) -> dict:
    """Per size: a fresh Milvus, IVF_FLAT from config; the raw floor's faiss index is the one the
    local backend would build for that many chunks."""
    results = {}
    for size in sizes:
        shutil.rmtree(work / f"milvus-{size}", ignore_errors=True)
        with Lite(work / f"milvus-{size}" / "milvus.db") as lite:
            vectors, write_s = write_scaled(milvus_config(work, lite.uri, index_type="IVF_FLAT"), size)
            lite.stop()
            lite.start()  # time to ready: a restarted Milvus loads the version again
            config = milvus_config(work, lite.uri, index_type="IVF_FLAT", stateless=True)
            ready = lite.ready_s(config)
            raw = build_vectors(vectors, VectorsConfig(sq8=size > sq8_above))
            with Server(config, work / "api" / "index") as server:
                out = measure(raw, {"milvus": server}, lite, config)
            out["raw_index"] = describe(raw)
            del raw
            exact = faiss.IndexFlatIP(vectors.shape[1])
            exact.add(vectors)
            _, want = exact.search(out.pop("qvecs"), 10)
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(want, out.pop("found"))])
            results[str(size)] = {"chunks": size, "write_s": write_s, "milvus_ready_s": ready,
                                  "milvus_disk_mb": lite.disk_mb(), "recall_at_10": round(float(recall), 4), **out}
        del vectors, exact
        shutil.rmtree(work / f"milvus-{size}", ignore_errors=True)
    return results
