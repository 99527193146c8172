"""The FAISS vector index: inner product on normalised vectors (cosine similarity).

Small corpora get an exact `IndexFlatIP`; above `vectors.approx_above` chunks an approximate
index (IVF with a trained k-means quantizer, or HNSW) keeps search fast and, with SQ8 codes,
memory small. The kind and its build parameters are read back from the index itself for the
manifest; search parameters (nprobe, efSearch) come from config on every load.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.config import VectorsConfig

VECTORS_FILE = "vectors.faiss"
# k-means wants about this many training points per centroid (fewer only triggers a warning).
TRAIN_PER_LIST = 64
ADD_BATCH = 65536


def choose_kind(cfg: VectorsConfig, n: int) -> str:
    """The index kind for `n` vectors: exact while small, IVF above the threshold under `auto`."""
    if cfg.kind != "auto":
        return cfg.kind
    return "ivf" if n > cfg.approx_above else "flat"


def ivf_lists(cfg: VectorsConfig, n: int) -> int:
    """Inverted lists: the configured number, or about 4·√n (at least 39 points per list)."""
    want = cfg.nlist or 4 * int(math.sqrt(n))
    return max(1, min(want, n // 39 if n >= 39 else 1))


def factory_string(cfg: VectorsConfig, kind: str, n: int) -> str:
    codes = "SQ8" if cfg.sq8 else "Flat"
    if kind == "hnsw":
        return f"HNSW{cfg.hnsw_m}" + (",SQ8" if cfg.sq8 else "")
    if kind == "ivf":
        return f"IVF{ivf_lists(cfg, n)},{codes}"
    return codes


def build_vectors(vectors: np.ndarray, cfg: VectorsConfig | None = None) -> faiss.Index:
    """An index over `vectors` (rows are chunk ids), of the kind `cfg` chooses for their number."""
    cfg = cfg or VectorsConfig()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = choose_kind(cfg, n)
    index = faiss.index_factory(dim, factory_string(cfg, kind, n), faiss.METRIC_INNER_PRODUCT)
    if kind == "hnsw":
        index.hnsw.efConstruction = cfg.ef_construction
    if not index.is_trained and n:
        sample = n if kind != "ivf" else min(n, TRAIN_PER_LIST * ivf_lists(cfg, n))
        rows = np.random.default_rng(0).choice(n, size=sample, replace=False) if sample < n else slice(None)
        index.train(vectors[rows])
    for lo in range(0, n, ADD_BATCH):
        index.add(vectors[lo:lo + ADD_BATCH])
    apply_search_params(index, cfg)
    return index


def describe(index: faiss.Index) -> dict[str, Any]:
    """What the manifest records: the kind and the parameters it was built with."""
    spec: dict[str, Any] = {"metric": "inner_product"}
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        spec.update(kind="ivf", nlist=int(ivf.nlist), sq8=isinstance(faiss.downcast_index(ivf), faiss.IndexIVFScalarQuantizer))
    elif isinstance(index, faiss.IndexHNSW):
        spec.update(kind="hnsw", m=int(index.hnsw.nb_neighbors(1)), ef_construction=int(index.hnsw.efConstruction),
                    sq8=isinstance(index, faiss.IndexHNSWSQ))
    else:
        spec.update(kind="flat", sq8=isinstance(index, faiss.IndexScalarQuantizer))
    return spec


def apply_search_params(index: faiss.Index, cfg: VectorsConfig) -> None:
    """Set the speed/recall knobs of approximate kinds; exact indexes have none."""
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = min(cfg.nprobe, ivf.nlist)
    elif isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = cfg.ef_search


def save_vectors(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_vectors(path: Path, cfg: VectorsConfig | None = None) -> faiss.Index:
    """Read an index; with `vectors.mmap` its codes stay in the page cache instead of the heap."""
    cfg = cfg or VectorsConfig()
    # MMAP_IFC maps the codes of flat, HNSW and IVF kinds alike (the graph and ids stay in the heap).
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if cfg.mmap else 0)
    apply_search_params(index, cfg)
    return index


def selector(allowed: np.ndarray, n: int) -> faiss.IDSelector:
    """A test of membership in the ascending ids `allowed` (of n): a bitmap of n bits. (A hash set
    of the ids, faiss's IDSelectorBatch, took 26 ms to build for 100k ids, once per search.)"""
    bits = np.zeros(n, dtype=bool)
    bits[allowed] = True
    packed = np.packbits(bits, bitorder="little")
    found = faiss.IDSelectorBitmap(n, faiss.swig_ptr(packed))
    found.referenced_objects = [packed]  # the bits live as long as the selector
    return found


def search(index: faiss.Index, queries: np.ndarray, k: int,
           allowed: faiss.IDSelector | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores and row ids, best first; ids of -1 mark empty slots.

    `allowed` (see `selector`) restricts the search itself, so a filter never costs results the
    way dropping hits after the top k would.
    """
    k = max(1, min(k, index.ntotal))
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if allowed is None:
        return index.search(queries, k)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        params = faiss.SearchParametersIVF(sel=allowed, nprobe=ivf.nprobe)
    elif isinstance(index, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(sel=allowed, efSearch=index.hnsw.efSearch)
    else:
        params = faiss.SearchParameters(sel=allowed)
    return index.search(queries, k, params=params)


def limit_threads(threads: int) -> None:
    """FAISS's OpenMP threads for search."""
    faiss.omp_set_num_threads(threads)
