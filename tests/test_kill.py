"""SIGKILL `qa index build` at several points while a real server serves the previous version.

The phase is seen from outside: the embedding runs (its progress bar) before the new version
folder exists, then BM25, the FAISS file, the metadata and the manifest appear in turn in it.
The build runs in slow motion (SIGSTOP/SIGCONT slices) so that even the millisecond between the
FAISS file and the metadata is caught.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from conftest import ServerProcess
from faults import QUESTION, Build, add_multihop, base_index, hang_up, served_version, slow_motion, wait_for
from qa.storage.local.meta import META_FILE
from qa.storage.local.manifest import MANIFEST, read_manifest
from qa.storage.local.vectors import VECTORS_FILE
from qa.storage.local.versions import POINTER, VERSIONS, current_version

pytestmark = pytest.mark.e2e

# phase -> the state of the new version folder in which the build is killed (None: there is none yet)
PHASES = {
    "during embedding": None,
    # The FAISS file is written in well under a millisecond and the metadata file is created right
    # after it; on a busy machine the kill lands in that write or just after it.
    "at the FAISS write": lambda d: (d / VECTORS_FILE).exists() and not (d / MANIFEST).exists(),
    "during the metadata write": lambda d: (d / META_FILE).exists() and not (d / MANIFEST).exists(),
}
ARTICLES = 8  # MultiHop-RAG articles added: a build of some seconds


def check_served(server, cfg, version: str) -> None:
    """The server still answers from `version`, with citations that slice the article exactly."""
    assert served_version(server.url) == version
    body = requests.post(server.url + "/api/ask", json={"question": QUESTION}, timeout=60).json()
    assert not body["abstained"]
    cite = body["answer"]["citation"]
    text = (cfg.data_dir / cite["path"]).read_text(encoding="utf-8")
    assert text[cite["start"]:cite["end"]] == body["answer"]["text"]


def kill_build(cfg, state) -> tuple[int, list[str] | None]:
    """Start a build, SIGKILL it once the new version folder is in `state` (None: while it is
    embedding, before any folder exists); the exit code and what the folder held."""
    versions = cfg.index_dir / VERSIONS
    known = set(os.listdir(versions))
    build = Build(cfg)
    try:
        if state is None:
            slow_motion(build.proc, build.embedding, timeout=180)
            seen = None
            assert set(os.listdir(versions)) == known  # nothing is written before the vectors exist
        else:
            new = wait_for(lambda: next((versions / n for n in set(os.listdir(versions)) - known), None),
                           timeout=180, what="the new version folder")
            # Fine slices once the progress bar says the embedding is done.
            slow_motion(build.proc, lambda: state(new), timeout=180, near=build.embedded)
            seen = sorted(os.listdir(new))
            assert state(new), seen
    finally:
        code = build.kill()
    return code, seen


def test_killed_builds_leave_the_served_version_intact_and_the_next_build_succeeds(tmp_path, encoder):
    cfg = base_index(tmp_path, encoder)
    before = current_version(cfg.index_dir)
    add_multihop(cfg, ARTICLES)
    versions = cfg.index_dir / VERSIONS
    server = ServerProcess(cfg).wait_ready()
    try:
        check_served(server, cfg, before.name)
        for phase, state in PHASES.items():
            code, seen = kill_build(cfg, state)
            assert code == -9, f"missed '{phase}': {seen}"
            print(f"killed {phase}: new version folder held {seen}")
            assert (cfg.index_dir / POINTER).read_text().strip() == before.name
            read_manifest(before)  # sizes and checksums of every file still match
            hang_up(server)  # a reload now must keep the same, intact version
            check_served(server, cfg, before.name)

        done = subprocess.run(Build.command(cfg), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        after = current_version(cfg.index_dir)
        assert after.name != before.name and read_manifest(after)["counts"]["articles"] == 5 + ARTICLES
        # Leftovers of the killed builds are pruned; complete versions are kept (keep_versions=2).
        assert sorted(os.listdir(versions)) == sorted([before.name, after.name])
        hang_up(server)
        wait_for(lambda: served_version(server.url) == after.name, timeout=60, interval=0.2, what="the reload")
        check_served(server, cfg, after.name)
    finally:
        server.stop()
