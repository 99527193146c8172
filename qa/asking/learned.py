"""Learned ranking: gradient-boosted trees (LightGBM, lambdarank objective) that re-order the
best candidates of the weighted fusion from the signals retrieval already computes.

Each feature is a small pure function of one question's candidate window. Scores that depend
on the corpus's scale (BM25) enter relative to the question's best candidate as well as raw, so
trees trained on one archive have a chance on another. The feature names are stored in the
model file: a model trained on another list is refused, never silently misread.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.asking.analyse import Query, answer_type
from qa.asking.fuse import coverage
from qa.errors import ConfigError
from qa.storage.base import ChunkMeta, ChunkRow

# The model shipped with the package (`qa train-ranker` writes it) and its description.
PACKAGED = Path(__file__).with_name("ranker")
MODEL_FILE = "model.txt"
ABOUT_FILE = "about.json"

FEATURES = (
    "weighted", "weighted_rank", "top_gap", "cosine", "sentence", "bm25", "bm25_log", "clause", "clauses",
    "outlet_named", "outlet_match", "date_named", "date_match", "coverage", "coverage_question",
    "position", "article_candidates", "article_best", "cue", "cue_match",
)


@dataclass(frozen=True)
class Window:
    """One question's best candidates under the weighted fusion, as the trees see them."""

    ids: list[int]  # chunk ids, weighted order
    weighted: np.ndarray  # the fused and boosted score
    cosine: np.ndarray  # chunk cosine (NaN: unknown)
    sentence: np.ndarray  # best sentence cosine (NaN: unknown)
    bm25: np.ndarray  # BM25 of the whole question (NaN: not a BM25 candidate)
    bm25_best: float  # the best BM25 among all the question's candidates
    clause: np.ndarray | None  # best clause score, None when the question has no clauses
    meta: list[ChunkMeta]
    rows: list[ChunkRow]
    terms: list[frozenset[str]]  # each row's terms


def _relative(values: np.ndarray, best: float) -> np.ndarray:
    return values / best if best > 0 else np.zeros(len(values))


def _article_evidence(meta: list[ChunkMeta], weighted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate: how many window candidates share its article, and the best weighted score
    among them (relative to the window's best): an article that answers tends to match twice."""
    count: dict[str, int] = {}
    best: dict[str, float] = {}
    for m, w in zip(meta, weighted.tolist()):
        count[m.doc_id] = count.get(m.doc_id, 0) + 1
        best[m.doc_id] = max(best.get(m.doc_id, -np.inf), w)
    top = float(weighted.max()) or 1.0
    return (np.array([count[m.doc_id] for m in meta], dtype=float),
            np.array([best[m.doc_id] / top for m in meta]))


def _named(named: tuple[str, ...], matches: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    n = len(matches)
    return np.full(n, float(bool(named))), (np.array(matches, dtype=float) if named else np.full(n, np.nan))


def _cue(cue: re.Pattern | None, rows: list[ChunkRow]) -> tuple[np.ndarray, np.ndarray]:
    n = len(rows)
    if cue is None:
        return np.zeros(n), np.full(n, np.nan)
    return np.ones(n), np.array([bool(cue.search(r.text)) for r in rows], dtype=float)


def features(query: Query, w: Window) -> np.ndarray:
    """The window as a (candidates x FEATURES) matrix; NaN where a signal is unknown (the trees
    learn where missing values go)."""
    top = float(w.weighted[0]) if len(w.weighted) else 1.0
    outlet_named, outlet_match = _named(query.outlets, [m.source in query.outlets for m in w.meta])
    date_named, date_match = _named(query.dates, [bool(m.date) and m.date.startswith(query.dates) for m in w.meta])
    article_candidates, article_best = _article_evidence(w.meta, w.weighted)
    cue, cue_match = _cue(answer_type(query.text), w.rows)
    n = len(w.ids)
    columns = {
        "weighted": _relative(w.weighted, top),
        "weighted_rank": np.arange(n, dtype=float),
        "top_gap": top - w.weighted,
        "cosine": w.cosine,
        "sentence": w.sentence,
        "bm25": _relative(w.bm25, w.bm25_best),
        "bm25_log": np.log1p(w.bm25),
        "clause": w.clause if w.clause is not None else np.full(n, np.nan),
        "clauses": np.full(n, float(len(query.clauses))),
        "outlet_named": outlet_named, "outlet_match": outlet_match,
        "date_named": date_named, "date_match": date_match,
        "coverage": np.array([coverage(query.search_weights, t) for t in w.terms]),
        "coverage_question": np.array([coverage(query.weights, t) for t in w.terms]),
        "position": np.array([r.seg_first for r in w.rows], dtype=float),
        "article_candidates": article_candidates, "article_best": article_best,
        "cue": cue, "cue_match": cue_match,
    }
    return np.column_stack([columns[f] for f in FEATURES]).astype(np.float64)


class LearnedRanker:
    """A trained LightGBM model file: scores a window's candidates, higher is better."""

    def __init__(self, folder: Path):
        import lightgbm  # imported only where the learned ranker is in use

        path = folder / MODEL_FILE
        try:
            self.booster = lightgbm.Booster(model_file=str(path))
        except (OSError, lightgbm.basic.LightGBMError) as exc:
            raise ConfigError(f"cannot read the ranking model {path}: {exc}; run `qa train-ranker`") from None
        names = tuple(self.booster.feature_name())
        if names != FEATURES:
            raise ConfigError(f"the ranking model {path} was trained on other features; run `qa train-ranker`")
        self.about = describe(folder)

    def scores(self, x: np.ndarray) -> np.ndarray:
        # One thread: the server already answers several questions at once.
        return self.booster.predict(x, num_threads=1)


@lru_cache(maxsize=4)
def load_ranker(folder: str = "") -> LearnedRanker:
    """The model in `folder` (empty: the packaged one), read once per process."""
    return LearnedRanker(Path(folder) if folder else PACKAGED)


def describe(folder: Path) -> dict:
    """What a ranking model folder says of itself (its training sets and figures), or {}."""
    try:
        return json.loads((folder / ABOUT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
