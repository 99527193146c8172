"""The build pipeline: articles -> chunks -> vectors -> a new index version, published atomically."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.storage.local.cache import EmbeddingCache
from qa.indexing.chunk import chunk_article, header_line
from qa.config import Config
from qa.encoder import Encoder
from qa.errors import IngestError
from qa.indexing.ingest import read_corpus
from qa.storage.local.bm25 import BM25_DIR, build_bm25
from qa.storage.local.manifest import write_manifest
from qa.models import Skipped
from qa.storage.local.meta import META_FILE, MetaWriter
from qa.storage.local.vectors import VECTORS_FILE, build_vectors, describe, save_vectors
from qa.storage.local.versions import build_lock, new_version_dir, publish


@dataclass
class BuildReport:
    version: str
    articles: int
    chunks: int
    seconds: float
    skipped: list[Skipped] = field(default_factory=list)
    encoded: int = 0  # chunks that went through the model (the others came from the cache)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_settings(cfg: Config, encoder: Encoder) -> dict:
    """The chunking a build with `cfg` records in its manifest (the budget capped by the
    model), so a caller can tell whether an existing index was built that way."""
    return {"max_tokens": min(cfg.chunking.max_tokens, encoder.max_seq_length - encoder.special_tokens),
            "overlap_sentences": cfg.chunking.overlap_sentences, "header": cfg.chunking.header}


def build_index(cfg: Config, *, encoder: Encoder | None = None, strict: bool = False,
                progress: bool = True, reuse: bool = False) -> BuildReport:
    """Read `cfg.data_dir`, embed it, and publish a new version in `cfg.index_dir`.

    With `reuse` (qa index update) chunks whose embedded text is unchanged take their
    vectors from the cache instead of the model; the result is the same index.
    """
    started = time.perf_counter()
    corpus = read_corpus(cfg.data_dir, max_file_bytes=cfg.ingest.max_file_bytes)
    if strict and corpus.skipped:
        first = corpus.skipped[0]
        raise IngestError(f"{len(corpus.skipped)} file(s) skipped with --strict; first: {first.path}: {first.reason}")
    if not corpus.articles:
        raise IngestError(f"no readable articles in {cfg.data_dir}")
    encoder = encoder or Encoder(cfg.model)
    chunking = chunk_settings(cfg, encoder)
    budget = chunking["max_tokens"]

    with build_lock(cfg.index_dir):
        version = new_version_dir(cfg.index_dir)
        headers = [header_line(a) if cfg.chunking.header else "" for a in corpus.articles]
        header_tokens = encoder.count(headers)
        plans = [(a, *chunk_article(a, encoder, max(16, budget - n), cfg.chunking.overlap_sentences))
                 for a, n in zip(corpus.articles, header_tokens)]
        flat = [(ai, c) for ai, (_, _, chunks) in enumerate(plans) for c in chunks]
        seg_vecs = [np.zeros((len(segs), encoder.dim), dtype=np.float32) for _, segs, _ in plans]
        seg_done = [np.zeros(len(segs), dtype=bool) for _, segs, _ in plans]
        chunk_vecs = np.zeros((len(flat), encoder.dim), dtype=np.float32)

        inputs = [headers[ai] + c.text for ai, c in flat]
        spans = []  # each chunk's sentences, as offsets in its embedded text
        for ai, c in flat:
            shift = len(headers[ai]) - c.start
            spans.append([(seg.start + shift, seg.end + shift) for seg in plans[ai][1][c.seg_first:c.seg_last + 1]])
        cache = EmbeddingCache(cfg.index_dir, encoder.name, encoder.dim)
        keys = [cache.key(f"{text}\0{sp}") for text, sp in zip(inputs, spans)]
        cached = cache.get(keys) if reuse else {}
        todo = [i for i, key in enumerate(keys) if key not in cached]
        bar = tqdm(total=len(flat), initial=len(flat) - len(todo), unit="chunk", desc="embedding",
                   disable=not progress)
        step = max(encoder.batch_size * 8, 64)
        for lo in range(0, len(todo), step):
            batch = todo[lo:lo + step]
            vecs, per_chunk = encoder.encode_chunks([inputs[i] for i in batch], [spans[i] for i in batch])
            fresh = [(keys[i], vecs[j], per_chunk[j]) for j, i in enumerate(batch)]
            cache.put(fresh)
            cached.update((key, (vec, svecs)) for key, vec, svecs in fresh)
            bar.update(len(batch))
        bar.close()
        cache.keep_only(keys)
        cache.close()

        for i, (ai, c) in enumerate(flat):
            chunk_vecs[i], svecs = cached[keys[i]]
            for k, s in enumerate(range(c.seg_first, c.seg_last + 1)):
                if not seg_done[ai][s]:  # a sentence shared by two chunks takes the first one's vector
                    seg_vecs[ai][s] = svecs[k]
                    seg_done[ai][s] = True

        (version / BM25_DIR).mkdir()
        bm25_files = build_bm25(inputs, version / BM25_DIR)
        vectors = build_vectors(chunk_vecs, cfg.vectors)
        save_vectors(vectors, version / VECTORS_FILE)
        writer = MetaWriter(version / META_FILE)
        fingerprint = hashlib.sha256()
        next_id = 0
        for ai, (article, segments, chunks) in enumerate(plans):
            digest = _sha256(article.text)
            fingerprint.update(f"{article.doc_id}\0{digest}\n".encode())
            writer.add_article(article, digest)
            writer.add_chunks(next_id, chunks)
            writer.add_segments(article.doc_id, segments, seg_vecs[ai])
            next_id += len(chunks)
        writer.close()

        write_manifest(version, {
            "version": version.name,
            "model": encoder.name,
            "model_backend": encoder.backend,
            "dimension": encoder.dim,
            "max_seq_length": encoder.max_seq_length,
            "chunking": chunking,
            "vectors": describe(vectors),
            "counts": {"articles": len(plans), "chunks": len(flat),
                       "segments": int(sum(len(s) for _, s, _ in plans)), "skipped": len(corpus.skipped)},
            "corpus_fingerprint": fingerprint.hexdigest(),
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }, files=[VECTORS_FILE, META_FILE, *bm25_files])
        publish(cfg.index_dir, version, keep=cfg.index.keep_versions)
    return BuildReport(version.name, len(plans), len(flat), time.perf_counter() - started, corpus.skipped,
                       encoded=len(todo))
