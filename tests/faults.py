"""Helpers for the fault tests: a corpus big enough that a build takes seconds, a base index,
and waiting on conditions with a bound."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import requests

from conftest import MULTIHOP, SEED_DATA, make_config
from qa.config import Config

QUESTION = "How many people died in the Khojaly massacre?"


def base_index(tmp: Path, encoder) -> Config:
    """The seed articles built in-process into `tmp/index` (the version that must survive)."""
    from qa.indexing.build import build_index

    data = tmp / "data"
    shutil.copytree(SEED_DATA, data)
    cfg = make_config(tmp, data)
    build_index(cfg, encoder=encoder, progress=False)
    return cfg


def add_multihop(cfg: Config, articles: int) -> None:
    """Add MultiHop-RAG news articles as one .json file, so the next build takes a while."""
    records = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))[:articles]
    (cfg.data_dir / "multihop.json").write_text(json.dumps(records), encoding="utf-8")


class Build:
    """`qa index build` in a subprocess; its output (the progress bar) is collected as it comes."""

    def __init__(self, cfg: Config):
        self.proc = subprocess.Popen(self.command(cfg), cwd=cfg.index_dir.parent,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.output = b""
        threading.Thread(target=self._read, daemon=True).start()

    @staticmethod
    def command(cfg: Config) -> list[str]:
        return [sys.executable, "-m", "qa", "index", "build", "--data", str(cfg.data_dir),
                "--index", str(cfg.index_dir)]

    def _read(self) -> None:
        while chunk := os.read(self.proc.stdout.fileno(), 4096):
            self.output += chunk

    def embedding(self) -> bool:
        """The progress bar is on and not yet closed: chunks are being encoded."""
        return b"embedding:" in self.output and not self.embedded()

    def embedded(self) -> bool:
        """The progress bar was closed (its line ended): vectors, BM25 and metadata are written next."""
        _, bar, after = self.output.rpartition(b"embedding:")
        return bool(bar) and b"\n" in after

    def kill(self) -> int:
        self.proc.kill()
        return self.proc.wait()


def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.002, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] in ("T", "t", "Z")


def slow_motion(proc: subprocess.Popen, condition: Callable[[], bool], timeout: float,
                near: Callable[[], bool] = lambda: True) -> None:
    """Run `proc` in slices, stopped (SIGSTOP) between them, until `condition` holds while it
    is stopped: a moment a plain poll would miss (a file there for a millisecond) is caught,
    and the process stays stopped for a SIGKILL. Slices are 5 ms until `near()`, then 0.2 ms."""
    deadline = time.monotonic() + timeout
    while True:
        os.kill(proc.pid, signal.SIGSTOP)
        wait_for(lambda: _stopped(proc.pid), timeout=5, interval=0.0001, what="the build to stop")
        if condition():
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the moment never came (exit {proc.returncode})")
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.0002 if near() else 0.005)


def served_version(url: str) -> str:
    return requests.get(url + "/api/health", timeout=300).json()["index"]["version"]


def hang_up(server) -> None:
    """SIGHUP to the gunicorn master: its workers check index/CURRENT now."""
    os.kill(server.proc.pid, signal.SIGHUP)
