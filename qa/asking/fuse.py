"""Small pure functions that turn several signals into one score per candidate.

Scores are float64 arrays aligned with the candidates; NaN marks a candidate a signal has
no score for (a chunk only BM25 found has no dense rank), which counts as 0 in a sum.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scale the known scores to [0, 1] within the candidates; a flat list maps to 1."""
    known = ~np.isnan(scores)
    if not known.any():
        return scores.copy()
    lo, hi = scores[known].min(), scores[known].max()
    if hi - lo < 1e-12:
        return np.where(known, 1.0, np.nan)
    return (scores - lo) / (hi - lo)


def weighted_sum(parts: Iterable[tuple[np.ndarray, float]]) -> np.ndarray:
    """Sum of weight x score; a candidate a part has no score for gets 0 from it."""
    parts = list(parts)
    total = np.zeros(len(parts[0][0]))
    for scores, weight in parts:
        total = total + weight * np.nan_to_num(scores, nan=0.0)
    return total


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each known score, best first (ties keep candidate order); NaN stays NaN."""
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    out = np.empty(len(scores))
    out[order] = np.arange(1, len(scores) + 1)
    return np.where(np.isnan(scores), np.nan, out)


def rrf(rankings: Iterable[np.ndarray], k: float, weights: Iterable[float]) -> np.ndarray:
    """Reciprocal rank fusion: sum of weight / (k + rank) over the rankings that rank a candidate."""
    return weighted_sum((1.0 / (k + r), w) for r, w in zip(rankings, weights))


def mix(base: np.ndarray, other: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) x base + weight x other where other is known; base alone elsewhere."""
    return np.where(np.isnan(other), base, (1 - weight) * base + weight * other)


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
