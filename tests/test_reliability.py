"""Hot reload, pruning around readers, integrity refusals, admin endpoints, the build lock.

New versions are made by copying the seed version under a new name and publishing it with the
real `publish` (atomic pointer + prune): real files, no embedding cost.
"""

from __future__ import annotations

import ast
import gc
import json
import shutil
from pathlib import Path

import pytest

from qa.http.app import create_app
from qa.cli import cli
from qa.errors import IndexUnavailable
from qa.storage.local.manifest import MANIFEST
from qa.asking.service import Service
from qa.storage.local.versions import VERSIONS, build_lock, current_version, publish

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "How many people died in the Khojaly massacre?"


@pytest.fixture()
def cfg(tmp_path, seed_config):
    """A private copy of the seed index (its own CURRENT and versions)."""
    shutil.copytree(seed_config.index_dir, tmp_path / "index")
    return seed_config.replace(index_dir=tmp_path / "index")


def new_version(cfg, name: str, keep: int = 5) -> Path:
    """Publish a copy of the current version as `name` (a real new version, as a build leaves it)."""
    src = current_version(cfg.index_dir)
    dst = cfg.index_dir / VERSIONS / name
    shutil.copytree(src, dst)
    manifest = json.loads((dst / MANIFEST).read_text())
    (dst / MANIFEST).write_text(json.dumps(dict(manifest, version=name)))
    publish(cfg.index_dir, dst, keep=keep)
    return dst


def versions_on_disk(cfg) -> list[str]:
    return sorted(p.name for p in (cfg.index_dir / VERSIONS).iterdir())


def test_reload_swaps_and_in_flight_requests_keep_their_version(cfg, encoder):
    service = Service(cfg, encoder=encoder)
    old = service.answerer()  # what a request that started now holds
    first = old.store.info.version
    assert service.reload() is False  # nothing new
    new_version(cfg, "99990101T000000-aaaaaa")
    assert service.reload() is True
    assert service.answerer().store.info.version == "99990101T000000-aaaaaa"
    # The request that started before the swap finishes on its own version, with real citations.
    result = old.ask(QUESTION)
    assert old.store.info.version == first and not result.abstained
    assert result.to_dict() == service.answerer().ask(QUESTION).to_dict() | {"took_ms": result.took_ms}


def test_prune_spares_a_version_a_server_still_holds(cfg, encoder):
    service = Service(cfg, encoder=encoder)
    served = service.answerer().store.info.version
    new_version(cfg, "99990101T000000-aaaaaa", keep=1)
    new_version(cfg, "99990102T000000-bbbbbb", keep=1)
    # keep=1 would delete both older versions, but the served one is held by the service.
    assert versions_on_disk(cfg) == sorted([served, "99990102T000000-bbbbbb"])
    assert not service.answerer().ask(QUESTION).abstained  # still answers from it
    service.reload()
    gc.collect()  # the old Answerer is gone once no request holds it: so is its hold
    new_version(cfg, "99990103T000000-cccccc", keep=1)
    assert versions_on_disk(cfg) == ["99990102T000000-bbbbbb", "99990103T000000-cccccc"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _set_manifest(field: str, value):
    def damage(path: Path) -> None:
        manifest = json.loads((path.parent / MANIFEST).read_text())
        (path.parent / MANIFEST).write_text(json.dumps(dict(manifest, **{field: value})))
    return damage


# (file damaged, how, what the one-line message must say)
DAMAGE = {
    "truncated vectors": ("vectors.faiss", _truncate, "damaged"),
    "corrupted metadata": ("meta.sqlite", _flip, "checksum"),
    "missing file": ("meta.sqlite", Path.unlink, "missing"),
    "other format version": (MANIFEST, _set_manifest("format_version", 99), "format version 99"),
    "other model": (MANIFEST, _set_manifest("model", "other/model"), "other/model"),
    "unreadable manifest": (MANIFEST, _truncate, "manifest"),
}


def damage(cfg, case: str) -> Path:
    name, how, _ = DAMAGE[case]
    path = current_version(cfg.index_dir) / name
    how(path)
    return path


@pytest.mark.parametrize("case", DAMAGE)
def test_cli_refuses_a_damaged_index_in_one_line(cfg, runner, case):
    path = damage(cfg, case)
    # `index info` shows the manifest as it is: it refuses only one it cannot read.
    commands = [["ask", QUESTION]] + ([["index", "info"]] if case in ("other format version",
                                                                     "unreadable manifest") else [])
    for args in commands:
        result = runner.invoke(cli, [*args, "--index", str(cfg.index_dir), "--data", str(cfg.data_dir)])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output
        assert str(path.parent) in lines[0] and "qa index build" in lines[0] and DAMAGE[case][2] in lines[0]


@pytest.mark.parametrize("case", DAMAGE)
def test_server_start_on_a_damaged_index_is_503_with_the_message(cfg, encoder, case):
    damage(cfg, case)
    client = create_app(cfg, service=Service(cfg, encoder=encoder)).test_client()
    for r in (client.get("/api/health"), client.post("/api/ask", json={"question": QUESTION})):
        assert r.status_code == 503
        assert r.get_json()["error"]["code"] == "index_unavailable"
        assert "qa index build" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("case", DAMAGE)
def test_reload_of_a_damaged_version_keeps_serving_the_old_one(cfg, encoder, case, monkeypatch):
    monkeypatch.setenv("QA_ADMIN_TOKEN", "s3cret")
    service = Service(cfg, encoder=encoder)
    served = service.served_version()
    client = create_app(cfg, service=service).test_client()
    new_version(cfg, "99990101T000000-aaaaaa")
    damage(cfg, case)
    with pytest.raises(IndexUnavailable, match="qa index build"):
        service.reload()
    r = client.post("/api/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 503 and f"still serving version {served}" in r.get_json()["error"]["message"]
    assert client.get("/api/health").get_json()["index"]["version"] == served
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_admin_endpoints_are_off_without_a_token(cfg, encoder, monkeypatch):
    monkeypatch.delenv("QA_ADMIN_TOKEN", raising=False)
    client = create_app(cfg, service=Service(cfg, encoder=encoder)).test_client()
    r = client.post("/api/admin/reload", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Bearer s3cre", "Basic s3cret", "s3cret",
                                    "Bearer s3cret-and-more", "Bearer ünï"])
def test_admin_needs_the_bearer_token(cfg, encoder, monkeypatch, header):
    monkeypatch.setenv("QA_ADMIN_TOKEN", "s3cret")
    client = create_app(cfg, service=Service(cfg, encoder=encoder)).test_client()
    headers = {"Authorization": header.encode().decode("latin-1")} if header else {}
    r = client.post("/api/admin/reload", headers=headers)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert r.get_json()["error"]["code"] == "unauthorized"


def test_admin_reload_swaps_the_served_version(cfg, encoder, monkeypatch):
    monkeypatch.setenv("QA_ADMIN_TOKEN", "s3cret")
    client = create_app(cfg, service=Service(cfg, encoder=encoder)).test_client()
    auth = {"Authorization": "Bearer s3cret"}
    assert client.post("/api/admin/reload", headers=auth).get_json()["reloaded"] is False
    new_version(cfg, "99990101T000000-aaaaaa")
    assert client.post("/api/admin/reload", headers=auth).get_json() == {
        "version": "99990101T000000-aaaaaa", "reloaded": True}
    assert client.get("/api/health").get_json()["index"]["version"] == "99990101T000000-aaaaaa"
    assert client.get("/api/admin/reload", headers=auth).status_code == 405


def test_watcher_polls_the_pointer(cfg, encoder):
    service = Service(cfg, encoder=encoder)
    service.watch(0.05)
    new_version(cfg, "99990101T000000-aaaaaa")
    for _ in range(200):
        if service.served_version() == "99990101T000000-aaaaaa":
            break
        service._wake.wait(0.05)
    assert service.served_version() == "99990101T000000-aaaaaa"


def test_second_build_fails_clearly_while_one_runs(cfg, runner):
    with build_lock(cfg.index_dir):
        result = runner.invoke(cli, ["index", "build", "--index", str(cfg.index_dir), "--data", str(cfg.data_dir)])
    assert result.exit_code == 1
    assert "another build is running" in result.output and "Traceback" not in result.output


UNSAFE_MODULES = {"pickle", "cPickle", "dill", "joblib", "marshal", "shelve", "cloudpickle"}
UNSAFE_CALLS = {"eval", "exec", "torch.load", "yaml.load", "yaml.unsafe_load", "yaml.full_load"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def test_nothing_loads_pickle_or_executes_index_data():
    """FAISS's own format, SQLite, JSON and safe YAML are read; never pickle, eval or exec."""
    for path in sorted((ROOT / "qa").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & UNSAFE_MODULES, where
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in UNSAFE_MODULES, where
            elif isinstance(node, ast.Call):
                assert _dotted(node.func) not in UNSAFE_CALLS, where
                for kw in node.keywords:
                    assert not (kw.arg == "allow_pickle" and getattr(kw.value, "value", False) is True), where


def test_hostile_files_are_skipped_and_the_rest_is_indexed_and_cited(tmp_path, encoder, seed_config):
    """All the bad kinds at once beside the seed articles, through a real build and a question."""
    import os

    from qa.indexing.build import build_index

    data = tmp_path / "data"
    shutil.copytree(seed_config.data_dir, data)
    (data / "binary.txt").write_bytes(b"\x89PNG\x00\x01\x02")
    (data / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    (data / "huge.txt").write_text("word " * 5000)
    (data / "lines.jsonl").write_text('{"text": "One good line."}\n{broken\n{"text": "Another good line."}\n')
    (tmp_path / "secret.txt").write_text("Outside the data folder.")
    os.symlink(tmp_path / "secret.txt", data / "link.txt")
    (data / "Xəbər arxivi 2024.txt").write_text("Khojaly was commemorated in the archive town of Xəbər.")
    cfg = seed_config.replace(data_dir=data, index_dir=tmp_path / "index",
                              ingest=seed_config.ingest.__class__(max_file_bytes=10_000))
    report = build_index(cfg, encoder=encoder, progress=False)
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == {"binary.txt", "latin1.txt", "huge.txt", "lines.jsonl:2", "link.txt"}
    assert report.articles == 5 + 2 + 1
    answer = Service(cfg, encoder=encoder).answerer().ask(QUESTION).answer
    article = (data / answer.citation.path).read_text(encoding="utf-8")
    assert article[answer.citation.start:answer.citation.end] == answer.text
