"""Build: chunks/s of a real `qa index build` of MultiHop-RAG vs raw encode of the same chunk texts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bench.common import MULTIHOP, qa, write_config
from bench.raw import encode_rate, version_dir


def prepare(work: Path, articles: int) -> Path:
    """The first `articles` MultiHop-RAG articles as a data folder (a JSON list the ingester reads)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    corpus = json.loads((MULTIHOP / "corpus.json").read_text())[:articles]
    (data / "corpus.json").write_text(json.dumps(corpus))
    return write_config(work)


def chunk_texts(index_dir: Path) -> list[str]:
    with sqlite3.connect(version_dir(index_dir) / "meta.sqlite") as conn:
        return [r[0] for r in conn.execute("SELECT text FROM chunks ORDER BY chunk_id")]


def run(work: Path, articles: int) -> dict:
    config = prepare(work, articles)
    seconds = qa("index", "build", config=config)
    texts = chunk_texts(work / "index")
    build_rate = len(texts) / seconds
    raw_rate = encode_rate(texts, batch_size=32)
    return {"articles": articles, "chunks": len(texts), "build_s": round(seconds, 1),
            "build_chunks_per_s": round(build_rate, 1), "raw_chunks_per_s": round(raw_rate, 1),
            "ratio": round(build_rate / raw_rate, 3)}
