"""`python -m bench.answers CONFIG OUT.jsonl [--multihop N]` writes every answer (the /api/ask JSON
without `took_ms`) for the seed questions, or for the first N MultiHop-RAG queries (every 7th also
asked with an outlet filter, every 11th with a date range, every 13th as a follow-up of the one
before); `python -m bench.answers --compare A.jsonl B.jsonl` counts the answers that differ.

Run with one code tree (PYTHONPATH) and index, then another: a change of storage that claims to
leave answers unchanged is shown to, answer by answer, not only by the evaluation's figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import MULTIHOP, ROOT


def asks(multihop: int | None, sources: list[str]) -> list[tuple[str, dict]]:
    """(question, keyword arguments of Answerer.ask) in a fixed order."""
    from qa.models import Filters

    if multihop is None:
        lines = (ROOT / "eval" / "seed.jsonl").read_text(encoding="utf-8").splitlines()
        return [(json.loads(line)["question"], {}) for line in lines if line.strip()]
    queries = [q["query"] for q in json.loads((MULTIHOP / "MultiHopRAG.json").read_text())][:multihop]
    out = []
    for i, q in enumerate(queries):
        out.append((q, {}))
        if i % 7 == 0 and sources:
            out.append((q, {"filters": Filters(sources=(sources[i % len(sources)], sources[(i + 3) % len(sources)]))}))
        if i % 11 == 0:
            out.append((q, {"filters": Filters(date_from="2023-10-01", date_to="2023-11-30")}))
        if i % 13 == 0 and i:
            out.append((q, {"history": [queries[i - 1]]}))
    return out


def dump(config: Path, out: Path, multihop: int | None) -> None:
    from qa.asking.service import Service
    from qa.config import load_config

    answerer = Service(load_config(config)).answerer()
    with out.open("w", encoding="utf-8") as fh:
        for question, kwargs in asks(multihop, answerer.store.summary().sources):
            result = answerer.ask(question, 10, **kwargs).to_dict()
            result.pop("took_ms")
            fh.write(json.dumps({"question": question, "asked": repr(kwargs), "result": result}, sort_keys=True) + "\n")


def compare(a: Path, b: Path) -> int:
    """The number of answers that differ (printing the first few questions)."""
    left, right = (p.read_text(encoding="utf-8").splitlines() for p in (a, b))
    if len(left) != len(right):
        raise SystemExit(f"{a} holds {len(left)} answers, {b} {len(right)}")
    differ = [json.loads(x) for x, y in zip(left, right) if x != y]
    for item in differ[:10]:
        print(f"differs: {item['question'][:100]} {item['asked']}")
    print(f"{len(left)} answers, {len(differ)} differ")
    return len(differ)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__)
    ap.add_argument("paths", nargs=2, type=Path, metavar="PATH", help="CONFIG OUT.jsonl, or with --compare A B")
    ap.add_argument("--multihop", type=int, default=None, metavar="N", help="the first N MultiHop-RAG queries")
    ap.add_argument("--compare", action="store_true", help="count the answers that differ between two dumps")
    args = ap.parse_args()
    if args.compare:
        raise SystemExit(1 if compare(*args.paths) else 0)
    dump(*args.paths, args.multihop)


if __name__ == "__main__":
    main()
