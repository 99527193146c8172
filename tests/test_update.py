"""Incremental update: only changed chunks are re-encoded, and the result equals a full rebuild."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np

from conftest import SEED_DATA, make_config, open_store
from qa.indexing.build import build_index


def index_contents(cfg):
    index = open_store(cfg)
    conn = sqlite3.connect(index.path / "meta.sqlite")
    chunks = conn.execute('SELECT chunk_id, doc_id, start, "end", text FROM chunks ORDER BY chunk_id').fetchall()
    ids = range(index.info.chunks)
    segments = [(c, index.sentences(row)[0]) for c, row in sorted(index.chunks(ids).items())]
    vectors = index.vectors.reconstruct_n(0, index.vectors.ntotal)
    return chunks, (segments, index.sentence_vectors(ids)), vectors


def test_update_reencodes_only_changes_and_matches_rebuild(tmp_path, encoder):
    data = tmp_path / "data"
    shutil.copytree(SEED_DATA, data)
    cfg = make_config(tmp_path / "a", data)
    first = build_index(cfg, encoder=encoder, progress=False, reuse=True)
    assert first.encoded == first.chunks  # empty cache: everything encoded

    changed = data / "003_ab7d4c11edc94891.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + " A sentence added at the end.", encoding="utf-8")
    (data / "000_d73af6087baa2691.txt").unlink()
    (data / "new.md").write_text("---\ntitle: New piece\n---\nA new article about the memorial in Baku.\n")
    update = build_index(cfg, encoder=encoder, progress=False, reuse=True)
    assert update.articles == 5
    assert 0 < update.encoded <= 3  # the changed tail of one article and the new one

    fresh = make_config(tmp_path / "b", data)
    rebuild = build_index(fresh, encoder=encoder, progress=False)
    assert rebuild.encoded == rebuild.chunks == update.chunks

    chunks_u, segs_u, vecs_u = index_contents(cfg)
    chunks_r, segs_r, vecs_r = index_contents(fresh)
    assert chunks_u == chunks_r
    assert segs_u[0] == segs_r[0]  # each chunk's sentences, by their offsets
    np.testing.assert_allclose(vecs_u, vecs_r, atol=1e-5)
    assert segs_u[1].keys() == segs_r[1].keys()
    for chunk_id, sentence_vectors in segs_u[1].items():
        np.testing.assert_allclose(sentence_vectors, segs_r[1][chunk_id], atol=1e-5)
    assert not any(c[1] == "000_d73af6087baa2691" for c in chunks_u)  # the deleted article is gone


def test_update_cli(runner, tmp_path):
    from qa.cli import cli

    data = tmp_path / "data"
    shutil.copytree(SEED_DATA, data)
    args = ["--data", str(data), "--index", str(tmp_path / "idx")]
    assert runner.invoke(cli, ["index", "build", *args]).exit_code == 0
    r = runner.invoke(cli, ["index", "update", *args])
    assert r.exit_code == 0, r.output
    assert "(0 encoded)" in r.stdout
