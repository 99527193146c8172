"""The build: articles -> a plan of chunks -> vectors -> a new index version, published atomically.

Each step is a function of its own: `plan` (sentences and chunks in the model's tokens, made in a
second process while this one encodes: qa/indexing/plan.py), `embed` (one forward pass per chunk,
its sentences' vectors pooled from it, unchanged chunks taken from the embedding cache; in this
process or on a Ray cluster: qa/indexing/distributed.py), and the backend's `write`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np
from tqdm import tqdm

from qa.config import Config
from qa.encoder import Encoder, ensure_query_export, resolve_device, resolve_model, reused_memory, use_threads
from qa.errors import IngestError
from qa.indexing.ingest import Corpus, read_corpus
from qa.indexing.plan import (ArticlePlan, BuildPlan, ChunkInput, ModelFolder, Planner, Planning, PlanTokenizer,
                              planning_processes)
from qa.models import Article, Skipped
from qa.storage import open_backend
from qa.storage.base import ArticleRecord, EmbeddingCache, VersionContent

# Encoded chunks: their cache keys, their vectors, and each one's sentence vectors.
Encoded = tuple[list[str], np.ndarray, list[np.ndarray]]
LOOKUP = 256  # chunks looked up in the embedding cache at once


@dataclass
class BuildReport:
    version: str
    articles: int
    chunks: int
    seconds: float
    skipped: list[Skipped] = field(default_factory=list)
    encoded: int = 0  # chunks that went through the model (the others came from the cache)


@dataclass(frozen=True)
class Embedded:
    chunks: np.ndarray  # one row per chunk input
    segments: list[np.ndarray]  # per article, one row per sentence
    encoded: int
    device: str  # where the model ran: recorded in the manifest


@dataclass(frozen=True)
class ChunkVectors:
    """What `embed` gives: every chunk's vectors by cache key, and the keys in chunk-id order."""

    by_key: dict[str, tuple[np.ndarray, np.ndarray]]
    keys: list[str]
    encoded: int
    device: str


class ChunkEncoding(Protocol):
    """Turns (cache key, chunk input) pairs into vectors, yielding them as batches finish."""

    encoder: Encoder  # this process's: the model's name and dimension, the tokenizer planning counts with
    device: str
    planners: int  # processes that plan articles while this encodes

    def __call__(self, todo: Iterable[tuple[str, ChunkInput]], planning: Planning | None = None) -> Iterator[Encoded]:
        """`planning`: the processes making the plan `todo` comes from, while they still run."""


def batches(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of `size` items (the last shorter), taken lazily: a stream stays a stream."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


@dataclass(frozen=True)
class LocalEncoding:
    """Encodes in this process, a step of chunks at a time, as soon as the plan has that many."""

    encoder: Encoder

    @property
    def device(self) -> str:
        return self.encoder.device

    @property
    def planners(self) -> int:
        return planning_processes(beside_cpu=self.device == "cpu")

    @property
    def step(self) -> int:
        """Chunks per `encode_chunks` call (sorted by length inside it, as `encode` sorts)."""
        return max(self.encoder.batch_size * 8, 64)

    def threads(self, planning: Planning | None, cores: int) -> Callable[[], int] | None:
        """Torch's threads for each batch: on a CPU, a core fewer while the planners run. Beside a
        planner on a core of their own, torch's threads wait for each other at every operation;
        leaving it that core costs less (bench/notes.md). Vectors do not change."""
        if planning is None or self.device != "cpu" or self.encoder.backend != "torch" or cores <= self.planners:
            return None
        return lambda: cores - self.planners if planning.busy else cores

    def __call__(self, todo: Iterable[tuple[str, ChunkInput]], planning: Planning | None = None) -> Iterator[Encoded]:
        import torch

        cores = torch.get_num_threads()
        threads = self.threads(planning, cores)
        try:
            with reused_memory(self.device):
                for batch in batches(todo, self.step):
                    vecs, per_chunk = self.encoder.encode_chunks([i.text for _, i in batch],
                                                                 [list(i.spans) for _, i in batch], threads)
                    yield [k for k, _ in batch], vecs, per_chunk
        finally:
            use_threads(cores)


def chunk_settings(cfg: Config, model: Encoder | ModelFolder) -> dict:
    """The chunking a build with `cfg` records in its manifest (the budget capped by the
    model), so a caller can tell whether an existing index was built that way."""
    return {"max_tokens": min(cfg.chunking.max_tokens, model.max_seq_length - model.special_tokens),
            "overlap_sentences": cfg.chunking.overlap_sentences, "header": cfg.chunking.header}


def planner(encoder: Encoder, cfg: Config) -> Planner:
    return Planner(PlanTokenizer(encoder.tokenizer.backend_tokenizer.to_str()), chunk_settings(cfg, encoder))


def early_planning(articles: list[Article], cfg: Config, *, ray: bool) -> Planning | None:
    """Planning begun before the model loads, from the tokenizer and limits in the model's files: the
    model's imports and weights take seconds of one core while the others wait. None where the
    files do not say (`plan_and_embed` then plans once the model is loaded)."""
    folder = ModelFolder.read(resolve_model(cfg.model))
    if folder is None:
        return None
    beside_cpu = not ray and resolve_device(cfg.model.device, cfg.model.backend) == "cpu"
    return Planning(articles, Planner(folder.tokenizer, chunk_settings(cfg, folder)), planning_processes(beside_cpu))


def plan(articles: list[Article], encoder: Encoder, cfg: Config) -> BuildPlan:
    """Sentences and chunks of every article, within the model's budget once the header is added."""
    one = planner(encoder, cfg)
    return BuildPlan.of(articles, list(map(one, enumerate(articles))), one.chunking)


def cache_key(encoder: Encoder, item: ChunkInput) -> str:
    """A chunk's vectors depend on the model, its text and its sentences' spans, nothing else."""
    spans = list(item.spans)
    return hashlib.sha256(f"{encoder.name}\0{encoder.dim}\0{item.text}\0{spans}".encode("utf-8")).hexdigest()


def embed(inputs: Iterable[ChunkInput], encoding: ChunkEncoding, cache: EmbeddingCache, *, reuse: bool = False,
          progress: bool = False, planning: Planning | None = None) -> ChunkVectors:
    """Vectors of every chunk input, taken as the plan makes them (`planning`, while it runs); with
    `reuse` chunks already in the cache are not encoded again (`qa index update`)."""
    keys: list[str] = []
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bar = tqdm(unit="chunk", desc="embedding", disable=not progress)

    def todo() -> Iterator[tuple[str, ChunkInput]]:
        for batch in batches(inputs, LOOKUP):
            batch_keys = [cache_key(encoding.encoder, item) for item in batch]
            keys.extend(batch_keys)
            cached = cache.get(batch_keys) if reuse else {}
            found.update(cached)
            bar.update(len(cached))
            yield from ((k, item) for k, item in zip(batch_keys, batch) if k not in cached)

    encoded = 0
    for batch_keys, vecs, per_chunk in encoding(todo(), planning):
        fresh = list(zip(batch_keys, vecs, per_chunk))
        cache.put(fresh)
        found.update((key, (vec, svecs)) for key, vec, svecs in fresh)
        encoded += len(fresh)
        bar.update(len(fresh))
    bar.close()
    cache.keep_only(keys)
    return ChunkVectors(found, keys, encoded, encoding.device)


def assemble(build: BuildPlan, vectors: ChunkVectors, dim: int) -> Embedded:
    """Chunk vectors in id order, and each article's sentence vectors (a sentence shared by two
    chunks keeps the first one's)."""
    chunk_vecs = np.zeros((len(build.inputs), dim), dtype=np.float32)
    seg_vecs = [np.zeros((len(segs), dim), dtype=np.float32) for segs in build.segments]
    done = [np.zeros(len(segs), dtype=bool) for segs in build.segments]
    for i, (item, key) in enumerate(zip(build.inputs, vectors.keys)):
        vec, svecs = vectors.by_key[key]
        chunk_vecs[i] = vec
        rows = np.arange(item.chunk.seg_first, item.chunk.seg_last + 1)
        new = ~done[item.article][rows]
        seg_vecs[item.article][rows[new]] = svecs[new]
        done[item.article][rows] = True
    return Embedded(chunk_vecs, seg_vecs, vectors.encoded, vectors.device)


def content(build: BuildPlan, embedded: Embedded, encoder: Encoder, skipped: int) -> VersionContent:
    """What the backend writes: articles with their sentences and chunks, and the manifest."""
    fingerprint = hashlib.sha256()
    records = []
    for article, segs, svecs, chunks in zip(build.articles, build.segments, embedded.segments, build.chunks):
        digest = hashlib.sha256(article.text.encode("utf-8")).hexdigest()
        fingerprint.update(f"{article.doc_id}\0{digest}\n".encode())
        records.append(ArticleRecord(article, digest, segs, svecs, chunks))
    manifest = {
        "model": encoder.name, "model_backend": encoder.backend, "model_device": embedded.device,
        "dimension": encoder.dim,
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


def _inputs(plans: Iterable[ArticlePlan], kept: list[ArticlePlan]) -> Iterator[ChunkInput]:
    """Every chunk input in id order, as its article is planned; the plans are kept for the write."""
    for article_plan in plans:
        kept.append(article_plan)
        yield from article_plan.inputs


def plan_and_embed(articles: list[Article], encoding: ChunkEncoding, cfg: Config, cache: EmbeddingCache, *,
                   reuse: bool, progress: bool, early: Planning | None = None) -> tuple[BuildPlan, Embedded]:
    """The plan and its vectors, the planning overlapped with the encoding of what is planned. The
    `early` planning is kept only if its planner is the loaded model's own, else planned again."""
    one = planner(encoding.encoder, cfg)
    if early is not None and early.planner != one:
        early.close()
        early = None
    plans: list[ArticlePlan] = []
    with closing(early or Planning(articles, one, encoding.planners)) as planning:
        vectors = embed(_inputs(planning, plans), encoding, cache, reuse=reuse, progress=progress, planning=planning)
    build = BuildPlan.of(articles, plans, one.chunking)
    return build, assemble(build, vectors, encoding.encoder.dim)


def build_index(cfg: Config, *, encoder: Encoder | None = None, strict: bool = False,
                progress: bool = True, reuse: bool = False, ray: bool = False) -> BuildReport:
    """Read `cfg.data_dir`, embed it, and publish a new version in the configured storage.

    With `reuse` (qa index update) chunks whose embedded text is unchanged take their
    vectors from the cache instead of the model; the result is the same index. With `ray` the
    chunks are encoded on a Ray cluster (`build.ray_address`), written the same way.
    """
    started = time.perf_counter()
    corpus = read_articles(cfg, strict)
    with ExitStack() as stack:
        early = None if encoder else early_planning(corpus.articles, cfg, ray=ray)
        if early is not None:
            stack.callback(early.close)
        if ray:
            from qa.indexing.distributed import ray_encoding

            encoding: ChunkEncoding = stack.enter_context(ray_encoding(cfg, encoder))
        else:
            encoding = LocalEncoding(encoder or Encoder(cfg.model, progress=progress))
        backend = open_backend(cfg)
        cache = stack.enter_context(backend.building(encoding.encoder.dim))
        build, embedded = plan_and_embed(corpus.articles, encoding, cfg, cache, reuse=reuse, progress=progress,
                                         early=early)
        version = backend.write(content(build, embedded, encoding.encoder, len(corpus.skipped)))
        ensure_query_export(encoding.encoder, cfg.model)
    return BuildReport(version, len(build.articles), len(build.inputs), time.perf_counter() - started,
                       corpus.skipped, encoded=embedded.encoded)
