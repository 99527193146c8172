"""Can the learned ranker's signals tell an answerable question from an on-topic unanswerable one?

Issue 15 asks whether trees over the best candidate's features separate better than the
abstention score (`Answerer.confidence`, thresholded by `search.min_score`). This trains a
LightGBM classifier on the training questions only (MultiHop-RAG's even queries, nulls as the
unanswerable ones, and the train half of the own set) and reports ROC AUC for both scores on
the own set's report half and on the seed set, plus the abstention each threshold would give.

    python -m bench.answerability --multihop-index DIR --seed-index DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.common import MULTIHOP, ROOT
from qa.asking.answer import Answerer
from qa.asking.learned import features, load_ranker
from qa.asking.retrieve import window
from qa.asking.service import Service
from qa.config import Config
from qa.evaluation.multihop import read_queries
from qa.evaluation.questions import load_questions, select_half
from qa.models import Filters

FACTS, SEED = ROOT / "eval" / "multihop_facts.jsonl", ROOT / "eval" / "seed.jsonl"
THRESHOLDS = (0.1, 0.2, 0.3, 0.5)


def signals(answerer: Answerer, questions: list[tuple[str, bool]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per question: the best candidate's features with the trees' score statistics, the
    abstention score, and whether it is answerable."""
    ranker, rows, scores = load_ranker(), [], []
    queries = answerer.analyser.analyse([q for q, _ in questions], [()] * len(questions), Filters())
    for query in queries:
        ranking = answerer.retriever.rank(query, 10) if query.searchable else None
        if ranking is None:
            rows.append(None)
            scores.append(0.0)
            continue
        x = features(query, window(ranking, answerer.cfg.rerank_depth))
        s = np.sort(ranker.scores(x))[::-1]
        rows.append(np.concatenate([x[0], [s[0], s[0] - (s[1] if len(s) > 1 else s[0]), s.mean(), s.std()]]))
        hits = answerer.retriever.search(query, 10)
        scores.append(answerer.confidence(query, hits) if hits else 0.0)
    width = len(next(r for r in rows if r is not None))
    x = np.array([r if r is not None else np.full(width, np.nan) for r in rows])
    return x, np.array(scores), np.array([a for _, a in questions])


def answerer_for(index: Path) -> Answerer:
    return Service(Config().replace(data_dir=index.parent / "data", index_dir=index)).answerer()


def auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, score)), 3)


def run(multihop_index: Path, seed_index: Path) -> dict:
    import lightgbm

    mh = answerer_for(multihop_index)
    train = [(q["query"], bool(q["evidence_list"])) for q in read_queries(MULTIHOP, "even")]
    facts = load_questions(FACTS)
    train += [(q.question, q.answerable) for q in select_half(facts, "train")]
    x, _, y = signals(mh, train)
    model = lightgbm.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=7, min_child_samples=10,
                                    verbose=-1, random_state=7).fit(x, y)
    sets = {"own set, report half": signals(mh, [(q.question, q.answerable) for q in select_half(facts, "report")]),
            "seed": signals(answerer_for(seed_index), [(q.question, q.answerable) for q in load_questions(SEED)
                                                       if not q.history])}
    out = {}
    for name, (xs, conf, ys) in sets.items():
        p = model.predict_proba(xs)[:, 1]
        out[name] = {"questions": len(ys), "unanswerable": int((~ys).sum()), "auc_confidence": auc(ys, conf),
                     "auc_trees": auc(ys, p),
                     "trees": [{"threshold": t, "abstention_unanswerable": round(float(np.mean(p[~ys] < t)), 4),
                                "false_abstentions": int(np.sum(p[ys] < t))} for t in THRESHOLDS]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.answerability", description=__doc__.splitlines()[0])
    parser.add_argument("--multihop-index", type=Path, required=True, help="a built MultiHop-RAG index folder")
    parser.add_argument("--seed-index", type=Path, required=True, help="an index of data/")
    args = parser.parse_args()
    print(json.dumps(run(args.multihop_index, args.seed_index), indent=2))


if __name__ == "__main__":
    main()
