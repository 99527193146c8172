"""The Milvus backend against the real engine: Milvus Lite run as a server on a loopback port.

The seed articles are built once into Milvus (from the local seed build's embedding cache, so
the model encodes nothing again) and compared with the local backend chunk by chunk, score by
score and answer by answer. Versions, leases, the build lock and killed builds are tested on
small model-free versions; the outage and the stateless server on real `qa serve` processes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml

pytest.importorskip("milvus_lite")

from conftest import ROOT, ServerProcess, make_config
from milvus_helpers import LiteServer, milvus_config, publish, small_corpus, synthetic
from qa.config import ModelConfig
from qa.errors import IndexUnavailable, QAError
from qa.models import Article, Filters
from qa.storage import open_backend
from qa.storage.milvus.catalog import split_text
from qa.text import terms

pytestmark = pytest.mark.e2e

QUESTIONS = [json.loads(line) for line in (ROOT / "eval" / "seed.jsonl").read_text(encoding="utf-8").splitlines()]
QUESTION = "How many people died in the Khojaly massacre?"


def synthetic_config(tmp_path: Path, milvus_lite: LiteServer, prefix: str, **kw):
    """A config for model-free versions (see milvus_helpers.synthetic) under its own prefix."""
    cfg = make_config(tmp_path, tmp_path / "data", model=ModelConfig(name="synthetic"))
    return milvus_config(cfg, milvus_lite.uri, prefix=prefix, **kw)


def opened(cfg):
    backend = open_backend(cfg)
    return backend.open(backend.current(), model=cfg.model.name)


@pytest.fixture(scope="module")
def stores(seed_config, milvus_seed_config):
    local, milvus = opened(seed_config), opened(milvus_seed_config)
    yield local, milvus
    milvus.close()


def test_the_same_chunks_articles_and_summary_as_local(stores):
    local, milvus = stores
    ids = list(range(local.info.chunks))
    assert milvus.info.chunks == local.info.chunks and milvus.info.segments == local.info.segments
    assert milvus.chunks(ids) == local.chunks(ids)
    assert milvus.chunk_meta(ids) == local.chunk_meta(ids)
    assert milvus.terms(ids) == local.terms(ids)
    docs = {row.doc_id for row in local.chunks(ids).values()}
    assert milvus.articles(docs) == local.articles(docs)
    for doc in docs:
        article = milvus.article(doc)
        assert article == local.article(doc)
    for row in milvus.chunks(ids).values():  # offsets slice the article text Milvus holds, exactly
        assert milvus.article(row.doc_id).text[row.start:row.end] == row.text
    assert milvus.summary() == local.summary()
    assert milvus.article("no such article") is None and milvus.chunks([10_000]) == {}


def test_bm25_scores_and_idf_equal_local(stores):
    local, milvus = stores
    ids = list(range(local.info.chunks))
    for q in QUESTIONS:
        ts = terms(q["question"])
        mine, theirs = milvus.lexical([ts])[0], local.lexical([ts])[0]
        scores = theirs.of(ids)
        assert np.allclose(mine.of(ids), scores, atol=1e-5), q["question"]
        top, want = mine.top(10), theirs.top(10)
        assert sorted(top.values()) == pytest.approx(sorted(want.values()), abs=1e-5)
        cut = min(want.values(), default=0.0)  # ids may differ only among chunks tied at the cut
        assert all(abs(scores[i] - cut) < 1e-5 for i in top.keys() ^ want.keys())
        assert mine.best() == pytest.approx(theirs.best(), abs=1e-5)
        assert milvus.idf(ts + ["zzzunseen"]) == pytest.approx(local.idf(ts + ["zzzunseen"]))
    fresh = milvus.lexical([terms(QUESTION)])[0]  # scores of given ids before any top search
    assert np.allclose(fresh.of([14, 3, 0]), local.lexical([terms(QUESTION)])[0].of([14, 3, 0]), atol=1e-5)
    assert fresh.best() == pytest.approx(local.lexical([terms(QUESTION)])[0].best(), abs=1e-5)
    empty = milvus.lexical([[]])[0]
    assert empty.top(5) == {} and not empty.of([1, 2]).any() and empty.best() == 0.0
    question = terms(QUESTION)  # a question and its clauses asked together: each list's own scores
    lists = [question, question[:2], question[2:], []]
    for mine, theirs in zip(milvus.lexical(lists), local.lexical(lists), strict=True):
        assert np.allclose(mine.of(ids), theirs.of(ids), atol=1e-5)


def test_seed_answers_equal_local_with_and_without_abstention(stores, encoder, seed_config):
    """All 76 seed questions, with their conversations: the same passages, scores and answers."""
    from qa.asking.analyse import QueryVectors
    from qa.asking.answer import Answerer

    local, milvus = stores
    vectors = QueryVectors(encoder)
    questions = [q["question"] for q in QUESTIONS]
    histories = [q.get("history", []) for q in QUESTIONS]
    for search in (seed_config.search, dataclasses.replace(seed_config.search, min_score=-1e9)):
        results = [[dict(r.to_dict(), took_ms=0) for r in
                    Answerer(store, encoder, search, vectors).ask_batch(questions, 5, histories=histories)]
                   for store in (local, milvus)]
        assert results[0] == results[1]


FILTERS = [Filters(date_from="2025-01-01"), Filters(date_to="2024-01-01"),
           Filters(date_from="2023-06-01", date_to="2024-12-31"), Filters(sources=("TREND",)),
           Filters(sources=("azernews", "Trend")), Filters(doc_ids=("002_7488947501e1abfc",)),
           Filters(date_from="2030-01-01"), Filters(sources=('x" or id >= 0 or "',))]


@pytest.mark.parametrize("where", FILTERS, ids=str)
def test_filters_pass_the_same_chunks_as_local(stores, encoder, where):
    local, milvus = stores
    vector = encoder.encode_queries([QUESTION])[0]
    assert milvus.dense_top(vector, 50, where).keys() == local.dense_top(vector, 50, where).keys()
    ts = terms(QUESTION)
    assert milvus.lexical([ts])[0].top(50, where) == pytest.approx(local.lexical([ts])[0].top(50, where), abs=1e-5)


def test_vectors_equal_local(stores, encoder, monkeypatch):
    import qa.storage.milvus.store as milvus_store

    monkeypatch.setattr(milvus_store, "VECTOR_BATCH", 3)  # the sentence vectors come in several queries
    local, milvus = stores
    vector = encoder.encode_queries([QUESTION])[0]
    ids = [0, 5, 14, 23]
    assert milvus.cosines(vector, ids) == pytest.approx(local.cosines(vector, ids), abs=1e-5)
    assert milvus.dense_top(vector, 5) == pytest.approx(local.dense_top(vector, 5), abs=1e-5)
    mine, theirs = milvus.sentence_vectors(ids), local.sentence_vectors(ids)
    assert mine.keys() == theirs.keys() and all(np.allclose(mine[c], theirs[c]) for c in ids)
    for row in local.chunks(ids).values():
        (segs, vecs), (want_segs, want_vecs) = milvus.sentences(row), local.sentences(row)
        assert segs == want_segs and np.allclose(vecs, want_vecs)
    assert milvus.cosines(vector, []) == {} and milvus.sentence_vectors([]) == {} and milvus.dense_top(vector, 0) == {}


def test_split_text_cuts_between_characters_within_the_limit():
    text = "aé😀" * 10
    for limit in (4, 5, 7, 13):
        pieces = split_text(text, limit)
        assert "".join(pieces) == text and all(len(p.encode()) <= limit for p in pieces)
    assert split_text("") == [""]


def test_long_texts_and_unusual_article_ids_round_trip(tmp_path, milvus_lite):
    """An article over VARCHAR's 65,535 bytes (stored in parts), a chunk over it (read back from the
    article), and ids with quotes, a newline, a backslash and non-ASCII letters."""
    long_text = ("Ünï " * 6000 + "end. ") * 4 + "Last sentence here."
    odd = Article('we"ird\\ \nÜnï/x.txt', "x.txt", "First line. " + long_text, title="T" * 70_000, source='Q"uote')
    cfg = synthetic_config(tmp_path, milvus_lite, "long_")
    content = synthetic([odd, *small_corpus()])
    assert max(len(c.text.encode()) for c in content.articles[0].chunks) > 65_535
    publish(cfg, content)
    store = opened(cfg)
    try:
        assert store.article(odd.doc_id).text == odd.text
        rows = store.chunks(range(store.info.chunks))
        for row in rows.values():
            source = odd.text if row.doc_id == odd.doc_id else {a.doc_id: a for a in small_corpus()}[row.doc_id].text
            assert row.text == source[row.start:row.end]
        assert store.articles([odd.doc_id])[odd.doc_id].title == "T" * 65_535
        vector = content.vectors[0]
        assert set(store.dense_top(vector, 50, Filters(doc_ids=(odd.doc_id,)))) == \
            {i for i, r in rows.items() if r.doc_id == odd.doc_id}
        assert store.dense_top(vector, 50, Filters(sources=('q"UOTE',)))
    finally:
        store.close()


def collections(milvus_lite: LiteServer, prefix: str) -> set[str]:
    """The versions that have collections under `prefix`."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=milvus_lite.uri)
    try:
        return {n[len(prefix):].rsplit("_", 1)[0] for n in client.list_collections()
                if n.startswith(prefix) and n != prefix + "meta"}
    finally:
        client.close()


def test_old_versions_are_dropped_unless_a_server_leases_them(tmp_path, milvus_lite):
    cfg = synthetic_config(tmp_path, milvus_lite, "prune_", keep=1)
    first = publish(cfg, synthetic(small_corpus(), seed=1))
    held = opened(cfg)  # a server serving the first version
    second = publish(cfg, synthetic(small_corpus(), seed=2))
    third = publish(cfg, synthetic(small_corpus(), seed=3))
    assert collections(milvus_lite, "prune_") == {first, third}  # the second: neither kept nor leased
    assert held.chunks([0]) and held.info.version == first
    held.close()
    fourth = publish(cfg, synthetic(small_corpus(), seed=4))
    assert collections(milvus_lite, "prune_") == {fourth}
    backend = open_backend(cfg)
    assert backend.current() == fourth and backend.manifest(fourth)["counts"]["chunks"] == 4
    with pytest.raises(IndexUnavailable, match="not in Milvus"):
        backend.open(second, model="synthetic")


def test_an_expired_lease_no_longer_holds_a_version(tmp_path, milvus_lite):
    cfg = synthetic_config(tmp_path, milvus_lite, "lease_", keep=1)
    first = publish(cfg, synthetic(small_corpus(), seed=1))
    backend = open_backend(cfg)
    held = backend.open(first, model="synthetic")
    backend.catalog.renew(dict(backend._held), -1)  # as if its server was killed long ago
    second = publish(cfg, synthetic(small_corpus(), seed=2))
    assert collections(milvus_lite, "lease_") == {second}
    with pytest.raises(IndexUnavailable, match="was removed"):
        held.summary()
    held.close()


def test_a_server_renews_its_leases_when_it_polls(tmp_path, milvus_lite):
    cfg = synthetic_config(tmp_path, milvus_lite, "renew_", keep=1)
    first = publish(cfg, synthetic(small_corpus(), seed=1))
    backend = open_backend(cfg)
    store = backend.open(backend.current(), model="synthetic")
    rows = backend.catalog._query('kind == "lease"')
    assert [r["version"] for r in rows] == [first]
    time.sleep(0.05)
    backend.current()
    assert backend.catalog._query('kind == "lease"')[0]["expires"] > rows[0]["expires"]
    store.close()
    assert backend.catalog._query('kind == "lease"') == []


def lock_row(cfg, host: str, pid: int, expires_in: float) -> None:
    backend = open_backend(cfg)
    backend.catalog.ensure()
    backend.catalog._put([{"key": "lock", "kind": "lock", "expires": time.time() + expires_in,
                           "value": json.dumps({"host": host, "pid": pid})}])


def test_the_build_lock_refuses_a_running_build_and_takes_over_a_dead_one(tmp_path, milvus_lite):
    cfg = synthetic_config(tmp_path, milvus_lite, "lock_")
    content = synthetic(small_corpus())
    lock_row(cfg, socket.gethostname(), os.getppid(), 300)  # a live process on this host
    with pytest.raises(QAError, match=f"another build is running on Milvus at {milvus_lite.uri}") as err:
        publish(cfg, content)
    assert err.value.status == 409
    lock_row(cfg, "elsewhere", 1, 300)  # another host, not expired
    with pytest.raises(QAError, match="host elsewhere"):
        publish(cfg, content)
    lock_row(cfg, "elsewhere", 1, -1)  # expired
    publish(cfg, content)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_row(cfg, socket.gethostname(), dead.pid, 300)  # a killed build of this host
    version = publish(cfg, content)
    assert open_backend(cfg).current() == version
    lock_row(cfg, socket.gethostname(), os.getpid(), 300)  # this process's own, left by a failed unlock
    publish(cfg, content)
    assert open_backend(cfg).catalog._query('key == "lock"') == []


def test_no_index_another_model_and_bad_settings_are_clear_errors(tmp_path, milvus_lite):
    cfg = synthetic_config(tmp_path, milvus_lite, "empty_")
    backend = open_backend(cfg)
    assert not backend.exists()
    with pytest.raises(IndexUnavailable, match=f"no index in Milvus at {milvus_lite.uri}.*qa index build"):
        backend.current()
    publish(cfg, synthetic(small_corpus()))
    with pytest.raises(IndexUnavailable, match="built with model 'synthetic'"):
        backend.open(backend.current(), model="other")
    with pytest.raises(IndexUnavailable, match="not in Milvus"):
        backend.open("not-a-version", model="synthetic")
    from qa.errors import ConfigError

    with pytest.raises(ConfigError, match="collection_prefix"):
        open_backend(milvus_config(cfg, milvus_lite.uri, prefix="9bad-"))
    with pytest.raises(IndexUnavailable, match=f"Milvus at {milvus_lite.uri} failed"):
        publish(cfg.replace(storage=dataclasses.replace(
            cfg.storage, milvus=dataclasses.replace(cfg.storage.milvus, index_type="HNSW"))),
            synthetic(small_corpus()))  # Milvus Lite builds FLAT, IVF_FLAT and AUTOINDEX only


def test_a_version_whose_counts_do_not_match_is_neither_published_nor_opened(tmp_path, milvus_lite, monkeypatch):
    from pymilvus import MilvusClient

    import qa.storage.milvus.write as write

    cfg = synthetic_config(tmp_path, milvus_lite, "count_")
    served = publish(cfg, synthetic(small_corpus()))
    with monkeypatch.context() as patch:
        patch.setattr(write, "count_rows", lambda db, name: -1)  # as if Milvus lost rows
        with pytest.raises(IndexUnavailable, match="the version is not published"):
            publish(cfg, synthetic(small_corpus()))
    assert open_backend(cfg).current() == served
    client = MilvusClient(uri=milvus_lite.uri)
    client.delete(f"count_{served}_chunks", filter="id == 0")  # a damaged version
    client.close()
    with pytest.raises(IndexUnavailable, match="does not match its manifest; run `qa index build`"):
        opened(cfg)


def test_the_milvus_backend_without_its_packages_says_what_to_install(tmp_path, monkeypatch):
    from qa.errors import ConfigError

    monkeypatch.setitem(sys.modules, "qa.storage.milvus", None)  # as if pymilvus were not installed
    with pytest.raises(ConfigError, match=r"pip install -e \.\[milvus\]"):
        open_backend(milvus_config(make_config(tmp_path, tmp_path), "http://127.0.0.1:1"))


def test_the_dense_index_type_and_its_parameters_come_from_config(tmp_path, milvus_lite):
    cfg = synthetic_config(tmp_path, milvus_lite, "ivf_")
    cfg = cfg.replace(storage=dataclasses.replace(
        cfg.storage, milvus=dataclasses.replace(cfg.storage.milvus, index_type="IVF_FLAT")),
        vectors=dataclasses.replace(cfg.vectors, nlist=2, nprobe=2))
    content = synthetic(small_corpus())
    version = publish(cfg, content)
    storage = open_backend(cfg).manifest(version)["storage"]
    assert storage["index_type"] == "IVF_FLAT" and storage["index_params"] == {"nlist": 2}
    store = opened(cfg)
    assert store.search_params == {"nprobe": 2}
    assert next(iter(store.dense_top(content.vectors[1], 1))) == 1  # all lists probed: exact
    store.close()


def test_the_command_line_names_an_unreachable_milvus_in_one_line(tmp_path):
    config = config_file(tmp_path / "config.yaml", {"timeout": 1})
    uri = f"http://127.0.0.1:{LiteServer(tmp_path / 'none.db').port}"
    out = subprocess.run([sys.executable, "-m", "qa", "ask", QUESTION, "--config", str(config), "--milvus-uri", uri],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and f"Error: Milvus at {uri} failed" in out.stderr and "Traceback" not in out.stderr


def test_an_unreachable_milvus_is_index_unavailable_naming_it(tmp_path):
    cfg = synthetic_config(tmp_path, LiteServer(tmp_path / "down.db"), "down_", timeout=1)
    uri = cfg.storage.milvus.uri
    started = time.monotonic()
    version = "20250101T000000000000Z_abcdef"
    calls = [lambda: open_backend(cfg).exists(), lambda: open_backend(cfg).current(),
             lambda: open_backend(cfg).open(version, model="m"), lambda: open_backend(cfg).manifest(version),
             lambda: publish(cfg, synthetic(small_corpus()))]
    assert all(f"Milvus at {uri} failed" in message for message in failures(calls))
    assert time.monotonic() - started < 30


def failures(calls: list) -> list[str]:
    """Each call's IndexUnavailable message (all run at once: each waits out the timeout)."""
    def run(call) -> str:
        try:
            call()
        except IndexUnavailable as exc:
            return exc.message
        return "no error"

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_a_store_fails_while_milvus_is_down_and_recovers_after(tmp_path):
    """Every Store call during an outage is IndexUnavailable naming the URI; the same store
    answers again once Milvus is back."""
    lite = LiteServer(tmp_path / "outage.db").start()
    try:
        cfg = synthetic_config(tmp_path, lite, "out_", timeout=1)
        content = synthetic(small_corpus())
        publish(cfg, content)
        store = opened(cfg)
        vector, row = content.vectors[0], store.chunks([0])[0]
        calls = [lambda: store.dense_top(vector, 3), lambda: store.cosines(vector, [0]),
                 lambda: store.lexical([["harbour"]])[0].top(3), lambda: store.lexical([["harbour"]])[0].of([0]),
                 lambda: store.lexical([["harbour"]])[0].best(), lambda: store.idf(["harbour"]),
                 lambda: store.sentence_vectors([0]), lambda: store.sentences(row), lambda: store.chunks([0]),
                 lambda: store.chunk_meta([0]), lambda: store.article("a.txt"), lambda: store.articles(["a.txt"]),
                 lambda: store.summary()]
        expected = [call() for call in calls]
        other = opened(cfg)
        lite.stop()
        other.close()  # its lease cannot be given back now: it expires instead
        assert all(f"Milvus at {lite.uri} failed" in message for message in failures(calls))
        lite.start()
        got = [call() for call in calls]
        assert [repr(g) for g in got] == [repr(e) for e in expected]
        store.close()
    finally:
        lite.stop()


def test_the_default_uri_is_embedded_milvus_lite_in_the_index_folder(tmp_path):
    from milvus_lite.server_manager import server_manager_instance

    cfg = synthetic_config(tmp_path, LiteServer(tmp_path / "unused.db"), "emb_")
    cfg = cfg.replace(storage=dataclasses.replace(
        cfg.storage, milvus=dataclasses.replace(cfg.storage.milvus, uri="milvus.db")))
    db = cfg.index_dir / "milvus.db"
    try:
        version = publish(cfg, synthetic(small_corpus()))
        assert db.exists() and open_backend(cfg).current() == version
        # Another process cannot open the file while this one has it.
        out = subprocess.run([sys.executable, "-m", "qa", "index", "info", "--index", str(cfg.index_dir),
                              "--backend", "milvus"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 1 and f"Milvus at {db} failed: another process has it open" in out.stderr
        assert open_backend(cfg).current() == version  # and its holder still has it
    finally:
        server_manager_instance.release_server(str(db))


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from milvus_helpers import milvus_config, publish, small_corpus, synthetic
from conftest import make_config
from pathlib import Path
from qa.config import ModelConfig
import qa.storage.milvus as backend
from qa.storage.milvus.catalog import Catalog
from qa.storage.milvus.client import Milvus

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

phase = sys.argv[1]
if phase == "mid-insert":
    call, inserts = Milvus.slow_call, []
    def counting(self, method, *args, **kwargs):
        if method == "insert":
            inserts.append(1)
            if len(inserts) == 2:  # the chunks are in, the sentences not
                die()
        return call(self, method, *args, **kwargs)
    Milvus.slow_call = counting
elif phase == "before the version's document":
    Catalog.put_doc = die
elif phase == "before the pointer":
    Catalog.set_pointer = die
elif phase == "before pruning":
    backend.MilvusBackend.prune = die
tmp = Path(sys.argv[3])
cfg = milvus_config(make_config(tmp, tmp / "data", model=ModelConfig(name="synthetic")), sys.argv[2],
                    prefix="kill_", keep=1)
publish(cfg, synthetic(small_corpus(), seed=int(sys.argv[4])))
"""

PHASES = ["mid-insert", "before the version's document", "before the pointer", "before pruning"]


def test_killed_builds_leave_a_complete_version_in_service_and_the_next_build_cleans_up(tmp_path, milvus_lite):
    cfg = synthetic_config(tmp_path, milvus_lite, "kill_", keep=1)
    script = KILL_SCRIPT.format(tests=str(ROOT / "tests"))
    served = publish(cfg, synthetic(small_corpus(), seed=0))
    for seed, phase in enumerate(PHASES, 1):
        done = subprocess.run([sys.executable, "-c", script, phase, milvus_lite.uri, str(tmp_path), str(seed)],
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == -signal.SIGKILL, f"{phase}: {done.stderr[-2000:]}"
        backend = open_backend(cfg)
        pointed = backend.current()
        if phase == "before pruning":  # the flip happened: the new version is whole
            assert pointed != served
            served = pointed
        assert pointed == served, phase
        store = backend.open(pointed, model="synthetic")
        assert store.summary().articles == 2 and len(store.chunks(range(4))) == 4
        store.close()
    assert len(collections(milvus_lite, "kill_")) > 1  # leftovers of the killed builds
    final = publish(cfg, synthetic(small_corpus(), seed=9))  # takes over the dead build's lock
    assert open_backend(cfg).current() == final and collections(milvus_lite, "kill_") == {final}


def stateless(cfg, root: Path):
    """`cfg` with an index folder and a data folder that do not exist."""
    root.mkdir(exist_ok=True)
    return cfg.replace(data_dir=root / "data", index_dir=root / "index")


def check_cited(body: dict, data_dir: Path) -> None:
    """Every quoted text is exactly the slice its citation names of the article file."""
    assert not body["abstained"] and body["passages"]
    for quoted in [body["answer"], *body["passages"]]:
        cite = quoted["citation"]
        text = (data_dir / cite["path"]).read_text(encoding="utf-8")
        assert text[cite["start"]:cite["end"]] == quoted["text"]


def config_file(path: Path, milvus: dict, **server) -> Path:
    """A config.yaml naming the Milvus backend with `milvus` settings (and `server` ones)."""
    path.write_text(yaml.safe_dump({"server": server, "storage": {"backend": "milvus", "milvus": milvus}}),
                    encoding="utf-8")
    return path


def test_a_server_without_index_or_data_answers_from_milvus_alone(tmp_path, milvus_seed_config, seed_config):
    cfg = stateless(milvus_seed_config, tmp_path / "api")
    config = config_file(tmp_path / "config.yaml", {"collection_prefix": "seed_"})
    # The URI from the command line, the rest from the file.
    server = ServerProcess(cfg, "--config", str(config), "--milvus-uri", cfg.storage.milvus.uri).wait_ready()
    try:
        health = requests.get(server.url + "/api/health", timeout=30)
        assert health.status_code == 200, health.text
        assert health.json()["index"]["version"] == open_backend(milvus_seed_config).current()
        assert health.json()["index"]["chunks"] == 24
        body = requests.post(server.url + "/api/ask", json={"question": QUESTION}, timeout=60).json()
        check_cited(body, seed_config.data_dir)
        cite = body["answer"]["citation"]
        page = requests.get(f"{server.url}/articles/{cite['doc_id']}",
                            params={"chunk": cite["chunk_id"], "start": cite["start"], "end": cite["end"]}, timeout=30)
        assert page.status_code == 200 and body["answer"]["text"].split(",")[0] in page.text
        assert requests.get(server.url + "/articles/nothing-here", timeout=30).status_code == 404
    finally:
        server.stop()
    assert not cfg.index_dir.exists() and not cfg.data_dir.exists()


def wait_status(request, status: int, timeout: float = 90) -> requests.Response:
    """Repeat `request()` until it answers `status` or time runs out; the last response."""
    deadline = time.monotonic() + timeout
    while True:
        response = request()
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def test_a_milvus_outage_is_503_naming_it_and_the_server_recovers_by_itself(tmp_path, milvus_seed_config, encoder):
    """`qa serve` starts while Milvus is down, serves once it is up, answers 503 while it is stopped
    again, and answers again once it is back: never restarted."""
    from qa.indexing.build import build_index

    lite = LiteServer(tmp_path / "served.db").start()
    try:
        build_index(milvus_config(milvus_seed_config, lite.uri), encoder=encoder, progress=False, reuse=True)
        lite.stop()
        config = config_file(tmp_path / "config.yaml", {"uri": lite.uri, "timeout": 1}, reload_interval=0.5)
        server = ServerProcess(stateless(milvus_seed_config, tmp_path / "api"), "--config", str(config)).wait_ready()
        try:
            ask = server.url + "/api/ask"
            for r in (requests.get(server.url + "/api/health", timeout=30),
                      requests.post(ask, json={"question": QUESTION}, timeout=30)):
                assert r.status_code == 503 and lite.uri in r.json()["error"]["message"]
            lite.start()
            health = wait_status(lambda: requests.get(server.url + "/api/health", timeout=30), 200)
            assert health.status_code == 200, health.text
            assert requests.post(ask, json={"question": QUESTION}, timeout=60).status_code == 200
            lite.stop()
            for r in (requests.post(ask, json={"question": QUESTION}, timeout=30),
                      requests.get(server.url + "/api/health", timeout=30)):
                assert r.status_code == 503 and lite.uri in r.json()["error"]["message"], r.text
            lite.start()
            r = wait_status(lambda: requests.post(ask, json={"question": QUESTION}, timeout=30), 200)
            assert r.status_code == 200 and r.json()["passages"]
            assert "serving anyway" in server.output()
        finally:
            server.stop()
    finally:
        lite.stop()
