"""Question files (JSON Lines) and running them through the service: ranking, answers, abstention."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa.asking.answer import Answerer
from qa.errors import BadRequest, QAError
from qa.evaluation.metrics import answer_correct, hit_rank, latency, mrr_at, rate, recall_at
from qa.models import Result
from qa.validation import validate_question

# The score (best cosine + coverage_weight × coverage) reaches 1.75; over MultiHop-RAG's 609
# articles every question, answerable or not, scores above 0.8, so the sweep runs to 1.5.
SWEEP = tuple(round(t, 2) for t in np.arange(0.10, 1.501, 0.05))
# A question file may split its questions into two fixed halves: one to choose settings and
# train on, one only to report (`qa eval --half`).
HALVES = ("train", "report")


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
    half: str | None = None
    differ: bool = False  # the articles give different values for what it asks (alternatives expected)


@dataclass(frozen=True)
class Outcome:
    """One question's served result; `passages` are ranked even when the service abstained."""

    question: Question
    abstained: bool
    answer: str | None
    passages: list[str]
    ms: float
    alternatives: tuple[str, ...] = ()  # the answer's alternatives: where the sources differ
    weak: bool = False  # closest passages shown, no answer quoted (evidence "weak")


_FIELDS = {"question", "answerable", "contains", "all", "history", "tag", "half", "sources_differ"}


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
    half = record.get("half")
    if half is not None and half not in HALVES:
        raise EvalError(f"{where}: 'half' must be \"train\" or \"report\"")
    differ = record.get("sources_differ", False)
    if not isinstance(differ, bool):
        raise EvalError(f"{where}: 'sources_differ' must be true or false")
    return Question(question, answerable, contains, require_all, history, tag, half, differ)


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


def select_half(questions: Sequence[Question], half: str | None) -> list[Question]:
    """The questions of one half (None: all of them); a half with no questions is an error."""
    if half is None:
        return list(questions)
    if half not in HALVES:
        raise EvalError(f"unknown half '{half}' (use {' or '.join(HALVES)})")
    chosen = [q for q in questions if q.half == half]
    if not chosen:
        raise EvalError(f"no questions in the '{half}' half (mark them with \"half\": \"{half}\")")
    return chosen


def with_threshold(answerer: Answerer, value: float) -> Answerer:
    """The same index and model where `value` alone decides: below it the service abstains, at or
    above it quotes its answer (no weak zone; -inf: always answer)."""
    return answerer.with_settings(dataclasses.replace(answerer.cfg, min_score=value, weak_below=value))


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
        alternatives = tuple(a.text for a in result.answer.alternatives) if result.answer else ()
        outcomes.append(Outcome(q, result.abstained, _answer_text(result),
                                [p.text for p in passages], ms, alternatives, result.evidence == "weak"))
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
    misses = [{"question": o.question.question, "rank": r, "abstained": o.abstained, "weak": o.weak,
               "answer": o.answer}
              for o, r in zip(answerable, ranks)
              if r is None or r > 5 or o.abstained or not answer_correct(o.answer, o.question.contains)]
    # A weak reply to an unanswerable question quotes no answer, so it is no miss (nor an abstention).
    misses += [{"question": o.question.question, "answerable": False, "answer": o.answer}
               for o in unanswerable if o.answer is not None]
    misses += [{"question": o.question.question, "sources_differ": False, "alternatives": list(o.alternatives)}
               for o in outcomes if o.alternatives and not o.question.differ]
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
        "weak_answerable": sum(o.weak for o in answerable),
        "weak_unanswerable": sum(o.weak for o in unanswerable),
        "latency_ms": latency([o.ms for o in outcomes]),
        "recall@5_by_tag": {t: round(recall_at(_ranks(os), 5), 4) for t, os in sorted(tags.items())},
        "alternatives": alternatives_summary(outcomes),
        "misses": misses,
    }


def alternatives_summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """How often answers show alternatives, and how often wrongly: on a question whose sources
    agree (every question not marked `sources_differ`, answerable or not). Precision is the share
    of questions with alternatives whose sources do differ."""
    given = [o for o in outcomes if o.alternatives]
    wrong = sum(not o.question.differ for o in given)
    differ = [o for o in outcomes if o.question.differ]
    return {"questions_with_alternatives": len(given), "on_questions_whose_sources_agree": wrong,
            "precision": round(1 - wrong / len(given), 4) if given else None,
            "found_where_sources_differ": sum(bool(o.alternatives) for o in differ), "sources_differ": len(differ)}


def sweep(answerer: Answerer, questions: Sequence[Question], top_k: int = 10,
          thresholds: Sequence[float] = SWEEP) -> list[dict[str, float]]:
    """At each threshold, the questions whose score is below it: the share of unanswerable ones,
    the answerable ones, and those of them whose quoted answer would be correct. Read as
    `min_score` they abstain; as `weak_below`, they abstain or get a weak reply: where to set either."""
    always = with_threshold(answerer, float("-inf"))
    correct = [q.answerable and answer_correct(_answer_text(_ask(always, q, top_k)), q.contains) for q in questions]
    rows = []
    for t in thresholds:
        candidate = with_threshold(answerer, t)
        below = [_ask(candidate, q, top_k).abstained for q in questions]
        rows.append({"threshold": t,
                     "abstention_unanswerable": round(rate(b for q, b in zip(questions, below) if not q.answerable), 4),
                     "false_abstentions": sum(b for q, b in zip(questions, below) if q.answerable),
                     "correct_withheld": sum(b and c for b, c in zip(below, correct))})
    return rows


def _answer_text(result: Result) -> str | None:
    return result.answer.text if result.answer else None
