"""`python -m bench.milvus_calls CONFIG [--questions N]`: where a question's time goes on the Milvus
backend. Every call the store makes to Milvus is timed by kind (operation, collection kind, fields),
over N distinct MultiHop-RAG questions asked in this process after one untimed question; printed
per question, slowest first. CONFIG is a config file whose `storage.milvus.uri` reaches a running
Milvus holding a published version (e.g. the one `python -m bench --backend milvus` builds).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import questions
from qa.asking.service import Service
from qa.config import load_config
from qa.storage.milvus.client import Milvus


def timed(totals: defaultdict, counts: Counter):
    """`Milvus.call`, adding each call's seconds to its kind."""
    call = Milvus.call

    def wrapper(self, name: str, collection: str, *args, **kwargs):
        started = time.perf_counter()
        try:
            return call(self, name, collection, *args, **kwargs)
        finally:
            kind = f"{name} {collection.rsplit('_', 1)[-1]} {','.join(kwargs.get('output_fields') or [])}".strip()
            totals[kind] += time.perf_counter() - started
            counts[kind] += 1
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--questions", type=int, default=50)
    args = ap.parse_args()
    answerer = Service(load_config(args.config)).answerer()
    asked = questions(args.questions + 1)
    answerer.ask(asked[0], 10)
    totals, counts = defaultdict(float), Counter()
    Milvus.call = timed(totals, counts)
    started = time.perf_counter()
    for q in asked[1:]:
        answerer.ask(q, 10)
    n = len(asked) - 1
    print(f"{(time.perf_counter() - started) / n * 1000:.1f} ms a question, "
          f"{sum(totals.values()) / n * 1000:.1f} ms of it in {sum(counts.values()) / n:.1f} Milvus calls")
    for kind, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{seconds / n * 1000:8.1f} ms {counts[kind] / n:5.1f} calls  {kind}")


if __name__ == "__main__":
    main()
