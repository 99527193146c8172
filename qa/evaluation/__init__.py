"""Measure answer quality: ranking, answers and abstention over a question set, and the
public MultiHop-RAG benchmark scored exactly as its own code scores it.

Every question goes through `Answerer.ask`, the call behind `/api/ask`, so the figures are
the service's own. Metric functions are pure, so their numbers can be checked by hand.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from qa.asking.answer import Answerer
from qa.indexing.build import BuildReport, build_index, chunk_settings
from qa.config import Config
from qa.encoder import Encoder
from qa.errors import BadRequest, IndexUnavailable, QAError
from qa.storage import open_backend
from qa.validation import validate_question

# The SearchConfig field that decides abstention; the sweep and the "rank regardless of
# abstention" pass set it, so it is named once here.
ABSTAIN_SETTING = "min_score"
SWEEP = tuple(round(t, 2) for t in np.arange(0.10, 0.651, 0.05))
MULTIHOP_CORPUS = "corpus.json"
MULTIHOP_QUERIES = "MultiHopRAG.json"


class EvalError(QAError):
    status = 400
    code = "eval_error"


@dataclass(frozen=True)
class Question:
    question: str
    answerable: bool
    contains: tuple[str, ...] = ()
    all: bool = False  # every gold substring must be found within the top k, not just one
    history: tuple[str, ...] = ()
    tag: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One question's served result; `passages` are ranked even when the service abstained."""

    question: Question
    abstained: bool
    answer: str | None
    passages: list[str]
    ms: float


# ---------------------------------------------------------------- question files

_FIELDS = {"question", "answerable", "contains", "all", "history", "tag"}


def _strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise EvalError(f"{where}: '{what}' must be a list of non-empty strings")
    return tuple(value)


def parse_question(record: Any, where: str) -> Question:
    """One JSONL record as a Question, or an error naming the line and the field."""
    if not isinstance(record, dict):
        raise EvalError(f"{where}: not a JSON object")
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise EvalError(f"{where}: unknown field '{unknown[0]}'")
    history = _strings(record.get("history", []), "history", where)
    for value, what in [(record.get("question"), ""), *((turn, "in 'history': ") for turn in history)]:
        try:
            validate_question(value)
        except BadRequest as exc:
            raise EvalError(f"{where}: {what}{exc.message}") from None
    question = record["question"]
    answerable = record.get("answerable")
    if not isinstance(answerable, bool):
        raise EvalError(f"{where}: 'answerable' must be true or false")
    contains = _strings(record.get("contains", []), "contains", where)
    if answerable and not contains:
        raise EvalError(f"{where}: an answerable question needs gold text in 'contains'")
    if not answerable and contains:
        raise EvalError(f"{where}: an unanswerable question cannot have gold text")
    require_all = record.get("all", False)
    if not isinstance(require_all, bool):
        raise EvalError(f"{where}: 'all' must be true or false")
    tag = record.get("tag")
    if tag is not None and not isinstance(tag, str):
        raise EvalError(f"{where}: 'tag' must be a string")
    return Question(question, answerable, contains, require_all, history, tag)


def load_questions(path: Path) -> list[Question]:
    """Read a question file (JSON Lines); any bad line is an error, never silently dropped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read {path}: {exc}") from None
    questions = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{path}:{no}: malformed JSON ({exc.msg})") from None
        questions.append(parse_question(record, f"{path}:{no}"))
    if not questions:
        raise EvalError(f"{path}: no questions")
    return questions


# ---------------------------------------------------------------- metrics (pure)

def fold(text: str) -> str:
    """Case and white space folded, so gold text matches however the article wraps it."""
    return " ".join(text.casefold().split())


def hit_rank(passages: Sequence[str], contains: Sequence[str], require_all: bool = False) -> int | None:
    """The 1-based rank at which the top passages first hold the gold text (one substring,
    or with `require_all` every one of them), or None if they never do."""
    needed = {fold(g) for g in contains}
    for rank, text in enumerate(passages, 1):
        found = {g for g in needed if g in fold(text)}
        if found and not require_all:
            return rank
        needed -= found
        if require_all and not needed:
            return rank
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose gold is within the top k."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: Sequence[int | None], k: int = 10) -> float:
    """Mean of 1/rank of the first hit within the top k (0 for a miss)."""
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def answer_correct(answer: str | None, contains: Sequence[str]) -> bool:
    """The answer sentence holds (at least one piece of) the gold text."""
    return answer is not None and any(fold(g) in fold(answer) for g in contains)


def rate(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else 0.0


def latency(ms: Sequence[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds (linear interpolation between samples)."""
    if not ms:
        return {"p50": 0.0, "p95": 0.0}
    p50, p95 = np.percentile(np.asarray(ms, dtype=float), [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}


def _squash(text: str) -> str:
    return text.replace(" ", "").replace("\n", "")


def multihop_query_scores(retrieved: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """One query's Hits@10, Hits@4, AP@10 and RR@10 as MultiHop-RAG's retrieval_evaluate.py
    computes them: a retrieved text is a hit when a gold fact, spaces and newlines removed,
    is a substring of it (also squashed); AP adds (newly matched gold facts)/rank over the
    hits in the top 10 and divides by min(len(gold), 10), duplicates in `gold` included."""
    gold = [_squash(g) for g in gold]
    found: list[str] = []
    first = None
    ap = 0.0
    for rank, text in enumerate((_squash(t) for t in retrieved[:10]), 1):
        if not any(g in text for g in gold):
            continue
        first = first or rank
        new = [g for g in gold if g in text and g not in found]
        # The official loop appends as it counts, so a fact listed twice counts once.
        new = list(dict.fromkeys(new))
        found.extend(new)
        ap += len(new) / rank
    return {"Hits@10": float(first is not None), "Hits@4": float(first is not None and first <= 4),
            "MAP@10": ap / min(len(gold), 10), "MRR@10": 1 / first if first else 0.0}


def multihop_metrics(retrieved_lists: Sequence[Sequence[str]], gold_lists: Sequence[Sequence[str]]) -> dict[str, float]:
    """The benchmark's four figures, averaged over queries."""
    names = ("MRR@10", "MAP@10", "Hits@4", "Hits@10")
    if not gold_lists:
        return {n: 0.0 for n in names}
    scores = [multihop_query_scores(r, g) for r, g in zip(retrieved_lists, gold_lists)]
    return {n: round(sum(s[n] for s in scores) / len(scores), 4) for n in names}


# ---------------------------------------------------------------- running questions

def with_threshold(answerer: Answerer, value: float) -> Answerer:
    """The same index and model with another abstention threshold (-inf: never abstain)."""
    return answerer.with_settings(dataclasses.replace(answerer.cfg, **{ABSTAIN_SETTING: value}))


def _ask(answerer: Answerer, q: Question, top_k: int):
    return answerer.ask(q.question, top_k, history=q.history)


def run_questions(answerer: Answerer, questions: Sequence[Question], top_k: int = 10) -> list[Outcome]:
    """Ask each question as /api/ask would; where the service abstained, ask again with
    abstention off so ranking is still measured (abstention is reported on its own)."""
    ranker = with_threshold(answerer, float("-inf"))
    outcomes = []
    for q in questions:
        started = time.perf_counter()
        result = _ask(answerer, q, top_k)
        ms = (time.perf_counter() - started) * 1000
        passages = _ask(ranker, q, top_k).passages if result.abstained else result.passages
        outcomes.append(Outcome(q, result.abstained, result.answer.text if result.answer else None,
                                [p.text for p in passages], ms))
    return outcomes


def _ranks(outcomes: Sequence[Outcome]) -> list[int | None]:
    return [hit_rank(o.passages, o.question.contains, o.question.all) for o in outcomes]


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The figures `qa eval` prints for a question set, plus the questions that missed."""
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    ranks = _ranks(answerable)
    tags: dict[str, list[Outcome]] = {}
    for o in answerable:
        tags.setdefault(o.question.tag or "untagged", []).append(o)
    misses = [{"question": o.question.question, "rank": r, "abstained": o.abstained, "answer": o.answer}
              for o, r in zip(answerable, ranks)
              if r is None or r > 5 or o.abstained or not answer_correct(o.answer, o.question.contains)]
    misses += [{"question": o.question.question, "answerable": False, "answer": o.answer}
               for o in unanswerable if not o.abstained]
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": round(recall_at(ranks, 1), 4),
        "recall@5": round(recall_at(ranks, 5), 4),
        "recall@10": round(recall_at(ranks, 10), 4),
        "MRR@10": round(mrr_at(ranks, 10), 4),
        "answer_accuracy": round(rate(answer_correct(o.answer, o.question.contains) for o in answerable), 4),
        "abstention_unanswerable": round(rate(o.abstained for o in unanswerable), 4),
        "false_abstentions": sum(o.abstained for o in answerable),
        "latency_ms": latency([o.ms for o in outcomes]),
        "recall@5_by_tag": {t: round(recall_at(_ranks(os), 5), 4) for t, os in sorted(tags.items())},
        "misses": misses,
    }


def sweep(answerer: Answerer, questions: Sequence[Question], top_k: int = 10,
          thresholds: Sequence[float] = SWEEP) -> list[dict[str, float]]:
    """Abstention on unanswerable and false abstentions at each threshold: where to set it."""
    rows = []
    for t in thresholds:
        candidate = with_threshold(answerer, t)
        abstained = [(q.answerable, _ask(candidate, q, top_k).abstained) for q in questions]
        rows.append({"threshold": t,
                     "abstention_unanswerable": round(rate(a for ok, a in abstained if not ok), 4),
                     "false_abstentions": sum(a for ok, a in abstained if ok)})
    return rows


# ---------------------------------------------------------------- MultiHop-RAG

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
    from qa.asking.service import Service

    queries = select_queries(_read_json(path / MULTIHOP_QUERIES), subset, limit)
    corpus_file = path / MULTIHOP_CORPUS
    if gold_articles_only:
        titles = {e["title"] for q in queries for e in q["evidence_list"]}
        corpus = json.dumps([a for a in _read_json(corpus_file) if a["title"] in titles]).encode("utf-8")
    else:
        try:
            corpus = corpus_file.read_bytes()
        except OSError as exc:
            raise EvalError(f"cannot read {corpus_file}: {exc}") from None
    encoder = encoder or Encoder(cfg.model)
    with tempfile.TemporaryDirectory(prefix="qa-multihop-") as tmp:
        run_cfg, built = _multihop_index(cfg, encoder, corpus, keep_index or Path(tmp), progress)
        answerer = Service(run_cfg, encoder=encoder).answerer()
        try:
            outcomes = run_questions(answerer, [_as_question(q) for q in queries], top_k)
            chunk_text = _all_chunk_text(answerer)
            manifest = answerer.store.info.manifest
        finally:
            answerer.store.close()
    return _multihop_report(queries, outcomes, chunk_text, manifest, manifest["counts"]["articles"],
                            built.seconds if built else None, subset=subset, limit=limit,
                            gold_articles_only=gold_articles_only)


def _multihop_index(cfg: Config, encoder: Encoder, corpus: bytes, root: Path,
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


def _as_question(q: dict) -> Question:
    facts = tuple(e["fact"] for e in q["evidence_list"])
    return Question(q["query"], bool(facts), facts, tag=q["question_type"])


def _all_chunk_text(answerer: Answerer) -> str:
    """Every chunk, squashed and joined by NULs (a fact never spans two of them)."""
    rows = answerer.store.chunks(range(answerer.store.info.chunks))
    return "\0".join(_squash(rows[i].text) for i in sorted(rows))


def _multihop_report(queries: Sequence[dict], outcomes: Sequence[Outcome], chunk_text: str, manifest: dict,
                     articles: int, build_seconds: float | None, **run: Any) -> dict[str, Any]:
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
        "articles": articles,
        "chunks": manifest["counts"]["chunks"],
        "chunking": manifest["chunking"],
        # None when an index kept from an earlier run was reused.
        "build_seconds": None if build_seconds is None else round(build_seconds, 1),
        "queries": len(scored),
        **multihop_metrics(retrieved, gold),
        # Share of queries with at least one gold fact whole inside some chunk: the Hits@10 ceiling.
        "reachable": round(rate(any(_squash(f) in chunk_text for f in g) for g in gold), 4),
        "false_abstention": round(rate(o.abstained for _, o in scored), 4),
        "null_queries": len(nulls),
        "null_abstention": round(rate(o.abstained for o in nulls), 4),
        "latency_ms": latency([o.ms for o in outcomes]),
        "by_type": {t: {"queries": len(g), **multihop_metrics(r, g)} for t, (r, g) in sorted(by_type.items())},
    }


# ---------------------------------------------------------------- text reports

def format_questions(summary: dict[str, Any], sweep_rows: Sequence[dict] | None = None) -> str:
    """The human-readable table of a question-set run."""
    lines = [f"{summary['questions']} questions ({summary['answerable']} answerable, "
             f"{summary['unanswerable']} unanswerable)"]
    for key in ("recall@1", "recall@5", "recall@10", "MRR@10", "answer_accuracy", "abstention_unanswerable"):
        lines.append(f"  {key:<26}{summary[key]:.4f}")
    lines.append(f"  {'false_abstentions':<26}{summary['false_abstentions']}")
    lines.append(f"  {'latency p50 / p95 (ms)':<26}{summary['latency_ms']['p50']:.1f} / {summary['latency_ms']['p95']:.1f}")
    for tag, value in summary["recall@5_by_tag"].items():
        lines.append(f"  {'recall@5 ' + tag:<26}{value:.4f}")
    for miss in summary["misses"]:
        lines.append(f"  miss: {json.dumps(miss, ensure_ascii=False)}")
    if sweep_rows:
        lines.append("  threshold  abstention_unanswerable  false_abstentions")
        lines += [f"  {r['threshold']:<9.2f}  {r['abstention_unanswerable']:<23.4f}  {r['false_abstentions']}"
                  for r in sweep_rows]
    return "\n".join(lines)


def format_multihop(report: dict[str, Any]) -> str:
    """The human-readable table of a MultiHop-RAG run."""
    lines = [f"MultiHop-RAG: {report['queries']} queries ({report['subset']}"
             f"{', limit ' + str(report['limit']) if report['limit'] else ''}), {report['articles']} articles"
             f"{' (gold articles only)' if report['gold_articles_only'] else ''}, {report['chunks']} chunks "
             f"of <= {report['chunking']['max_tokens']} tokens, "
             + ("index reused" if report["build_seconds"] is None else f"built in {report['build_seconds']} s")]
    header = f"  {'':<18}{'queries':>8}{'MRR@10':>9}{'MAP@10':>9}{'Hits@4':>9}{'Hits@10':>9}"
    lines.append(header)
    rows = [("all", {"queries": report["queries"], **report}), *report["by_type"].items()]
    for name, r in rows:
        lines.append(f"  {name:<18}{r['queries']:>8}{r['MRR@10']:>9.4f}{r['MAP@10']:>9.4f}"
                     f"{r['Hits@4']:>9.4f}{r['Hits@10']:>9.4f}")
    lines.append(f"  reachable (a gold fact inside one chunk) {report['reachable']:.4f}")
    lines.append(f"  abstention on {report['null_queries']} null queries {report['null_abstention']:.4f}; "
                 f"false abstention on answerable {report['false_abstention']:.4f}")
    lines.append(f"  latency p50 / p95 (ms) {report['latency_ms']['p50']:.1f} / {report['latency_ms']['p95']:.1f}")
    return "\n".join(lines)
