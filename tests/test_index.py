"""The index folder describes itself, and an index the program cannot use is refused."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest

from qa.indexing.build import build_index
from qa.errors import IndexUnavailable, IngestError
import qa.storage.local.manifest as manifest_module
from qa.storage.local.manifest import MANIFEST, read_manifest
from qa.storage.local.versions import current_version
from conftest import make_config, open_store


def test_manifest_describes_the_build(seed_config):
    version = current_version(seed_config.index_dir)
    manifest = json.loads((version / MANIFEST).read_text())
    assert manifest["format_version"] == 1
    assert manifest["model"] == seed_config.model.name and manifest["dimension"] == 384
    assert manifest["counts"]["articles"] == 5 and manifest["counts"]["chunks"] > 5
    # The budget is capped by the model: 256 word pieces less [CLS] and [SEP].
    assert manifest["chunking"] == {"max_tokens": min(seed_config.chunking.max_tokens, 254),
                                    "overlap_sentences": 1, "header": True}
    assert len(manifest["corpus_fingerprint"]) == 64 and manifest["built_at"]
    assert {"vectors.faiss", "meta.sqlite", "bm25/vocab.index.json"} <= set(manifest["files"])
    store = open_store(seed_config)
    assert store.vectors.ntotal == manifest["counts"]["chunks"] == store.info.chunks
    assert store.summary().articles == 5 and store.info.version == version.name


def test_other_model_is_refused_with_rebuild_message(seed_config):
    with pytest.raises(IndexUnavailable, match=r"built with model .* run `qa index build`"):
        open_store(seed_config.replace(model=dataclasses.replace(seed_config.model, name="some/other-model")))


def test_missing_index_says_to_build(tmp_path):
    with pytest.raises(IndexUnavailable, match="no index in .*qa index build"):
        open_store(make_config(tmp_path, tmp_path))


def _one_article_index(tmp_path, encoder):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("The harbour reopened on Monday after repairs. Ships returned at once.")
    cfg = make_config(tmp_path, data)
    build_index(cfg, encoder=encoder, progress=False)
    return cfg, current_version(cfg.index_dir)


def test_damaged_file_is_refused(tmp_path, encoder):
    cfg, version = _one_article_index(tmp_path, encoder)
    with (version / "vectors.faiss").open("r+b") as fh:
        fh.seek(60)
        fh.write(b"\xff\xff\xff\xff")
    with pytest.raises(IndexUnavailable, match=r"damaged \(checksum mismatch\): .*vectors.faiss"):
        open_store(cfg)


def test_checksums_are_not_recomputed_for_files_unchanged_since(tmp_path, encoder, monkeypatch):
    _, version = _one_article_index(tmp_path, encoder)
    time.sleep(0.2)  # past the racy window: the next full check leaves a stamp every file passes
    read_manifest(version)
    hashed = []
    real_digest = manifest_module.file_digest
    monkeypatch.setattr(manifest_module, "file_digest", lambda path: hashed.append(path.name) or real_digest(path))
    read_manifest(version)
    assert hashed == []  # every file's stat matched the stamp
    meta = version / "meta.sqlite"
    raw = bytearray(meta.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    meta.write_bytes(bytes(raw))  # same size, new content
    with pytest.raises(IndexUnavailable, match=r"damaged \(checksum mismatch\): .*meta.sqlite"):
        read_manifest(version)
    assert hashed == ["meta.sqlite"]  # only the rewritten file was hashed again


def test_memory_mapped_index_gives_the_same_scores(seed_config):
    from qa.config import VectorsConfig

    loaded = open_store(seed_config)
    mapped = open_store(seed_config.replace(vectors=VectorsConfig(mmap=True)))
    assert isinstance(mapped.bm25.model.scores["data"], np.memmap)
    assert not isinstance(loaded.bm25.model.scores["data"], np.memmap)
    query = ["khojali", "genocid", "commemor"]
    np.testing.assert_array_equal(mapped.bm25.scores(query), loaded.bm25.scores(query))


def test_rebuild_publishes_a_new_version_and_prunes(tmp_path, encoder):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("The harbour reopened on Monday after repairs.")
    cfg = make_config(tmp_path, data)
    names = [build_index(cfg, encoder=encoder, progress=False).version for _ in range(4)]
    assert current_version(cfg.index_dir).name == names[-1]
    kept = sorted(p.name for p in (cfg.index_dir / "versions").iterdir())
    assert kept == sorted(names[-cfg.index.keep_versions:])


def test_strict_build_fails_on_skip_and_keeps_index(tmp_path, encoder):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("The harbour reopened on Monday after repairs.")
    cfg = make_config(tmp_path, data)
    first = build_index(cfg, encoder=encoder, progress=False).version
    (data / "bad.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(IngestError, match="bad.txt"):
        build_index(cfg, encoder=encoder, strict=True, progress=False)
    assert current_version(cfg.index_dir).name == first
    report = build_index(cfg, encoder=encoder, progress=False)
    assert report.articles == 1 and [s.path for s in report.skipped] == ["bad.txt"]
