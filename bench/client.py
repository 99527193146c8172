"""The HTTP client of the latency parts, in its own process: POST /api/ask once per question."""

from __future__ import annotations

import json
import sys
import time

import requests


def main() -> None:
    url = sys.argv[1] + "/api/ask"
    job = json.load(sys.stdin)
    latencies = []
    with requests.Session() as session:
        for q in job["warmup"]:
            session.post(url, json={"question": q}, timeout=60).raise_for_status()
        for q in job["questions"]:
            started = time.perf_counter()
            session.post(url, json={"question": q}, timeout=60).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    json.dump(latencies, sys.stdout)


if __name__ == "__main__":
    main()
