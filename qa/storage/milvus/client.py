"""One connection to Milvus per process, whose every failure is an IndexUnavailable naming the URI.

Three facts of pymilvus 2.5 shape it. Clients of one URI share a connection inside a process
unless given their own alias, and a gRPC channel does not survive fork: the connection is
opened lazily, per process, under an alias of its own. A failed call is retried for minutes
unless the call carries an *integer* timeout (a float does not bound the retries): every call
carries `storage.milvus.timeout`. A channel that lost its server backs off reconnecting for
up to two minutes: a failed call drops the connection, and the next call opens a fresh one,
which answers as soon as Milvus is back. So an outage costs each request about the timeout
(a 503), and the first request after it is served normally. Build-time calls (insert, flush,
index, load, drop) may take minutes on a large collection and get `SLOW_SECONDS` instead.

An embedded Milvus Lite file is served by one process at a time (and the processes it forks,
as gunicorn's workers): this process takes a lock of its own on it first (see `_claim`).
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import logging
import os
import threading
import warnings
import weakref
from pathlib import Path
from typing import Any

from pymilvus import MilvusClient

from qa.config import MilvusConfig
from qa.errors import IndexUnavailable

# milvus-lite 2.5.1 imports pkg_resources, which warns on every run (setuptools<81 keeps it working).
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
# pymilvus logs each failed call at ERROR with gRPC's debug dump; the failure reaches the
# caller once, as IndexUnavailable, and the request log says the rest.
for _name in ("pymilvus", "pymilvus.milvus_client"):  # pymilvus configures both itself
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_ALIASES = itertools.count()
SLOW_SECONDS = 600  # build-time calls on a large collection
_EMBEDDED: dict[str, int] = {}  # embedded Milvus Lite files this process holds
_CLAIMING = threading.Lock()


def resolve_uri(cfg: MilvusConfig, index_dir: Path) -> str:
    """A server URL as given; a file path (embedded Milvus Lite) taken from `index_dir`."""
    if "://" in cfg.uri:
        return cfg.uri
    return str(index_dir / cfg.uri)  # an absolute path stays as it is


def key(text: str) -> int:
    """A signed 64-bit key of a string. Filters compare these integers, so no article id, outlet
    or term is ever quoted into a filter expression (Milvus cannot match a newline in a literal)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def int_list(values: Any) -> str:
    """A filter expression's list of integers."""
    return "[" + ",".join(str(int(v)) for v in values) + "]"


class Milvus:
    """Calls into one Milvus, shared by a process's threads."""

    def __init__(self, uri: str, cfg: MilvusConfig):
        self.uri = uri
        self.cfg = cfg
        self._client: MilvusClient | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._opened: list[MilvusClient] = []
        # Closed with this object: `qa serve` checks for an index before gunicorn forks.
        weakref.finalize(self, _close_all, self._opened)

    def _open(self) -> MilvusClient:
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        if "://" not in self.uri:
            self._claim()
        try:  # outside the lock: while Milvus is down, connecting takes the whole timeout
            client = MilvusClient(uri=self.uri, token=self.cfg.token, db_name=self.cfg.db_name,
                                  timeout=self.cfg.timeout, alias=f"newsqa-{os.getpid()}-{next(_ALIASES)}")
        except Exception as exc:  # pymilvus raises MilvusException or its config errors
            raise self.failure(exc) from None
        with self._lock:
            if self._client is not None and self._pid == os.getpid():  # another thread was quicker
                _close(client)
                return self._client
            self._client, self._pid = client, os.getpid()
            self._opened.append(client)
        return client

    def _claim(self) -> None:
        """Take this process's lock on an embedded Milvus Lite file. milvus-lite checks too, but a
        process its check turns away deletes the holder's lock file on the way out, so a second
        try would open the file twice."""
        with _CLAIMING:
            if self.uri in _EMBEDDED:
                return
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.uri + ".owner", os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise IndexUnavailable(f"Milvus at {self.uri} failed: another process has it open (an embedded "
                                       "Milvus Lite file is open in one process at a time; serve it with a Milvus "
                                       "server to share it)") from None
            _EMBEDDED[self.uri] = fd  # held until the process exits; forked workers share it

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`MilvusClient.<method>(...)` within the timeout; any failure drops the connection."""
        return self._call(self.cfg.timeout, method, *args, **kwargs)

    def slow_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A call that may take minutes on a large collection (insert, flush, index, load, drop)."""
        return self._call(max(SLOW_SECONDS, self.cfg.timeout), method, *args, **kwargs)

    def _call(self, timeout: int, method: str, *args: Any, **kwargs: Any) -> Any:
        client = self._open()
        try:
            return getattr(client, method)(*args, timeout=timeout, **kwargs)
        except Exception as exc:
            self._drop(client)
            raise self.failure(exc) from None

    def _drop(self, client: MilvusClient) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
            if client in self._opened:
                self._opened.remove(client)
        _close(client)

    def failure(self, exc: Exception) -> IndexUnavailable:
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return IndexUnavailable(f"Milvus at {self.uri} failed: {reason.splitlines()[0][:300]}")


def _close(client: MilvusClient) -> None:
    try:
        client.close()
    except Exception:  # closing a dead channel may fail too; the next call opens a new one
        pass


def _close_all(clients: list[MilvusClient]) -> None:
    for client in clients:
        _close(client)
