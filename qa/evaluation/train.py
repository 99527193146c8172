"""`qa train-ranker`: LightGBM lambdarank trees over the weighted fusion's candidate windows.

A training question contributes its window (the features the service computes) and a label per
candidate: 1 when the chunk holds gold text. Questions whose window holds no gold teach nothing
to a ranking objective and are left out. The trained model is written with a description of
itself (features, training sets, settings, figures on the held-back questions).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.asking import retrieve
from qa.asking.answer import Answerer
from qa.asking.learned import ABOUT_FILE, FEATURES, MODEL_FILE, features
from qa.config import Config
from qa.evaluation.metrics import fold, squash
from qa.evaluation.multihop import multihop_answerer, read_corpus, read_queries
from qa.evaluation.questions import EvalError, load_questions, select_half
from qa.models import Filters

# Fixed so a retrain on the same questions gives the same trees; chosen on the training sets'
# own held-back part (HOLDOUT), never on a reporting half.
PARAMS = {"objective": "lambdarank", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
          "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambdarank_truncation_level": 20,
          "eval_at": [1, 5, 10], "deterministic": True, "seed": 7, "verbosity": -1, "num_threads": 2}
ROUNDS = 600
HOLDOUT = 5  # every 5th training question is held back to stop training at its best round


@dataclass(frozen=True)
class Example:
    """A training question and what makes a chunk's text gold for it."""

    question: str
    gold: Callable[[str], bool]
    origin: str  # which set it came from, for the model's description


def multihop_example(query: dict) -> Example:
    """A MultiHop-RAG query: a chunk is gold when it holds one of its evidence facts, compared
    as the benchmark compares them (spaces and newlines removed)."""
    facts = [squash(e["fact"]) for e in query["evidence_list"]]
    return Example(query["query"], lambda text: any(f in squash(text) for f in facts), "multihop")


def question_example(question: str, contains: Sequence[str], origin: str) -> Example:
    """A question file's answerable question: gold when the chunk holds one gold substring."""
    golds = [fold(g) for g in contains]
    return Example(question, lambda text: any(g in fold(text) for g in golds), origin)


def windows(answerer: Answerer, examples: Sequence[Example]) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Each example's feature matrix and labels, from the same window the service re-ranks."""
    retriever, out = answerer.retriever, []
    queries = answerer.analyser.analyse([e.question for e in examples], [()] * len(examples), Filters())
    for example, query in zip(examples, queries):
        ranking = retriever.rank(query, answerer.cfg.top_k) if query.searchable else None
        if ranking is None:
            continue
        window = retrieve.window(ranking, answerer.cfg.rerank_depth)
        labels = np.array([example.gold(r.text) for r in window.rows], dtype=int)
        if labels.any():
            out.append((features(query, window), labels, example.origin))
    return out


def train(groups: list[tuple[np.ndarray, np.ndarray, str]], out: Path) -> dict:
    """Fit the trees, stopping at the best round on every HOLDOUT-th question, and write them
    with their description into `out`."""
    import lightgbm

    if len(groups) < HOLDOUT:
        raise EvalError(f"no training question has gold text among its candidates, or fewer than {HOLDOUT}")
    fit = [g for i, g in enumerate(groups) if i % HOLDOUT]
    held = [g for i, g in enumerate(groups) if not i % HOLDOUT]

    def dataset(part, **kw):
        return lightgbm.Dataset(np.vstack([x for x, _, _ in part]), np.concatenate([y for _, y, _ in part]),
                                group=[len(y) for _, y, _ in part], feature_name=list(FEATURES), **kw)

    train_set = dataset(fit)
    scores: dict = {}
    booster = lightgbm.train(PARAMS, train_set, ROUNDS, valid_sets=[dataset(held, reference=train_set)],
                             valid_names=["held"], callbacks=[lightgbm.early_stopping(50, verbose=False),
                                                              lightgbm.record_evaluation(scores)])
    out.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out / MODEL_FILE), num_iteration=booster.best_iteration)
    about = {
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(), "features": list(FEATURES), "params": PARAMS, "rounds": booster.best_iteration,
        "questions": {o: sum(1 for _, _, g in groups if g == o) for o in sorted({g for _, _, g in groups})},
        "held_back": len(held),
        "held_back_ndcg": {k: round(float(v[booster.best_iteration - 1]), 4) for k, v in scores["held"].items()},
        "importance": dict(zip(FEATURES, booster.feature_importance("gain").round(1).tolist())),
    }
    (out / ABOUT_FILE).write_text(json.dumps(about, indent=2) + "\n", encoding="utf-8")
    return about


def train_ranker(cfg: Config, multihop: Path, question_files: Sequence[Path], out: Path, *,
                 keep_index: Path | None = None, progress: bool = False) -> dict:
    """Train on MultiHop-RAG's even queries and the training half of each question file (asked
    over the benchmark's index, whose articles they are about), with the weighted fusion."""
    examples = [multihop_example(q) for q in read_queries(multihop, "even") if q["evidence_list"]]
    for path in question_files:
        examples += [question_example(q.question, q.contains, path.stem)
                     for q in select_half(load_questions(path), "train") if q.answerable]
    weighted = cfg.replace(search=dataclasses.replace(cfg.search, ranker="weighted"))
    with multihop_answerer(weighted, read_corpus(multihop), keep_index=keep_index, progress=progress) as (answerer, _):
        groups = windows(answerer, examples)
    return train(groups, out)


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None
