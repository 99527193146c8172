"""MultiHop-RAG: build its articles with the current settings, ask its queries through the
service, and score them as the benchmark's own retrieval_evaluate.py does."""

from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from qa.asking.answer import Answerer
from qa.asking.service import Service
from qa.config import Config
from qa.encoder import Encoder
from qa.errors import IndexUnavailable
from qa.evaluation.metrics import latency, multihop_metrics, rate, squash
from qa.evaluation.questions import EvalError, Outcome, Question, run_questions
from qa.indexing.build import BuildReport, build_index, chunk_settings
from qa.storage import open_backend
from qa.storage.base import IndexInfo, Store

MULTIHOP_CORPUS = "corpus.json"
MULTIHOP_QUERIES = "MultiHopRAG.json"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read {path}: {exc}") from None


def select_queries(queries: Sequence[dict], subset: str = "all", limit: int | None = None) -> list[dict]:
    """Queries by their position in MultiHopRAG.json (0-based: 'even' is 0, 2, 4, ...), then
    the first `limit` of those, null queries included, as the official --limit counts."""
    if subset not in ("all", "even", "odd"):
        raise EvalError(f"unknown query subset '{subset}' (all, even or odd)")
    chosen = [q for i, q in enumerate(queries) if subset == "all" or i % 2 == (subset == "odd")]
    return chosen[:limit] if limit is not None else chosen


def run_multihop(cfg: Config, path: Path, *, encoder: Encoder | None = None, subset: str = "all",
                 limit: int | None = None, gold_articles_only: bool = False, top_k: int = 10,
                 progress: bool = False, keep_index: Path | None = None) -> dict[str, Any]:
    """Build the benchmark's articles into an index with `cfg`'s settings, ask its queries
    through the service, and score them as the benchmark does.

    The index lives in a temporary folder, or in `keep_index`, where a later run with the
    same corpus, model and chunking reuses it: query-time settings (fusion, weights, boosts)
    can then be compared without rebuilding. `gold_articles_only` indexes just the articles
    the chosen queries cite: fast, for tests, but easier than the real 609-article corpus,
    and the report says so.
    """
    queries = read_queries(path, subset, limit)
    if gold_articles_only:
        titles = {e["title"] for q in queries for e in q["evidence_list"]}
        corpus = json.dumps([a for a in _read_json(path / MULTIHOP_CORPUS) if a["title"] in titles]).encode("utf-8")
    else:
        corpus = read_corpus(path)
    with multihop_answerer(cfg, corpus, encoder=encoder, keep_index=keep_index, progress=progress) as (answerer,
                                                                                                     built):
        outcomes = run_questions(answerer, [as_question(q) for q in queries], top_k)
        chunk_text = all_chunk_text(answerer)
        info = answerer.store.info
    return multihop_report(queries, outcomes, chunk_text, info, built.seconds if built else None,
                           subset=subset, limit=limit, gold_articles_only=gold_articles_only)


@contextmanager
def multihop_answerer(cfg: Config, corpus: bytes, *, encoder: Encoder | None = None, keep_index: Path | None = None,
                      progress: bool = False) -> Iterator[tuple[Answerer, BuildReport | None]]:
    """The service over an index of the benchmark's `corpus` (see `run_multihop` for where it
    lives), and the build's report (None when a kept index was reused)."""
    encoder = encoder or Encoder(cfg.model)
    with tempfile.TemporaryDirectory(prefix="qa-multihop-") as tmp:
        run_cfg, built = multihop_index(cfg, encoder, corpus, keep_index or Path(tmp), progress)
        # Questions are encoded as a server encodes them (`model.query_runtime`).
        answerer = Service(run_cfg, encoder=encoder if cfg.model.query_runtime == "torch" else None).answerer()
        try:
            yield answerer, built
        finally:
            answerer.store.close()


def read_corpus(path: Path) -> bytes:
    """The benchmark's articles file as stored (it fingerprints a kept index)."""
    try:
        return (path / MULTIHOP_CORPUS).read_bytes()
    except OSError as exc:
        raise EvalError(f"cannot read {path / MULTIHOP_CORPUS}: {exc}") from None


def read_queries(path: Path, subset: str = "all", limit: int | None = None) -> list[dict]:
    return select_queries(_read_json(path / MULTIHOP_QUERIES), subset, limit)


def multihop_index(cfg: Config, encoder: Encoder, corpus: bytes, root: Path,
                   progress: bool) -> tuple[Config, BuildReport | None]:
    """`cfg` pointed at `root`/data (holding `corpus`) and `root`/index, built unless the
    index there already came from this corpus with this model and chunking (then None)."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    run_cfg = cfg.replace(data_dir=data, index_dir=root / "index")
    stored = data / MULTIHOP_CORPUS
    if stored.is_file() and stored.read_bytes() == corpus:
        try:
            backend = open_backend(run_cfg)
            manifest = backend.manifest(backend.current())
        except IndexUnavailable:
            manifest = {}
        if (manifest.get("model"), manifest.get("model_backend"), manifest.get("chunking")) == (
                encoder.name, encoder.backend, chunk_settings(cfg, encoder)):
            return run_cfg, None
    stored.write_bytes(corpus)
    return run_cfg, build_index(run_cfg, encoder=encoder, progress=progress)


def as_question(q: dict) -> Question:
    facts = tuple(e["fact"] for e in q["evidence_list"])
    return Question(q["query"], bool(facts), facts, tag=q["question_type"])


def chunk_texts(store: Store) -> list[str]:
    """Every chunk's text in id order, read through the storage interface (what peers index)."""
    rows = store.chunks(range(store.info.chunks))
    return [rows[i].text for i in sorted(rows)]


def all_chunk_text(answerer: Answerer) -> str:
    """Every chunk, squashed and joined by NULs (a fact never spans two of them)."""
    return "\0".join(squash(text) for text in chunk_texts(answerer.store))


def multihop_report(queries: Sequence[dict], outcomes: Sequence[Outcome], chunk_text: str, info: IndexInfo,
                    build_seconds: float | None, **run: Any) -> dict[str, Any]:
    scored = [(q, o) for q, o in zip(queries, outcomes) if q["evidence_list"]]
    nulls = [o for q, o in zip(queries, outcomes) if not q["evidence_list"]]
    gold = [[e["fact"] for e in q["evidence_list"]] for q, _ in scored]
    retrieved = [o.passages for _, o in scored]
    by_type: dict[str, tuple[list, list]] = {}
    for (q, o), g in zip(scored, gold):
        r, gs = by_type.setdefault(q["question_type"], ([], []))
        r.append(o.passages)
        gs.append(g)
    return {
        **run,
        "articles": info.articles,
        "chunks": info.chunks,
        "chunking": info.manifest["chunking"],
        # None when an index kept from an earlier run was reused.
        "build_seconds": None if build_seconds is None else round(build_seconds, 1),
        "queries": len(scored),
        **multihop_metrics(retrieved, gold),
        # Share of queries with at least one gold fact whole inside some chunk: the Hits@10 ceiling.
        "reachable": round(rate(any(squash(f) in chunk_text for f in g) for g in gold), 4),
        "false_abstention": round(rate(o.abstained for _, o in scored), 4),
        "null_queries": len(nulls),
        "null_abstention": round(rate(o.abstained for o in nulls), 4),
        "weak": round(rate(o.weak for _, o in scored), 4),
        "null_weak": round(rate(o.weak for o in nulls), 4),
        "latency_ms": latency([o.ms for o in outcomes]),
        "by_type": {t: {"queries": len(g), **multihop_metrics(r, g)} for t, (r, g) in sorted(by_type.items())},
    }
