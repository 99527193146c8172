"""Encoding on a Ray cluster (`qa index build --ray`): the chunks go through Ray Data `map_batches`
to a pool of encoder actors, each loading the model once (one GPU each when the cluster has GPUs),
and their vectors come back to this process, which writes them with the backend's own `write`: every
storage backend gets Ray builds, and the embedding cache is honoured (only chunks it lacks are sent).

`build.ray_address` (or `--ray-address`) joins a running cluster; empty starts a local cluster sized
to this machine for the build and stops it afterwards. Ray turns token authentication on for a new
local cluster and would keep the token in ~/.ray: here the local cluster's token is a random one in
this process's environment, and its session files go to a temporary folder removed afterwards, so a
build leaves no process running and nothing behind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import secrets
import shutil
import socket
import tempfile
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import numpy as np

from qa.config import Config, ModelConfig
from qa.encoder import Encoder, reused_memory, use_threads
from qa.errors import ConfigError
from qa.indexing.build import Encoded
from qa.indexing.plan import ChunkInput, Planning, planning_processes

ADDRESS = re.compile(r"(?:ray://)?(?P<host>\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})")
CONNECT_TIMEOUT_S = 5.0
STEP = 256  # chunks per actor call, as a single-process build encodes them
QUIET = {"logging_level": logging.ERROR, "log_to_driver": False}


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the `ray[data]` part: pyarrow, pandas)
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install -e '.[ray]'") from None
    return ray


def _reachable(address: str) -> None:
    """Fail at once, in one line, on an address that is malformed or where nothing listens:
    `ray.init` would wait minutes for a cluster that is not there and then exit the process."""
    if address == "auto":
        return
    match = ADDRESS.fullmatch(address)
    if not match or int(match["port"]) > 65535:
        raise ConfigError(f"Ray address '{address}' is not host:port, ray://host:port or auto")
    try:
        socket.create_connection((match["host"].strip("[]"), int(match["port"])), CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(f"no Ray cluster answers at {address}: {exc.strerror or exc}") from None


@contextmanager
def _local_cluster(ray: Any) -> Iterator[None]:
    """A cluster on this machine's loopback for one build, its files in a temporary folder removed
    afterwards. Ray turns token authentication on for it (unless RAY_AUTH_MODE says otherwise); the
    token is a random one that stays in this process's environment, as Ray reads it once per process.
    """
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray waits 30 s for its GCS to start; a build host busy with other work can take longer.
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "120")
    folder = _start_local(ray)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def _start_local(ray: Any, tries: int = 2) -> str | None:
    """Start a local cluster in a new temporary folder; its folder. A GCS that never publishes its
    port (seen now and then on a loaded machine) is given one more start in a fresh folder."""
    for attempt in range(1, tries + 1):
        folder = tempfile.mkdtemp(prefix="qa-ray-")
        try:
            ray.init(num_cpus=os.cpu_count(), _temp_dir=folder, _node_ip_address="127.0.0.1",
                     include_dashboard=False, **QUIET)
            return folder
        except RuntimeError as exc:
            ray.shutdown()
            shutil.rmtree(folder, ignore_errors=True)
            if attempt < tries and "Timed out waiting for file" in str(exc):
                continue
            raise ConfigError(f"the local Ray cluster did not start: {str(exc).splitlines()[0]}") from None


@contextmanager
def cluster(address: str) -> Iterator[Any]:
    """Ray, joined to the cluster at `address` or to a new local one, and left as found: a cluster
    started here is stopped, one this process had joined already is kept."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    if not address:
        with _local_cluster(ray):
            yield ray
        return
    _reachable(address)
    try:
        ray.init(address=address, **QUIET)
    except SystemExit:  # what Ray does when something answers there but no Ray head does
        raise ConfigError(f"cannot join the Ray cluster at {address}: no Ray head answered there") from None
    except (ConnectionError, RuntimeError) as exc:
        raise ConfigError(f"cannot join the Ray cluster at {address}: {(str(exc) or type(exc).__name__).splitlines()[0]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def placement(cfg: Config, resources: dict[str, float]) -> tuple[ModelConfig, int, int, int]:
    """Each actor's model settings (its device settled), the pool size, and each actor's CPUs and GPUs."""
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    on_gpu = gpus > 0 and cfg.model.backend == "torch" and cfg.model.device in ("auto", "cuda")
    if not on_gpu and cfg.model.device not in ("auto", "cpu"):
        raise ConfigError(f"model.device is {cfg.model.device} but the Ray cluster has no GPU it can use "
                          f"({gpus} GPUs, model.backend {cfg.model.backend})")
    room = gpus if on_gpu else cpus
    actors = cfg.build.ray_actors or (gpus if on_gpu else max(1, cpus // 2))
    if actors > room:
        raise ConfigError(f"build.ray_actors is {actors} but the Ray cluster has {room} "
                          f"{'GPUs' if on_gpu else 'CPUs'} for encoder actors")
    return dataclasses.replace(cfg.model, device="cuda" if on_gpu else "cpu"), actors, max(1, cpus // actors), int(on_gpu)


class EncoderActor:
    """One Ray actor: loads the model once, then encodes every batch Ray Data sends it."""

    def __init__(self, model: ModelConfig, threads: int):
        use_threads(threads)
        self.encoder = Encoder(model)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with reused_memory(self.encoder.device):
            vecs, per_chunk = self.encoder.encode_chunks(list(batch["text"]), [json.loads(s) for s in batch["spans"]])
        return {"key": batch["key"], "vec": vecs,
                "sentence_vecs": np.array([p.tobytes() for p in per_chunk], dtype=object)}


@dataclasses.dataclass(frozen=True)
class RayEncoding:
    """The build's ChunkEncoding on a Ray cluster: every chunk the cache lacks, in one Ray Data pass."""

    encoder: Encoder  # this process's, on its CPU: the model's name and dimension, the tokenizer
    model: ModelConfig  # as each actor loads it
    actors: int
    cpus: int  # per actor
    gpus: int  # per actor

    @property
    def device(self) -> str:
        return self.model.device

    @property
    def planners(self) -> int:
        """The cluster's encoding waits for the plan: plan on this machine's cores but one."""
        return planning_processes(beside_cpu=False)

    def __call__(self, todo: Iterable[tuple[str, ChunkInput]], planning: Planning | None = None) -> Iterator[Encoded]:
        """`planning` is not waited on: the actors' cores are the cluster's, not the planners'."""
        import ray.data

        rows = [{"key": key, "text": item.text, "spans": json.dumps(item.spans)} for key, item in todo]
        if not rows:
            return
        vectors = ray.data.from_items(rows).map_batches(
            EncoderActor, fn_constructor_args=(self.model, self.cpus), batch_size=STEP, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.actors), num_cpus=self.cpus, num_gpus=self.gpus)
        dim = self.encoder.dim
        for out in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            yield (list(out["key"]), out["vec"],
                   [np.frombuffer(b, dtype=np.float32).reshape(-1, dim) for b in out["sentence_vecs"]])


@contextmanager
def ray_encoding(cfg: Config, encoder: Encoder | None = None) -> Iterator[RayEncoding]:
    """A RayEncoding for one build, on the cluster of `build.ray_address`, left as found afterwards."""
    with cluster(cfg.build.ray_address) as ray:
        model, actors, cpus, gpus = placement(cfg, ray.cluster_resources())
        ray.data.DataContext.get_current().enable_progress_bars = False  # the build draws its own
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        here = encoder or Encoder(dataclasses.replace(cfg.model, device="cpu"))
        yield RayEncoding(here, model, actors, cpus, gpus)
