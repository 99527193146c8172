"""What every part needs: the machine's description, a real `qa serve` process, timing helpers."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
MULTIHOP = ROOT.parent / "shared" / "eval" / "multihop-rag"


def machine() -> dict:
    """Cores, CPU model and memory, as the report prints them."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def anon_bytes(pid: int) -> int:
    """RssAnon of a process (Linux): resident memory not backed by a file."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2),
            "n": len(ms)}


def questions(n: int | None = None, skip: int = 0) -> list[str]:
    """Distinct MultiHop-RAG questions (null queries left out): real questions about the corpus;
    `n` of them after the first `skip`, or all the rest."""
    items = json.loads((MULTIHOP / "MultiHopRAG.json").read_text())
    seen, out = set(), []
    for item in items:
        q = item["query"].strip()
        if item["question_type"] != "null_query" and q not in seen:
            seen.add(q)
            out.append(q)
    return out[skip:] if n is None else out[skip:skip + n]


def warmup_questions() -> list[str]:
    """One question of each length up to 64 word pieces: torch builds kernels per input shape, and
    until each length has been seen once the first questions of that length are many times slower."""
    return [" ".join(["news"] * n) + "?" for n in range(1, 64)]


def write_config(work: Path, name: str = "bench-config.yaml", **sections: dict) -> Path:
    """A config file `name` for the bench indexes (project defaults plus `sections`)."""
    import yaml

    path = work / name
    path.write_text(yaml.safe_dump({"data_dir": str(work / "data"), "index_dir": str(work / "index"),
                                    "server": {"reload_interval": 0}, **sections}))
    return path


def qa(*args: str, config: Path) -> float:
    """Run a `qa` command to completion; its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qa", *args, "--config", str(config)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A real `qa serve` on a free loopback port; time to ready is measured from the spawn."""

    config: Path
    index_dir: Path
    workers: int = 1
    threads: int = 4

    def __enter__(self) -> "Server":
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--config", str(self.config), "--index", str(self.index_dir),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
             "--threads", str(self.threads)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        self.ready_s = round(time.perf_counter() - started, 2)
        return self

    def _wait_ready(self, started: float) -> None:
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"qa serve exited with {self.proc.returncode}")
            try:
                if requests.get(self.url + "/api/health", timeout=10).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.perf_counter() - started > 600:
                raise RuntimeError("qa serve was not ready in 600 s")
            time.sleep(0.05)

    def rss_mb(self) -> dict:
        """Resident memory of the gunicorn master and of its largest worker (the one holding model + index),
        and the part of that worker's that is its own (anonymous) memory: the rest is pages of mapped
        files (libraries, the memory-mapped index), the page cache's, shared and reclaimable."""
        master = psutil.Process(self.proc.pid)
        workers = master.children(recursive=True)
        worker = max(workers, key=lambda p: p.memory_info().rss, default=None)
        return {"worker_rss_mb": round(worker.memory_info().rss / 2**20) if worker else 0,
                "worker_anon_mb": round(anon_bytes(worker.pid) / 2**20) if worker else 0,
                "total_rss_mb": round((master.memory_info().rss + sum(p.memory_info().rss for p in workers)) / 2**20)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc) -> None:
        self.stop()


def http_latencies(url: str, qs: list[str], warmup: list[str]) -> list[float]:
    """Latencies of /api/ask measured by a separate client process (bench.client)."""
    out = subprocess.run([sys.executable, "-m", "bench.client", url], input=json.dumps({"questions": qs,
                         "warmup": warmup}), capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)
