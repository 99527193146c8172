"""Update: an incremental `qa index update` after one changed article, against a full rebuild."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, qa, write_config


def has_update() -> bool:
    out = subprocess.run([sys.executable, "-m", "qa", "index", "--help"], cwd=ROOT, capture_output=True, text=True)
    return " update " in out.stdout


def run(work: Path, rebuild_s: float | None, config: Path | None = None) -> dict:
    if not has_update():
        return {"available": False}
    config = config or write_config(work)
    corpus = work / "data" / "corpus.json"
    articles = json.loads(corpus.read_text())
    articles[0]["body"] += "\n\nThis paragraph was added by the benchmark to change one article."
    corpus.write_text(json.dumps(articles))
    try:
        update_s = qa("index", "update", config=config)
    finally:
        articles[0]["body"] = articles[0]["body"].rsplit("\n\nThis paragraph", 1)[0]
        corpus.write_text(json.dumps(articles))
    rebuild_s = rebuild_s or qa("index", "build", config=config)
    return {"available": True, "update_s": round(update_s, 1), "rebuild_s": round(rebuild_s, 1),
            "speedup": round(rebuild_s / update_s, 1)}
