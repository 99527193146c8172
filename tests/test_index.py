"""The index folder describes itself, and an index the program cannot use is refused."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest

from qa.config import VectorsConfig
from qa.indexing.build import build_index
from qa.errors import IndexUnavailable, IngestError
from qa.models import Article, Chunk, Filters, Segment
from qa.storage.base import ArticleRecord, ChunkMeta, CorpusSummary, VersionContent
from qa.storage.local import LocalBackend
import qa.storage.local.manifest as manifest_module
from qa.storage.local.manifest import MANIFEST, read_manifest
from qa.storage.local.versions import current_version
from qa.text import terms
from conftest import make_config, open_store


def test_manifest_describes_the_build(seed_config):
    version = current_version(seed_config.index_dir)
    manifest = json.loads((version / MANIFEST).read_text())
    assert manifest["format_version"] == 3
    assert manifest["model"] == seed_config.model.name and manifest["dimension"] == 384
    assert manifest["counts"]["articles"] == 5 and manifest["counts"]["chunks"] > 5
    # The budget is capped by the model: 256 word pieces less [CLS] and [SEP].
    assert manifest["chunking"] == {"max_tokens": min(seed_config.chunking.max_tokens, 254),
                                    "overlap_sentences": 1, "header": True}
    assert len(manifest["corpus_fingerprint"]) == 64 and manifest["built_at"]
    assert {"vectors.faiss", "meta.sqlite", "bm25/terms.bin", "bm25/docs.npy", "bm25/scores.npy",
            "arrays/sentence_vectors.npy", "arrays/chunk_sentences.npy"} <= set(manifest["files"])
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


def test_each_chunks_stored_terms_are_those_of_its_text(seed_config):
    store = open_store(seed_config)
    ids = list(range(store.info.chunks))
    rows, stored = store.chunks(ids), store.terms(ids)
    assert set(stored) == set(rows) == set(ids)
    assert all(stored[c] == frozenset(terms(rows[c].text)) and stored[c] for c in ids)
    assert store.terms([store.info.chunks]) == {} and store.terms([]) == {}


def test_memory_mapped_index_gives_the_same_scores(seed_config):
    from qa.config import VectorsConfig

    loaded = open_store(seed_config)
    mapped = open_store(seed_config.replace(vectors=VectorsConfig(mmap=True)))
    # `vectors.mmap` maps the FAISS codes; BM25 and the ranking arrays are read the same way either way.
    vector = loaded.vectors.reconstruct(0)
    assert mapped.dense_top(vector, 5) == loaded.dense_top(vector, 5)
    query = ["khojali", "genocid", "commemor"]
    np.testing.assert_array_equal(mapped.lexical([query])[0].scores, loaded.lexical([query])[0].scores)


def test_a_question_and_its_clauses_asked_together_read_each_term_once(seed_config, monkeypatch):
    store, alone = open_store(seed_config), open_store(seed_config)
    question = ["khojali", "genocid", "commemor", "azerbaijan"]
    lists = [question, question[:2], question[2:]]
    assert len(store.bm25.term_ids(question)) == len(question)  # every term is in the seed corpus
    reads: list[int] = []
    postings = store.bm25.postings
    monkeypatch.setattr(store.bm25, "postings", lambda tid: reads.append(tid) or postings(tid))
    together = store.lexical(lists)
    assert [s.best() for s in together] == [alone.lexical([q])[0].best() for q in lists]
    for query, scored in zip(lists, together):
        np.testing.assert_array_equal(scored.scores, alone.lexical([query])[0].scores)
    assert reads == store.bm25.term_ids(question)


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


def _content(dim: int = 8) -> VersionContent:
    """Three hand-made articles (ids out of byte order, one without outlet, one without date)
    with random sentence and chunk vectors: what a build hands the backend."""
    rng = np.random.default_rng(3)
    specs = [("zeta", "Outlet A", "2023-10-02", 4), ("alpha", None, "2023-09-30", 3), ("Mid", "outlet a", None, 5),
             ("beta", "Outlet B", "2023-10-05", 2)]
    records, embedded = [], []
    for doc_id, source, date, n in specs:
        text = " ".join(f"{doc_id} sentence {i}." for i in range(n))
        starts = [text.index(f"sentence {i}.") - len(doc_id) - 1 for i in range(n)]
        segments = [Segment(s, s + len(f"{doc_id} sentence {i}.")) for i, s in enumerate(starts)]
        chunks = [Chunk(doc_id, segments[a].start, segments[b].end, text[segments[a].start:segments[b].end], a, b)
                  for a, b in [(0, min(1, n - 1)), (min(1, n - 1), n - 1)]]  # one sentence of overlap
        records.append(ArticleRecord(Article(doc_id, f"{doc_id}.txt", text, date=date, source=source), "0" * 64,
                                     segments, rng.standard_normal((n, dim)).astype(np.float32), chunks))
        embedded += [c.text for c in chunks]
    vectors = rng.standard_normal((len(embedded), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = {"model": "m", "dimension": dim, "built_at": "now", "chunking": {},
                "counts": {"articles": len(records), "chunks": len(embedded), "segments": 14}}
    return VersionContent(records, embedded, vectors, manifest)


def _written(tmp_path):
    content = _content()
    backend = LocalBackend(tmp_path / "index", VectorsConfig(), keep_versions=1)
    return content, backend.open(backend.write(content), model="m")


def test_ranking_arrays_give_back_what_the_build_wrote(tmp_path):
    content, store = _written(tmp_path)
    chunk_id = 0
    for record in content.articles:
        for chunk in record.chunks:
            row = store.chunks([chunk_id])[chunk_id]
            segments, vectors = store.sentences(row)
            assert segments == record.segments[chunk.seg_first:chunk.seg_last + 1]
            np.testing.assert_array_equal(vectors, record.segment_vectors[chunk.seg_first:chunk.seg_last + 1])
            np.testing.assert_array_equal(store.sentence_vectors([chunk_id])[chunk_id], vectors)
            a = record.article
            assert store.chunk_meta([chunk_id])[chunk_id] == ChunkMeta(a.doc_id, a.source, a.date)
            chunk_id += 1
    assert store.summary() == CorpusSummary(4, "2023-09-30", "2023-10-05", ["Outlet A", "Outlet B", "outlet a"],
                                            [1, 1, 1])


@pytest.mark.parametrize("where", [
    Filters(sources=("OUTLET A",)), Filters(date_from="2023-10-01"), Filters(date_to="2023-10-02"),
    Filters(doc_ids=("alpha", "Mid", "nope")), Filters(date_from="2023-10-01", sources=("outlet b", "outlet a")),
    Filters(sources=("nowhere",))])
def test_filters_pass_the_chunks_of_the_articles_they_name(tmp_path, where):
    content, store = _written(tmp_path)
    articles = [r.article for r in content.articles for _ in r.chunks]
    want = [i for i, a in enumerate(articles)
            if (not where.sources or (a.source or "").lower() in {s.lower() for s in where.sources})
            and (not where.date_from or (a.date is not None and a.date >= where.date_from))
            and (not where.date_to or (a.date is not None and a.date <= where.date_to))
            and (not where.doc_ids or a.doc_id in where.doc_ids)]
    assert store._ids(where).tolist() == want
    assert set(store.dense_top(content.vectors[0], 20, where)) == set(want)


def test_an_index_of_the_previous_format_says_to_rebuild(seed_config):
    version = current_version(seed_config.index_dir)
    manifest = json.loads((version / MANIFEST).read_text())
    try:
        (version / MANIFEST).write_text(json.dumps(dict(manifest, format_version=2)))  # before stored terms
        with pytest.raises(IndexUnavailable, match=r"format version 2, this program reads 3; run `qa index build`"):
            open_store(seed_config)
    finally:
        (version / MANIFEST).write_text(json.dumps(manifest))


def _replace_file(version, name: str, write) -> None:
    """Rewrite one file of a version and record its new checksum, as a faulty build would."""
    write(version / name)
    manifest = json.loads((version / MANIFEST).read_text())
    manifest["files"][name] = manifest_module.file_digest(version / name)
    (version / MANIFEST).write_text(json.dumps(manifest))
    (version / manifest_module.VERIFIED).unlink(missing_ok=True)


@pytest.mark.parametrize("name,write,message", [
    ("arrays/chunk_article.npy", lambda p: np.save(p, np.zeros(3, np.int32)), "do not match each other"),
    ("bm25/params.json", lambda p: p.write_text('{"num_docs": 3}'), "another chunk count"),
    ("bm25/docs.npy", lambda p: np.save(p, np.zeros(1, np.int32)), "do not match each other"),
    ("arrays/sentence_spans.npy", lambda p: np.save(p, np.zeros((1, 2), np.int64)), "do not match each other"),
    ("arrays/doc_ids.bin", lambda p: p.write_bytes(b"x"), "its offsets say"),
    ("arrays/sentence_vectors.npy", lambda p: p.write_bytes(p.read_bytes()[:-1]), "not a plain array"),
])
def test_arrays_that_disagree_are_refused(tmp_path, name, write, message):
    content = _content()
    backend = LocalBackend(tmp_path / "index", VectorsConfig(), keep_versions=1)
    version = tmp_path / "index" / "versions" / backend.write(content)
    _replace_file(version, name, write)
    with pytest.raises(IndexUnavailable, match=f"{message}.*run `qa index build`"):
        backend.open(version.name, model="m")
