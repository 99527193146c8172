"""Ray builds (`qa index build --ray`) on a local cluster this module starts once and stops: the
same chunks, vectors (cosine >= 0.9999 per chunk and per sentence), manifest counts and answers as
the single-process build; `qa index update --ray` sends nothing the cache holds; nothing is left
running or written under ~/.ray; and every error path is one clear line."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import psutil
import pytest

from conftest import make_config, open_store
from qa.cli import cli
from qa.config import BuildConfig, Config, ModelConfig
from qa.errors import ConfigError
from qa.indexing.build import build_index
from qa.indexing.distributed import cluster, placement
from test_update import index_contents

QUESTIONS = ["How many people died in the Khojaly massacre?", "How many people's fate remains unknown?",
             "Where was the conference on the Karabakh heritage held?"]


def _ray_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("qa-ray-*"))


@pytest.fixture(scope="module")
def ray_run(tmp_path_factory, seed_config, encoder, runner_module):
    """One local cluster: a Ray build, then `qa index update --ray` joining the same cluster."""
    home = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    patch.setenv("HOME", str(home))  # Ray would keep a token in ~/.ray: it must not
    folders = _ray_folders()
    # Other fixtures' servers (Milvus, qa serve) are children of this process too: only what the
    # cluster started counts.
    before = set(psutil.Process().children(recursive=True))
    cfg = make_config(tmp_path_factory.mktemp("ray"), seed_config.data_dir)
    try:
        with cluster("") as ray:
            assert ray.cluster_resources()["CPU"] >= 1
            report = build_index(cfg, encoder=encoder, progress=False, ray=True)
            update = runner_module.invoke(cli, ["index", "update", "--ray", "--data", str(cfg.data_dir),
                                                "--index", str(cfg.index_dir)])
            started = [p for p in psutil.Process().children(recursive=True) if p not in before]
    finally:
        patch.undo()
    yield {"cfg": cfg, "report": report, "update": update, "started": started, "home": home, "folders": folders}


@pytest.fixture(scope="module")
def runner_module():
    from click.testing import CliRunner

    return CliRunner()


def test_ray_build_equals_the_single_process_build(ray_run, seed_config):
    ray_chunks, ray_segments, ray_vectors = index_contents(ray_run["cfg"])
    chunks, segments, vectors = index_contents(seed_config)
    assert ray_chunks == chunks and len(chunks) == 24
    assert np.min(np.sum(ray_vectors * vectors, axis=1)) >= 0.9999
    (ray_spans, ray_sentences), (spans, sentences) = ray_segments, segments
    assert ray_spans == spans and ray_sentences.keys() == sentences.keys()
    for cid, vecs in sentences.items():
        assert np.min(np.sum(ray_sentences[cid] * vecs, axis=1)) >= 0.9999


def test_ray_build_manifest_and_answers(ray_run, seed_config, encoder):
    from qa.asking.service import Service

    ray_info, info = open_store(ray_run["cfg"]).info, open_store(seed_config).info
    assert ray_info.manifest["counts"] == info.manifest["counts"]
    assert ray_info.manifest["model_device"] == info.manifest["model_device"] == "cpu"
    assert ray_run["report"].encoded == ray_run["report"].chunks == 24
    ray_answers, answers = Service(ray_run["cfg"], encoder=encoder).answerer(), Service(seed_config, encoder=encoder).answerer()
    for question in QUESTIONS:
        got, want = ray_answers.ask(question).to_dict(), answers.ask(question).to_dict()
        assert got["answer"]["text"] == want["answer"]["text"]
        assert [p["citation"] for p in got["passages"]] == [p["citation"] for p in want["passages"]]


def test_ray_update_sends_only_what_the_cache_lacks(ray_run):
    update = ray_run["update"]
    assert update.exit_code == 0, update.output
    assert "24 chunks (0 encoded)" in update.output


def test_nothing_is_left_running_or_written(ray_run):
    started = ray_run["started"]
    assert started, "the local cluster's processes were children of this one"
    _, alive = psutil.wait_procs(started, timeout=30)
    assert alive == []
    assert _ray_folders() == ray_run["folders"]
    assert not (ray_run["home"] / ".ray").exists()


@pytest.mark.parametrize("address,message", [
    ("nohost", "Ray address 'nohost' is not host:port, ray://host:port or auto"),
    ("ray://127.0.0.1:99999", "is not host:port"),
    ("127.0.0.1:1", "no Ray cluster answers at 127.0.0.1:1"),
    ("auto", "cannot join the Ray cluster at auto: Could not find any running Ray instance"),
])
def test_a_bad_ray_address_is_one_clear_line(runner, seed_config, tmp_path, address, message):
    result = runner.invoke(cli, ["index", "build", "--ray-address", address, "--data", str(seed_config.data_dir),
                                 "--index", str(tmp_path / "index")])
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1 and result.output.startswith("Error: ") and message in result.output


def test_ray_not_installed_is_one_clear_line(runner, seed_config, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail as if absent
    result = runner.invoke(cli, ["index", "build", "--ray", "--data", str(seed_config.data_dir),
                                 "--index", str(tmp_path / "index")])
    assert result.exit_code == 1 and result.output == "Error: --ray needs Ray: pip install -e '.[ray]'\n"


def test_placement_gives_each_gpu_an_actor_and_cpus_two_each():
    model, actors, cpus, gpus = placement(Config(), {"CPU": 16.0, "GPU": 4.0})
    assert (model.device, actors, cpus, gpus) == ("cuda", 4, 4, 1)
    model, actors, cpus, gpus = placement(Config(), {"CPU": 8.0})
    assert (model.device, actors, cpus, gpus) == ("cpu", 4, 2, 0)
    cpu_only = Config(model=ModelConfig(device="cpu"), build=BuildConfig(ray_actors=2))
    assert placement(cpu_only, {"CPU": 2.0, "GPU": 1.0})[1:] == (2, 1, 0)


@pytest.mark.parametrize("cfg,resources,message", [
    (Config(model=ModelConfig(device="cuda")), {"CPU": 2.0}, "model.device is cuda but the Ray cluster has no GPU"),
    (Config(build=BuildConfig(ray_actors=3)), {"CPU": 2.0}, "build.ray_actors is 3 but the Ray cluster has 2 CPUs"),
])
def test_placement_errors(cfg, resources, message):
    with pytest.raises(ConfigError, match=message):
        placement(cfg, resources)


class FlakyRay:
    """A stand-in for `ray` whose first `failures` starts fail with `error`."""

    def __init__(self, failures: int, error: str):
        self.failures, self.error, self.folders, self.shutdowns = failures, error, [], 0

    def init(self, **kwargs):
        self.folders.append(Path(kwargs["_temp_dir"]))
        if len(self.folders) <= self.failures:
            raise RuntimeError(self.error)

    def shutdown(self):
        self.shutdowns += 1


GCS_TIMEOUT = "Timed out waiting for file /tmp/qa-ray-x/session/gcs_server_port_abc"


def test_a_local_cluster_whose_gcs_never_came_up_is_started_once_more():
    from qa.indexing.distributed import _local_cluster

    ray = FlakyRay(1, GCS_TIMEOUT)
    with _local_cluster(ray):
        assert len(ray.folders) == 2 and not ray.folders[0].exists() and ray.folders[1].exists()
    assert not ray.folders[1].exists() and ray.shutdowns == 2


@pytest.mark.parametrize("failures,error", [(2, GCS_TIMEOUT), (1, "raylet crashed")])
def test_a_local_cluster_that_does_not_start_is_one_clear_error(failures, error):
    from qa.indexing.distributed import _local_cluster

    ray = FlakyRay(failures, error)
    with pytest.raises(ConfigError, match="the local Ray cluster did not start"):
        with _local_cluster(ray):
            pass
    assert len(ray.folders) == min(failures, 2) and not any(f.exists() for f in ray.folders)
