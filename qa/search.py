"""Retrieval: question vectors in, ranked chunk ids and scores out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import IndexVersion
from .vectors import search as vector_search


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float  # cosine similarity of question and chunk


def dense_search(index: IndexVersion, qvecs: np.ndarray, k: int) -> list[list[Hit]]:
    """The k nearest chunks of each question vector, best first."""
    if index.vectors.ntotal == 0:
        return [[] for _ in range(len(qvecs))]
    scores, ids = vector_search(index.vectors, qvecs, k)
    return [[Hit(int(i), float(s)) for s, i in zip(row_s, row_i) if i >= 0] for row_s, row_i in zip(scores, ids)]
