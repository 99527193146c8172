"""Shared fixtures: the real packaged model, real indexes on disk, a real server process."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jsonschema
import pytest
import requests
import yaml
from click.testing import CliRunner

from qa.config import Config

ROOT = Path(__file__).resolve().parents[1]
SEED_DATA = ROOT / "data"
SHARED = ROOT.parent / "shared"
MULTIHOP = SHARED / "eval" / "multihop-rag"


def conforms(response, schema_name: str) -> dict:
    """Validate a real response body against a schema of the served OpenAPI document."""
    from qa.http.openapi import spec

    body = response.get_json()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec(admin=False)["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    return body


def make_config(tmp: Path, data_dir: Path, **changes) -> Config:
    return Config(data_dir=data_dir, index_dir=tmp / "index", **changes)


# search.weak_below above any score (best cosine + coverage_weight × coverage): every reply that
# would quote an answer is weak instead, while abstention stays as it is.
WEAK_EVERYWHERE = 100.0


def weak_everywhere(cfg: Config) -> Config:
    return cfg.replace(search=dataclasses.replace(cfg.search, weak_below=WEAK_EVERYWHERE))


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """An empty cache of ONNX exports (`XDG_CACHE_HOME`) for one test module."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def encoder():
    from qa.encoder import Encoder

    return Encoder(Config().model)


@pytest.fixture(scope="session")
def seed_config(tmp_path_factory, encoder) -> Config:
    """The bundled articles, copied and built once into a temporary index."""
    from qa.indexing.build import build_index

    tmp = tmp_path_factory.mktemp("seed")
    data = tmp / "data"
    shutil.copytree(SEED_DATA, data)
    cfg = make_config(tmp, data)
    build_index(cfg, encoder=encoder, progress=False)
    return cfg


@pytest.fixture(scope="session")
def seed_service(seed_config, encoder):
    from qa.asking.service import Service

    return Service(seed_config, encoder=encoder)


@pytest.fixture(scope="session")
def milvus_lite(tmp_path_factory):
    """Milvus Lite run as a server on a loopback port: the stand-in for a Milvus cluster."""
    pytest.importorskip("milvus_lite")
    from milvus_helpers import LiteServer

    server = LiteServer(tmp_path_factory.mktemp("milvus") / "milvus.db").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus_seed_config(tmp_path_factory, seed_config, encoder, milvus_lite) -> Config:
    """The bundled articles built once into Milvus, from the local seed build's embedding cache
    (nothing is encoded again), under the collection prefix `seed_`."""
    from milvus_helpers import milvus_config
    from qa.indexing.build import build_index
    from qa.storage.local.cache import CACHE_FILE

    index = tmp_path_factory.mktemp("milvus-seed") / "index"
    (index / CACHE_FILE).parent.mkdir(parents=True)
    shutil.copy(seed_config.index_dir / CACHE_FILE, index / CACHE_FILE)
    cfg = milvus_config(seed_config.replace(index_dir=index), milvus_lite.uri, prefix="seed_")
    report = build_index(cfg, encoder=encoder, progress=False, reuse=True)
    assert report.encoded == 0
    return cfg


@pytest.fixture(scope="session", params=["local", "milvus"])
def backend_config(request, seed_config) -> Config:
    """The seed index on each storage backend: the API, page and CLI tests run once on each."""
    return seed_config if request.param == "local" else request.getfixturevalue("milvus_seed_config")


@pytest.fixture(scope="session")
def backend_service(backend_config, seed_config, seed_service, encoder):
    from qa.asking.service import Service

    return seed_service if backend_config is seed_config else Service(backend_config, encoder=encoder)


def backend_args(cfg: Config) -> list[str]:
    """The command-line options that name `cfg`'s data, index and storage backend (in Milvus, a
    collection prefix other than the default comes in a config file: no option names it)."""
    args = ["--data", str(cfg.data_dir), "--index", str(cfg.index_dir), "--backend", cfg.storage.backend]
    if cfg.storage.backend != "milvus":
        return args
    args += ["--milvus-uri", cfg.storage.milvus.uri]
    prefix = cfg.storage.milvus.collection_prefix
    if prefix != Config().storage.milvus.collection_prefix:
        args += ["--config", str(served_config(cfg, cfg.index_dir.parent / f"cli-{prefix}config.yaml"))]
    return args


@pytest.fixture()
def app(backend_config, backend_service):
    from qa.http.app import create_app

    app = create_app(backend_config, service=backend_service)
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner():
    return CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`qa serve` in a subprocess on a free loopback port; stopped by the fixture."""

    def __init__(self, cfg: Config, *extra: str, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "qa", "serve", "--data", str(cfg.data_dir), "--index", str(cfg.index_dir),
               "--host", "127.0.0.1", "--port", str(self.port), *extra]
        # Output goes to a file, not a pipe: one log line per request would fill an unread pipe
        # and block the server.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, cwd=cfg.index_dir.parent, env={**os.environ, **(env or {})},
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self, timeout: float = 120) -> "ServerProcess":
        """Wait for /api/health to answer; on any failure the process is stopped, never leaked."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{self.output()}")
                try:
                    if requests.get(self.url + "/api/health", timeout=2).status_code in (200, 503):
                        return self
                except requests.RequestException:  # not listening yet, or still loading the model
                    pass
                time.sleep(0.2)
            raise RuntimeError("server did not become ready")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def server(seed_config):
    proc = ServerProcess(seed_config).wait_ready()
    yield proc
    proc.stop()


def served_config(cfg: Config, path: Path, **sections) -> Path:
    """A config.yaml of `sections` that also names `cfg`'s storage backend, for `qa serve --config`."""
    if cfg.storage.backend == "milvus":
        m = cfg.storage.milvus
        sections["storage"] = {"backend": "milvus", "milvus": {"uri": m.uri, "collection_prefix": m.collection_prefix}}
    path.write_text(yaml.safe_dump(sections), encoding="utf-8")
    return path


def stateless_server(cfg: Config, root: Path, **sections) -> ServerProcess:
    """`qa serve` of `cfg`'s Milvus index with no index folder and no data folder: an API server
    of a cluster answers from Milvus alone."""
    root.mkdir(parents=True, exist_ok=True)
    config = served_config(cfg, root / "config.yaml", **sections)
    return ServerProcess(cfg.replace(data_dir=root / "data", index_dir=root / "index"), "--config", str(config))


@pytest.fixture(scope="session")
def backend_server(backend_config, seed_config, server, tmp_path_factory):
    """`server` on each storage backend: the local one, then a stateless one on Milvus."""
    if backend_config is seed_config:
        yield server
        return
    proc = stateless_server(backend_config, tmp_path_factory.mktemp("served-milvus")).wait_ready()
    yield proc
    proc.stop()


XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_QUESTION = "What did the banner above the main stage at the harbour festival read?"


@pytest.fixture(scope="session")
def xss_config(tmp_path_factory, encoder) -> Config:
    """An article whose title and text carry markup, in a non-ASCII subfolder (so its doc_id has
    a '/' and non-ASCII letters): pages must show the markup as text and never run it."""
    from qa.indexing.build import build_index

    tmp = tmp_path_factory.mktemp("xss")
    folder = tmp / "data" / "Ünï festivals"
    folder.mkdir(parents=True)
    (folder / "harbour.md").write_text(
        "---\n"
        f"title: '{XSS_SCRIPT} Harbour festival {XSS_IMG}'\n"
        "date: 2024-05-01\n"
        "source: Test Wire\n"
        "url: 'javascript:alert(1)'\n"
        "---\n"
        f"The harbour festival opened on Saturday. Organisers hung a banner above the main stage that read "
        f"{XSS_SCRIPT} in large letters. Beside it, a poster showed {XSS_IMG} in red paint. "
        "Visitors said the lettering was strange but harmless.\n",
        encoding="utf-8")
    cfg = make_config(tmp, tmp / "data")
    build_index(cfg, encoder=encoder, progress=False)
    return cfg


def open_store(cfg: Config):
    """The current version of `cfg`'s index, opened as the service opens it."""
    from qa.storage import open_backend

    backend = open_backend(cfg)
    return backend.open(backend.current(), model=cfg.model.name)


FLOOD_QUESTION = "How many people did the flood in Millbrook kill?"
# A small archive of several outlets, one spelt three ways, that disagree on a count.
OUTLET_ARTICLES = {
    "river-1.md": ("River Post", "2024-03-01", "Flood in Millbrook",
                   "The flood in Millbrook killed 12 people, officials said on Friday. Rescue teams worked through "
                   "the night.\n\nThe river rose by three metres in six hours."),
    "river-2.md": ("RIVER POST", "2024-03-03", "Millbrook counts its losses",
                   "The flood in Millbrook killed 14 people, the mayor said on Sunday. Two bridges were swept away."),
    "river-3.md": ("River Post", "2024-03-06", "Market reopens",
                   "The Millbrook market reopened on Wednesday. Traders set up their stalls on the square."),
    "valley.md": ("Valley Times", "2024-03-02", "Flood toll",
                  "The flood in Millbrook killed 12 people, according to the regional police. Farmers lost their "
                  "harvest."),
    "hill.md": ("Hill Gazette.", "2024-03-05", "Millbrook rebuilds",
                "Volunteers repaired the school roof after the flood. The school reopened on Monday."),
}


@pytest.fixture(scope="session")
def outlets_config(tmp_path_factory, encoder) -> Config:
    """The small multi-outlet archive, built once into a temporary index."""
    from qa.indexing.build import build_index

    tmp = tmp_path_factory.mktemp("outlets")
    (tmp / "data").mkdir()
    for name, (source, date, title, body) in OUTLET_ARTICLES.items():
        (tmp / "data" / name).write_text(f"---\ntitle: {title}\ndate: {date}\nsource: {source}\n---\n{body}\n",
                                         encoding="utf-8")
    cfg = make_config(tmp, tmp / "data")
    build_index(cfg, encoder=encoder, progress=False)
    return cfg
