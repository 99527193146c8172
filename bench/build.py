"""Build: chunks/s of a real `qa index build` of MultiHop-RAG vs raw encode of the same texts
(each chunk as the build embeds it: behind its title/outlet/date header line)."""

from __future__ import annotations

import json
import resource
import sqlite3
from pathlib import Path

from bench.common import MULTIHOP, qa, write_config
from bench.raw import encode_cost, version_dir
from qa.indexing.chunk import header_line
from qa.storage.local.manifest import MANIFEST
from qa.models import Article


def prepare(work: Path, articles: int) -> Path:
    """The first `articles` MultiHop-RAG articles as a data folder (a JSON list the ingester reads)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    corpus = json.loads((MULTIHOP / "corpus.json").read_text())[:articles]
    (data / "corpus.json").write_text(json.dumps(corpus))
    return write_config(work)


def embedded_texts(index_dir: Path) -> list[str]:
    """What the build fed the model: each chunk's text behind its article's header line."""
    version = version_dir(index_dir)
    header = json.loads((version / MANIFEST).read_text())["chunking"]["header"]
    with sqlite3.connect(version / "meta.sqlite") as conn:
        rows = conn.execute("SELECT a.title, a.date, a.source, c.text FROM chunks c "
                            "JOIN articles a USING (doc_id) ORDER BY c.chunk_id").fetchall()
    return [(header_line(Article("", "", "", title=t, date=d, source=s)) if header else "") + text
            for t, d, s, text in rows]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _round(work: Path, config: Path) -> dict:
    """One `qa index build` (its planning processes included), then bare encode of the texts it embedded."""
    cpu = _children_cpu()
    seconds = qa("index", "build", config=config)
    build_cpu = _children_cpu() - cpu
    texts = embedded_texts(work / "index")
    raw_s, raw_cpu = encode_cost(texts, batch_size=32)
    build_rate, raw_rate = len(texts) / seconds, len(texts) / raw_s
    return {"chunks": len(texts), "build_s": round(seconds, 1), "build_chunks_per_s": round(build_rate, 1),
            "raw_chunks_per_s": round(raw_rate, 1), "ratio": round(build_rate / raw_rate, 3),
            "build_cpu_s": round(build_cpu, 1), "raw_cpu_s": round(raw_cpu, 1), "cpu_ratio": round(raw_cpu / build_cpu, 3)}


def run(work: Path, articles: int, rounds: int = 3) -> dict:
    """Wall and CPU time of the build against bare encode, in `rounds` alternating pairs: this
    machine's speed drifts by more than the gap being measured, so one pair can mislead. The
    round with the median ratio is reported, with every round's ratios."""
    config = prepare(work, articles)
    each = [_round(work, config) for _ in range(rounds)]
    median = sorted(each, key=lambda r: r["ratio"])[len(each) // 2]
    return {"articles": articles, **median, "raw_reused_memory": True,
            "rounds": [{"ratio": r["ratio"], "cpu_ratio": r["cpu_ratio"]} for r in each]}
