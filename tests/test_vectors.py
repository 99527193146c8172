"""Vector index kinds: exact while small, approximate above the threshold, recorded in the manifest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import make_config, open_store
from qa.indexing.build import build_index
from qa.config import VectorsConfig, load_config
from qa.errors import ConfigError
from qa.storage.local.vectors import build_vectors, choose_kind, describe, load_vectors, save_vectors, search, selector


def clustered(n: int, dim: int = 64, centers: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few centres: the shape real embeddings have, where ANN can go wrong."""
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centers, dim))
    x = middle[rng.integers(0, centers, n)] + 0.35 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def recall_at(k: int, exact: np.ndarray, found: np.ndarray) -> float:
    return float(np.mean([len(set(e) & set(f)) / k for e, f in zip(exact, found)]))


@pytest.mark.parametrize("cfg,kind", [
    (VectorsConfig(kind="hnsw"), "hnsw"),
    (VectorsConfig(kind="hnsw", sq8=True), "hnsw"),
    (VectorsConfig(kind="ivf", nprobe=16), "ivf"),
    (VectorsConfig(kind="ivf", sq8=True, nprobe=16), "ivf"),
    (VectorsConfig(approx_above=1000), "ivf"),
    (VectorsConfig(kind="flat", sq8=True), "flat"),
])
def test_approximate_kinds_find_the_exact_neighbours(tmp_path, cfg, kind):
    data, queries = np.split(clustered(5200), [5000])  # queries: held-out points of the same clusters
    exact = build_vectors(data, VectorsConfig(kind="flat"))
    _, want = search(exact, queries, 10)

    index = build_vectors(data, cfg)
    save_vectors(index, tmp_path / "v.faiss")
    for mmap in (False, True):
        loaded = load_vectors(tmp_path / "v.faiss", dataclasses.replace(cfg, mmap=mmap))
        assert loaded.ntotal == len(data) and describe(loaded) == describe(index)
        assert describe(loaded)["kind"] == kind and describe(loaded)["sq8"] == cfg.sq8
        _, got = search(loaded, queries, 10)
        assert recall_at(10, want, got) >= 0.95


@pytest.mark.parametrize("cfg", [VectorsConfig(kind="flat"), VectorsConfig(kind="ivf", nlist=8, nprobe=8),
                                 VectorsConfig(kind="hnsw", ef_search=400)])
def test_a_filter_restricts_the_search_itself(cfg):
    data, queries = np.split(clustered(2020), [2000])
    allowed = np.sort(np.random.default_rng(1).choice(2000, 150, replace=False))
    exact = build_vectors(data[allowed], VectorsConfig(kind="flat"))
    _, want = search(exact, queries, 10)
    _, got = search(build_vectors(data, cfg), queries, 10, selector(allowed, 2000))
    assert set(got.ravel()) <= set(allowed.tolist())  # never a chunk the filter leaves out ...
    assert recall_at(10, allowed[want], got) >= 0.95  # ... and the filter's own best ones


def test_search_parameters_come_from_config_on_load(tmp_path):
    save_vectors(build_vectors(clustered(3000), VectorsConfig(kind="ivf", nlist=32)), tmp_path / "ivf.faiss")
    save_vectors(build_vectors(clustered(500), VectorsConfig(kind="hnsw")), tmp_path / "hnsw.faiss")
    import faiss

    ivf = faiss.extract_index_ivf(load_vectors(tmp_path / "ivf.faiss", VectorsConfig(nprobe=7)))
    assert ivf.nlist == 32 and ivf.nprobe == 7
    assert load_vectors(tmp_path / "ivf.faiss", VectorsConfig(nprobe=999)).nprobe == 32  # capped at nlist
    assert load_vectors(tmp_path / "hnsw.faiss", VectorsConfig(ef_search=123)).hnsw.efSearch == 123


def test_auto_is_exact_up_to_the_threshold():
    cfg = VectorsConfig(approx_above=100)
    assert choose_kind(cfg, 100) == "flat" and choose_kind(cfg, 101) == "ivf"
    assert choose_kind(VectorsConfig(kind="hnsw"), 5) == "hnsw"


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_manifest_records_the_kind_and_search_uses_it(tmp_path, encoder, seed_config, kind):
    cfg = make_config(tmp_path, seed_config.data_dir, vectors=VectorsConfig(kind=kind))
    build_index(cfg, encoder=encoder, progress=False)
    index = open_store(cfg)
    assert index.info.manifest["vectors"]["kind"] == kind
    assert index.info.manifest["vectors"] == describe(index.vectors)
    exact = open_store(seed_config)
    assert exact.info.manifest["vectors"]["kind"] == "flat"
    q = encoder.encode_queries(["How many people died in the Khojaly massacre?"])
    assert search(index.vectors, q, 3)[1].tolist() == search(exact.vectors, q, 3)[1].tolist()


@pytest.mark.parametrize("text,message", [
    ("vectors:\n  kind: annoy", "'vectors.kind' must be one of auto, flat, hnsw, ivf"),
    ("vectors:\n  nprobe: 0", "'vectors.nprobe' must be at least 1"),
    ("vectors:\n  approx_above: -1", "'vectors.approx_above' must be 0 or more"),
    ("vectors:\n  sq8: 1", "true or false"),
])
def test_bad_vectors_config_is_one_clear_error(tmp_path, text, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "c.yaml")
