"""End to end: a real `qa serve` process over a real index on disk, with the real model."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from conftest import ServerProcess, make_config

pytestmark = pytest.mark.e2e

QUESTION = "How many people died in the Khojaly massacre?"


def test_served_answer_cites_exact_offsets(server, seed_config):
    r = requests.post(server.url + "/api/ask", json={"question": QUESTION}, timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert any("613 people" in p["text"] for p in body["passages"])
    for p in body["passages"]:
        c = p["citation"]
        source = (seed_config.data_dir / c["path"]).read_text(encoding="utf-8")
        assert source[c["start"]:c["end"]] == p["text"]
    a = body["answer"]
    source = (seed_config.data_dir / a["citation"]["path"]).read_text(encoding="utf-8")
    assert source[a["citation"]["start"]:a["citation"]["end"]] == a["text"]


def test_served_errors_are_json(server):
    r = requests.post(server.url + "/api/ask", data="{", headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = requests.post(server.url + "/api/ask", data=b"x" * (70 * 1024), headers={"Content-Type": "application/json"},
                      timeout=10)
    assert r.status_code == 413 and "error" in r.json()


def test_serve_builds_missing_index(tmp_path, seed_config):
    cfg = make_config(tmp_path, seed_config.data_dir)
    proc = ServerProcess(cfg)
    try:
        proc.wait_ready(timeout=180)
        health = requests.get(proc.url + "/api/health", timeout=10).json()
        assert health["index"]["articles"] == 5
        assert (cfg.index_dir / "CURRENT").exists()
    finally:
        proc.stop()


def test_serve_stops_with_the_reason_when_the_missing_index_cannot_be_built(tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    out = subprocess.run([sys.executable, "-m", "qa", "serve", "--data", str(empty), "--index", str(tmp_path / "index"),
                          "--port", "0"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert f"no readable articles in {empty}" in out.stderr and "could not be built" in out.stderr
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_cli_subprocess_ask(seed_config):
    out = subprocess.run([sys.executable, "-m", "qa", "ask", QUESTION, "--data", str(seed_config.data_dir),
                          "--index", str(seed_config.index_dir)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "613 people" in out.stdout
