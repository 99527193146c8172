"""Throughput: requests/s of /api/ask at 1-64 concurrent locust users, each level bounded in time
and by the distinct questions there are, each against a fresh server (no question is asked twice
of one server, so its question-vector cache never answers)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, Server, write_config

LEVELS = (1, 4, 16, 64)


def locust(url: str, users: int, seconds: int, out: Path) -> dict:
    prefix = out / f"locust-{users}"
    subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
                    "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url, "--csv", str(prefix),
                    "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "0"],
                   cwd=ROOT, check=True, capture_output=True)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    return {"users": users, "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
            "rps": round(float(row["Requests/s"]), 1), "p50_ms": float(row["50%"]), "p99_ms": float(row["99%"])}


def run(work: Path, seconds: int, workers: int, threads: int) -> dict:
    levels = []
    for users in LEVELS:
        with Server(write_config(work), work / "index", workers=workers, threads=threads) as server:
            levels.append(locust(server.url, users, seconds, work))
    return {"workers": workers, "threads": threads, "seconds_per_level": seconds, "levels": levels}
