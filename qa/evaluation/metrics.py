"""Pure metric functions: hand-checkable numbers for question sets and MultiHop-RAG."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


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


def squash(text: str) -> str:
    return text.replace(" ", "").replace("\n", "")


def multihop_query_scores(retrieved: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """One query's Hits@10, Hits@4, AP@10 and RR@10 as MultiHop-RAG's retrieval_evaluate.py
    computes them (and Hits@1, Hits@5, the recall@1/5 of the question files): a retrieved text is a hit when a gold fact, spaces and newlines removed,
    is a substring of it (also squashed); AP adds (newly matched gold facts)/rank over the
    hits in the top 10 and divides by min(len(gold), 10), duplicates in `gold` included."""
    gold = [squash(g) for g in gold]
    found: list[str] = []
    first = None
    ap = 0.0
    for rank, text in enumerate((squash(t) for t in retrieved[:10]), 1):
        if not any(g in text for g in gold):
            continue
        first = first or rank
        new = [g for g in gold if g in text and g not in found]
        # The official loop appends as it counts, so a fact listed twice counts once.
        new = list(dict.fromkeys(new))
        found.extend(new)
        ap += len(new) / rank
    return {"Hits@10": float(first is not None), "Hits@4": float(first is not None and first <= 4),
            "Hits@1": float(first == 1), "Hits@5": float(first is not None and first <= 5),
            "MAP@10": ap / min(len(gold), 10), "MRR@10": 1 / first if first else 0.0}


def multihop_metrics(retrieved_lists: Sequence[Sequence[str]], gold_lists: Sequence[Sequence[str]]) -> dict[str, float]:
    """The benchmark's four figures, averaged over queries."""
    names = ("MRR@10", "MAP@10", "Hits@1", "Hits@4", "Hits@5", "Hits@10")
    if not gold_lists:
        return {n: 0.0 for n in names}
    scores = [multihop_query_scores(r, g) for r, g in zip(retrieved_lists, gold_lists)]
    return {n: round(sum(s[n] for s in scores) / len(scores), 4) for n in names}
