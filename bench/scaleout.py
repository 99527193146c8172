"""Past one process (issue 12): chunks/s of each encoder backend on the same distinct chunks, how fast
planning alone goes (what a GPU or a cluster would wait for), and the Ray build with 1 and 2 encoder
actors on a local cluster against the single-process build of the same articles.

Every timed build starts from an empty index folder, so no chunk comes from the embedding cache.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from bench.backends import speed
from bench.build import embedded_texts, prepare
from bench.common import qa, write_config
from qa.config import MODEL_BACKENDS, Config
from qa.encoder import Encoder
from qa.indexing.build import plan
from qa.indexing.ingest import read_corpus

CHUNKS = 256


def planning_rate(data: Path) -> dict:
    """Chunks/s of sentence splitting and chunking alone, in one process."""
    cfg = Config(data_dir=data)
    encoder = Encoder(cfg.model)
    articles = read_corpus(data, max_file_bytes=cfg.ingest.max_file_bytes).articles
    started = time.perf_counter()
    chunks = len(plan(articles, encoder, cfg).inputs)
    seconds = time.perf_counter() - started
    return {"articles": len(articles), "chunks": chunks, "seconds": round(seconds, 1),
            "chunks_per_s": round(chunks / seconds, 1)}


def timed_build(work: Path, *args: str, **sections: dict) -> float:
    """Wall seconds of one `qa index build` into an empty index folder."""
    shutil.rmtree(work / "index", ignore_errors=True)
    return qa("index", "build", *args, config=write_config(work, **sections))


def ray_builds(work: Path, articles: int) -> dict:
    """The single-process build, then Ray builds with 1 and 2 actors, of the first `articles` articles."""
    prepare(work, articles)
    single = timed_build(work)
    chunks = json.loads(next((work / "index" / "versions").glob("*/manifest.json")).read_text())["counts"]["chunks"]
    out = {"articles": articles, "chunks": chunks, "single_s": round(single, 1),
           "single_chunks_per_s": round(chunks / single, 1)}
    for actors in (1, 2):
        seconds = timed_build(work, "--ray", build={"ray_actors": actors})
        out[f"ray{actors}_s"] = round(seconds, 1)
        out[f"ray{actors}_chunks_per_s"] = round(chunks / seconds, 1)
    return out


def run(work: Path, ray_articles: int) -> dict:
    texts = embedded_texts(work / "index")[:CHUNKS]  # the build part's MultiHop-RAG chunks: distinct texts
    return {"encoders": {b: speed(b, texts) for b in MODEL_BACKENDS},
            "planning": planning_rate(work / "data"),
            "ray": ray_builds(work / "ray", ray_articles)}
