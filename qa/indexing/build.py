"""The build: articles -> a plan of chunks -> vectors -> a new index version, published atomically.

Each step is a function of its own: `plan` (sentences and chunks in the model's tokens),
`embed` (one forward pass per chunk, its sentences' vectors pooled from it, unchanged chunks
taken from the embedding cache), and the backend's `write`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from qa.config import Config
from qa.encoder import Encoder
from qa.errors import IngestError
from qa.indexing.chunk import chunk_article, header_line
from qa.indexing.ingest import Corpus, read_corpus
from qa.models import Article, Chunk, Segment, Skipped
from qa.storage import open_backend
from qa.storage.base import ArticleRecord, EmbeddingCache, VersionContent


@dataclass
class BuildReport:
    version: str
    articles: int
    chunks: int
    seconds: float
    skipped: list[Skipped] = field(default_factory=list)
    encoded: int = 0  # chunks that went through the model (the others came from the cache)


@dataclass(frozen=True)
class ChunkInput:
    """What the model sees for one chunk: the header line and the chunk, with its sentences'
    spans inside that text (for late pooling)."""

    article: int  # position in the plan's articles
    chunk: Chunk
    text: str
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class BuildPlan:
    articles: list[Article]
    segments: list[list[Segment]]  # per article
    chunks: list[list[Chunk]]  # per article
    inputs: list[ChunkInput]  # every chunk, in chunk-id order
    chunking: dict


@dataclass(frozen=True)
class Embedded:
    chunks: np.ndarray  # one row per chunk input
    segments: list[np.ndarray]  # per article, one row per sentence
    encoded: int


def chunk_settings(cfg: Config, encoder: Encoder) -> dict:
    """The chunking a build with `cfg` records in its manifest (the budget capped by the
    model), so a caller can tell whether an existing index was built that way."""
    return {"max_tokens": min(cfg.chunking.max_tokens, encoder.max_seq_length - encoder.special_tokens),
            "overlap_sentences": cfg.chunking.overlap_sentences, "header": cfg.chunking.header}


def plan(articles: list[Article], encoder: Encoder, cfg: Config) -> BuildPlan:
    """Sentences and chunks of every article, within the model's budget once the header is added."""
    chunking = chunk_settings(cfg, encoder)
    headers = [header_line(a) if cfg.chunking.header else "" for a in articles]
    segments, chunks, inputs = [], [], []
    for ai, (article, header, used) in enumerate(zip(articles, headers, encoder.count(headers))):
        segs, own = chunk_article(article, encoder, max(16, chunking["max_tokens"] - used),
                                  cfg.chunking.overlap_sentences)
        segments.append(segs)
        chunks.append(own)
        for c in own:
            shift = len(header) - c.start
            spans = tuple((s.start + shift, s.end + shift) for s in segs[c.seg_first:c.seg_last + 1])
            inputs.append(ChunkInput(ai, c, header + c.text, spans))
    return BuildPlan(articles, segments, chunks, inputs, chunking)


def cache_key(encoder: Encoder, item: ChunkInput) -> str:
    """A chunk's vectors depend on the model, its text and its sentences' spans, nothing else."""
    spans = list(item.spans)
    return hashlib.sha256(f"{encoder.name}\0{encoder.dim}\0{item.text}\0{spans}".encode("utf-8")).hexdigest()


def embed(build: BuildPlan, encoder: Encoder, cache: EmbeddingCache, *, reuse: bool = False,
          progress: bool = False) -> Embedded:
    """Chunk and sentence vectors; with `reuse` unchanged chunks come from the cache."""
    keys = [cache_key(encoder, item) for item in build.inputs]
    found = cache.get(keys) if reuse else {}
    todo = [i for i, key in enumerate(keys) if key not in found]
    bar = tqdm(total=len(keys), initial=len(keys) - len(todo), unit="chunk", desc="embedding", disable=not progress)
    step = max(encoder.batch_size * 8, 64)
    for lo in range(0, len(todo), step):
        batch = todo[lo:lo + step]
        vecs, per_chunk = encoder.encode_chunks([build.inputs[i].text for i in batch],
                                                [list(build.inputs[i].spans) for i in batch])
        fresh = [(keys[i], vecs[j], per_chunk[j]) for j, i in enumerate(batch)]
        cache.put(fresh)
        found.update((key, (vec, svecs)) for key, vec, svecs in fresh)
        bar.update(len(batch))
    bar.close()
    cache.keep_only(keys)
    return _assemble(build, [found[k] for k in keys], encoder.dim, len(todo))


def _assemble(build: BuildPlan, vectors: list[tuple[np.ndarray, np.ndarray]], dim: int, encoded: int) -> Embedded:
    """Chunk vectors in id order, and each article's sentence vectors (a sentence shared by two
    chunks keeps the first one's)."""
    chunk_vecs = np.zeros((len(build.inputs), dim), dtype=np.float32)
    seg_vecs = [np.zeros((len(segs), dim), dtype=np.float32) for segs in build.segments]
    done = [np.zeros(len(segs), dtype=bool) for segs in build.segments]
    for i, (item, (vec, svecs)) in enumerate(zip(build.inputs, vectors)):
        chunk_vecs[i] = vec
        rows = np.arange(item.chunk.seg_first, item.chunk.seg_last + 1)
        new = ~done[item.article][rows]
        seg_vecs[item.article][rows[new]] = svecs[new]
        done[item.article][rows] = True
    return Embedded(chunk_vecs, seg_vecs, encoded)


def content(build: BuildPlan, embedded: Embedded, encoder: Encoder, skipped: int) -> VersionContent:
    """What the backend writes: articles with their sentences and chunks, and the manifest."""
    fingerprint = hashlib.sha256()
    records = []
    for article, segs, svecs, chunks in zip(build.articles, build.segments, embedded.segments, build.chunks):
        digest = hashlib.sha256(article.text.encode("utf-8")).hexdigest()
        fingerprint.update(f"{article.doc_id}\0{digest}\n".encode())
        records.append(ArticleRecord(article, digest, segs, svecs, chunks))
    manifest = {
        "model": encoder.name, "model_backend": encoder.backend, "dimension": encoder.dim,
        "max_seq_length": encoder.max_seq_length, "chunking": build.chunking,
        "counts": {"articles": len(records), "chunks": len(build.inputs),
                   "segments": sum(len(s) for s in build.segments), "skipped": skipped},
        "corpus_fingerprint": fingerprint.hexdigest(),
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return VersionContent(records, [item.text for item in build.inputs], embedded.chunks, manifest)


def read_articles(cfg: Config, strict: bool) -> Corpus:
    """The readable articles of `cfg.data_dir`; with `strict` any skipped file is an error."""
    corpus = read_corpus(cfg.data_dir, max_file_bytes=cfg.ingest.max_file_bytes)
    if strict and corpus.skipped:
        first = corpus.skipped[0]
        raise IngestError(f"{len(corpus.skipped)} file(s) skipped with --strict; first: {first.path}: {first.reason}")
    if not corpus.articles:
        raise IngestError(f"no readable articles in {cfg.data_dir}")
    return corpus


def build_index(cfg: Config, *, encoder: Encoder | None = None, strict: bool = False,
                progress: bool = True, reuse: bool = False) -> BuildReport:
    """Read `cfg.data_dir`, embed it, and publish a new version in the configured storage.

    With `reuse` (qa index update) chunks whose embedded text is unchanged take their
    vectors from the cache instead of the model; the result is the same index.
    """
    started = time.perf_counter()
    corpus = read_articles(cfg, strict)
    encoder = encoder or Encoder(cfg.model)
    backend = open_backend(cfg)
    with backend.building(encoder.dim) as cache:
        build = plan(corpus.articles, encoder, cfg)
        embedded = embed(build, encoder, cache, reuse=reuse, progress=progress)
        version = backend.write(content(build, embedded, encoder, len(corpus.skipped)))
    return BuildReport(version, len(build.articles), len(build.inputs), time.perf_counter() - started,
                       corpus.skipped, encoded=embedded.encoded)
