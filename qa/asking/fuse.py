"""Small pure functions that turn several rankings and signals into one score per chunk."""

from __future__ import annotations

import math
from typing import Iterable, Mapping


def rrf(rankings: Iterable[list[int]], k: float, weights: Iterable[float]) -> dict[int, float]:
    """Reciprocal rank fusion: sum of weight / (k + rank) over the rankings (rank from 1)."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def minmax(scores: Mapping[int, float]) -> dict[int, float]:
    """Scale to [0, 1] within the candidate list; a flat list maps to 1."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:
        return {i: 1.0 for i in scores}
    return {i: (s - lo) / (hi - lo) for i, s in scores.items()}


def weighted_sum(parts: Iterable[tuple[Mapping[int, float], float]]) -> dict[int, float]:
    """Sum of weight * score; an item missing from one part scores 0 there."""
    fused: dict[int, float] = {}
    for scores, weight in parts:
        for item, score in scores.items():
            fused[item] = fused.get(item, 0.0) + weight * score
    return fused


def recency_factor(age_days: float, half_life_days: float) -> float:
    """Multiplier in (0, 1]: halves every `half_life_days` of age; 1 when off (half-life <= 0)."""
    if half_life_days <= 0 or age_days <= 0:
        return 1.0
    return math.pow(0.5, age_days / half_life_days)


def jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def coverage(weights: Mapping[str, float], text_terms: set[str]) -> float:
    """Share of the question's term weight (IDF) that the text contains: a rare word of the
    question counts for more than one every article repeats."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in text_terms) / total if total else 0.0
