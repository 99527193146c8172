"""Encoder backends: speed of torch, ONNX and ONNX int8 on the same texts, and retrieval quality of each.

Quality is `qa eval` on the seed questions (eval/seed.jsonl) and on MultiHop-RAG (the first
`limit` queries, their gold articles only), each with an index built by that backend.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.build import embedded_texts
from bench.common import MULTIHOP, ROOT, percentiles, questions, warmup_questions
from qa.config import MODEL_BACKENDS, ModelConfig

CHUNKS = 256
KEPT = ("questions", "queries", "articles", "chunks", "MRR@10", "recall@5", "Hits@10")
QUERIES = 100


def speed(backend: str, texts: list[str]) -> dict:
    from qa.encoder import Encoder

    enc = Encoder(ModelConfig(backend=backend))
    enc.encode_chunks(texts[:32], [[] for _ in texts[:32]])
    started = time.perf_counter()
    enc.encode_chunks(texts, [[] for _ in texts])
    rate = len(texts) / (time.perf_counter() - started)
    for q in warmup_questions():
        enc.encode_queries([q])
    ms = []
    for q in questions(QUERIES, skip=300):
        t = time.perf_counter()
        enc.encode_queries([q])
        ms.append((time.perf_counter() - t) * 1000)
    return {"chunks_per_s": round(rate, 1), "query_encode": percentiles(ms)}


def quality(backend: str, work: Path, limit: int) -> dict:
    config = work / f"backend-{backend}.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(ROOT / "data"), "index_dir": str(work / f"index-{backend}"),
                                      "model": {"backend": backend}}))
    out = {}
    subprocess.run([sys.executable, "-m", "qa", "index", "build", "--config", str(config)], cwd=ROOT, check=True,
                   capture_output=True)
    runs = {"seed": ["eval/seed.jsonl"], "multihop": ["--multihop", str(MULTIHOP), "--limit", str(limit), "--gold-articles-only"]}
    for name, args in runs.items():
        res = subprocess.run([sys.executable, "-m", "qa", "eval", *args, "--json", "--config", str(config)],
                             cwd=ROOT, check=True, capture_output=True, text=True)
        summary = json.loads(res.stdout)
        summary = summary.get("summary", summary)
        out[name] = {k: v for k, v in summary.items() if k in KEPT}
    return out


def run(work: Path, limit: int) -> dict:
    texts = embedded_texts(work / "index")[:CHUNKS]
    return {b: {**speed(b, texts), **quality(b, work, limit)} for b in MODEL_BACKENDS}
