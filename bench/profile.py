"""A pyinstrument profile of /api/ask requests through the real Flask app, model and index."""

from __future__ import annotations

from pathlib import Path

from bench.common import questions, warmup_questions, write_config

REQUESTS = 50


def run(work: Path, lines: int = 45) -> dict:
    from pyinstrument import Profiler

    from qa.http.app import create_app
    from qa.config import load_config

    client = create_app(load_config(write_config(work))).test_client()
    for q in warmup_questions():
        client.post("/api/ask", json={"question": q})
    profiler = Profiler(interval=0.0005)
    with profiler:
        for q in questions(REQUESTS, skip=600):
            assert client.post("/api/ask", json={"question": q}).status_code == 200
    text = profiler.output_text(unicode=False, color=False, short_mode=True)
    return {"requests": REQUESTS, "top": "\n".join(text.strip().splitlines()[:lines])}
