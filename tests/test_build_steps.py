"""The build's steps, each alone: plan (chunks and their sentence spans), embed (vectors, the
cache) and assemble, content (what the backend writes). The real model; no index on disk."""

from __future__ import annotations

import ctypes
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from qa.config import ChunkingConfig, Config
from qa.encoder import _glibc, reused_memory
from qa.indexing.build import LocalEncoding, assemble, content, embed, plan, plan_and_embed
from qa.models import Article

TEXT = ("The harbour reopened on Monday after repairs. Ships returned at once. " * 30
        + "The mayor thanked the workers.")
ARTICLES = [Article("a", "a.txt", TEXT, title="Harbour", source="Alpha", date="2024-03-02"),
            Article("b", "b.txt", "A short note about the bridge.", source="Beta")]


class DictCache:
    """The EmbeddingCache interface in a dict."""

    def __init__(self):
        self.items: dict = {}

    def get(self, keys):
        return {k: self.items[k] for k in keys if k in self.items}

    def put(self, items):
        self.items.update((k, (c, s)) for k, c, s in items)

    def keep_only(self, keys):
        self.items = {k: v for k, v in self.items.items() if k in set(keys)}


@pytest.fixture(scope="module")
def built(encoder):
    cfg = Config(chunking=ChunkingConfig(max_tokens=64))
    return plan(ARTICLES, encoder, cfg)


def test_plan_spans_are_the_sentences_inside_the_embedded_text(built):
    assert len(built.chunks[0]) > 3 and len(built.chunks[1]) == 1  # the long article is cut
    assert built.chunking["max_tokens"] == 64
    for item in built.inputs:
        article = built.articles[item.article]
        assert item.text.endswith(item.chunk.text) and item.text.startswith(article.title or article.source)
        segments = built.segments[item.article][item.chunk.seg_first:item.chunk.seg_last + 1]
        assert [item.text[s:e] for s, e in item.spans] == [article.text[g.start:g.end] for g in segments]


def vectors(built, encoder, cache, reuse=False):
    return assemble(built, embed(built.inputs, LocalEncoding(encoder), cache, reuse=reuse), encoder.dim)


def test_embed_fills_every_vector_and_reuses_the_cache(built, encoder):
    cache = DictCache()
    first = vectors(built, encoder, cache)
    assert first.encoded == len(built.inputs) == len(first.chunks)
    # The repeated text makes identical chunks: one cache entry each.
    assert len(cache.items) == len({(i.text, i.spans) for i in built.inputs}) < len(built.inputs)
    np.testing.assert_allclose(np.linalg.norm(first.chunks, axis=1), 1.0, rtol=1e-5)
    for segs, vecs in zip(built.segments, first.segments):
        assert vecs.shape == (len(segs), encoder.dim) and np.all(np.linalg.norm(vecs, axis=1) > 0.99)
    again = vectors(built, encoder, cache, reuse=True)
    assert again.encoded == 0
    np.testing.assert_array_equal(again.chunks, first.chunks)
    assert vectors(built, encoder, cache).encoded == len(built.inputs)  # no reuse: all again


def test_content_is_what_the_backend_writes(built, encoder):
    embedded = vectors(built, encoder, DictCache())
    written = content(built, embedded, encoder, skipped=2)
    counts = written.manifest["counts"]
    assert counts == {"articles": 2, "chunks": len(built.inputs), "segments": sum(map(len, built.segments)),
                      "skipped": 2}
    assert written.embedded == [item.text for item in built.inputs] and written.vectors is embedded.chunks
    assert [r.article.doc_id for r in written.articles] == ["a", "b"] and len(written.articles[0].sha256) == 64


def test_planning_ahead_in_a_second_process_gives_the_same_plan_and_vectors(built, encoder, monkeypatch):
    """Past PLAN_AHEAD articles the plan is made in another process while this one encodes."""
    monkeypatch.setattr("qa.indexing.plan.PLAN_AHEAD", 1)
    cfg = Config(chunking=ChunkingConfig(max_tokens=64))
    ahead, embedded = plan_and_embed(ARTICLES, LocalEncoding(encoder), cfg, DictCache(), reuse=False, progress=False)
    assert ahead == built
    np.testing.assert_array_equal(embedded.chunks, vectors(built, encoder, DictCache()).chunks)


def test_planning_begun_from_the_model_files_is_kept_once_the_model_loads(built, encoder, monkeypatch):
    """The build starts planning from the model folder's files before loading the model; their
    planner is the loaded model's own, so that planning is used, not made again."""
    from qa.indexing.build import early_planning, planner

    monkeypatch.setattr("qa.indexing.plan.PLAN_AHEAD", 1)
    cfg = Config(chunking=ChunkingConfig(max_tokens=64))
    with closing(early_planning(ARTICLES, cfg, ray=False)) as early:
        assert early.planner == planner(encoder, cfg)
        monkeypatch.setattr("qa.indexing.build.Planning", None)  # a second planning would fail
        ahead, _ = plan_and_embed(ARTICLES, LocalEncoding(encoder), cfg, DictCache(), reuse=False, progress=False,
                                  early=early)
    assert ahead == built


class Stale:
    """Planning begun with another planner than the loaded model's; records being stopped."""

    def __init__(self, planner):
        self.planner, self.closed = planner, False

    def close(self):
        self.closed = True


def test_planning_begun_with_another_planner_is_stopped_and_made_again(built, encoder):
    from qa.indexing.build import planner

    cfg = Config(chunking=ChunkingConfig(max_tokens=64))
    stale = Stale(planner(encoder, Config(chunking=ChunkingConfig(max_tokens=32))))
    ahead, _ = plan_and_embed(ARTICLES, LocalEncoding(encoder), cfg, DictCache(), reuse=False, progress=False,
                              early=stale)
    assert stale.closed and ahead == built


def test_the_model_folder_gives_the_loaded_models_limits_or_nothing(encoder, tmp_path):
    """Whatever the files do not say leaves the planning to wait for the model."""
    from qa.indexing.plan import ModelFolder

    folder = ModelFolder.read(encoder.path)
    assert (folder.max_seq_length, folder.special_tokens) == (encoder.max_seq_length, encoder.special_tokens)
    assert ModelFolder.read(str(tmp_path / "absent")) is None

    def copy(broken: str = "", text: str = "") -> ModelFolder | None:
        for name in ("modules.json", "sentence_bert_config.json", "tokenizer.json"):
            (tmp_path / name).write_bytes((Path(encoder.path) / name).read_bytes())
        if broken:
            (tmp_path / broken).write_text(text)
        return ModelFolder.read(str(tmp_path))

    assert copy() == folder
    assert copy("tokenizer.json", '{"version": "1.0"}') is None  # JSON, but no tokenizer
    assert copy("sentence_bert_config.json", "{}") is None  # no token limit
    assert copy("modules.json", "[]") is None


def test_the_planning_tokenizer_counts_as_the_models(encoder):
    """Plans are made with the tokenizer's JSON alone (no transformers in the planning process)."""
    from qa.indexing.build import planner

    tokenizer = planner(encoder, Config()).tokenizer
    texts = [TEXT, "Ünïcode naïve café – 1,275 people; U.S.-based", "", "supercalifragilisticexpialidocious"]
    assert tokenizer.count(texts) == encoder.count(texts)
    assert [tokenizer.offsets(t) for t in texts] == [encoder.offsets(t) for t in texts]


def test_several_planning_processes_keep_the_articles_order(encoder, monkeypatch):
    """Beside a GPU or a cluster the plan is made by several processes; it comes back in order."""
    from qa.indexing.build import planner
    from qa.indexing.plan import Planning

    monkeypatch.setattr("qa.indexing.plan.PLAN_AHEAD", 1)
    one = planner(encoder, Config(chunking=ChunkingConfig(max_tokens=64)))
    articles = ARTICLES * 4
    with closing(Planning(articles, one, processes=2)) as planning:
        assert list(planning) == list(map(one, enumerate(articles)))
        assert not planning.busy  # every plan is made once the last is read


def test_a_small_corpus_is_planned_here_and_never_busy(encoder):
    from qa.indexing.build import planner
    from qa.indexing.plan import Planning

    one = planner(encoder, Config(chunking=ChunkingConfig(max_tokens=64)))
    with closing(Planning(ARTICLES, one)) as planning:
        assert not planning.busy and list(planning) == list(map(one, enumerate(ARTICLES)))


class Busy:
    """A Planning stand-in whose planners finish after `batches` questions of `busy`."""

    def __init__(self, batches: int):
        self.left = batches

    @property
    def busy(self) -> bool:
        self.left -= 1
        return self.left >= 0


def test_a_cpu_encoder_leaves_the_planner_a_core_while_it_plans(built, encoder):
    """Each batch asks how many threads it may use: a core fewer while the planner works, all of
    them after, and the vectors are those of an encoder that never shared."""
    import torch

    local, cores = LocalEncoding(encoder), torch.get_num_threads()
    assert local.threads(None, cores) is None and local.threads(Busy(1), 1) is None
    seen: list[int] = []
    threads = local.threads(Busy(2), 2)
    inputs = built.inputs * -(-3 * encoder.batch_size // len(built.inputs))  # three batches at least
    texts, spans = [i.text for i in inputs], [list(i.spans) for i in inputs]
    shared = encoder.encode_chunks(texts, spans, lambda: seen.append(threads()) or seen[-1])
    assert seen[:3] == [1, 1, 2] and len(seen) == -(-len(inputs) // encoder.batch_size)
    alone = encoder.encode_chunks(texts, spans)
    np.testing.assert_array_equal(shared[0], alone[0])
    assert all(np.array_equal(a, b) for a, b in zip(shared[1], alone[1]))
    torch.set_num_threads(cores)


def test_the_encoding_gives_back_the_cores_when_it_ends(built, encoder):
    import torch

    cores = torch.get_num_threads()
    todo = [(str(n), item) for n, item in enumerate(built.inputs)]
    assert len(list(LocalEncoding(encoder)(todo, Busy(10**6)))) == 1  # planners busy throughout
    assert torch.get_num_threads() == cores



class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _mapped_while_holding(size: int = 25_000_000) -> int:
    """Bytes glibc holds in blocks mapped for themselves while an array of `size` floats lives."""
    mallinfo2 = _glibc().mallinfo2
    mallinfo2.restype = _Mallinfo2
    array = np.ones(size, dtype=np.float32)
    held = mallinfo2().hblkhd
    del array
    return held


@pytest.mark.skipif(_glibc() is None, reason="malloc is not glibc's")
def test_encoding_takes_large_blocks_from_the_heap_and_gives_the_defaults_back():
    """glibc maps a 100 MB block for itself (fresh pages each time, each one faulted in);
    inside `reused_memory` it comes from the heap, where the next batch reuses it."""
    assert _mapped_while_holding() >= 100_000_000
    with reused_memory("cpu"):
        assert _mapped_while_holding() < 100_000_000
    assert _mapped_while_holding() >= 100_000_000
    with reused_memory("cuda"):  # a GPU's tensors are not in this heap: nothing changes
        assert _mapped_while_holding() >= 100_000_000
