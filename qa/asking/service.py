"""The model and the index version in service, loaded once per process and swapped in place.

A new version is picked up by asking the storage backend which version is current (every
server.reload_interval seconds), on a wake-up (SIGHUP, POST /api/admin/reload), or by calling
`reload`. The swap is one reference assignment: a request holds the Answerer it started with,
so it finishes on that version, and the old version is freed (and the backend's hold on it
released) when the last such request ends.
"""

from __future__ import annotations

import logging
import threading

from qa.asking.answer import Answerer
from qa.config import Config
from qa.encoder import QueryEncoder, query_encoder
from qa.errors import IndexUnavailable
from qa.storage import open_backend
from qa.storage.base import Store

log = logging.getLogger(__name__)


class Service:
    """Holds the encoder and the current Answerer; a failed first load leaves a clear 503 reason."""

    def __init__(self, cfg: Config, encoder: QueryEncoder | None = None):
        """`encoder`: what encodes questions (default: the one `model.query_runtime` names)."""
        self.cfg = cfg
        self.backend = open_backend(cfg)
        self._encoder = encoder
        self._answerer: Answerer | None = None
        self._error: IndexUnavailable | None = None
        self._reload_lock = threading.Lock()
        self._wake = threading.Event()
        self._watcher: threading.Thread | None = None
        try:
            self.reload()
        except IndexUnavailable:
            pass  # kept in self._error: every request answers 503 with it

    def reload(self) -> bool:
        """Serve the version CURRENT names if it is not the one in service; True if it changed.

        An unusable version raises IndexUnavailable and the version in service stays.
        """
        with self._reload_lock:
            served = self._answerer
            try:
                version = self.backend.current()
                if served is not None and served.store.info.version == version:
                    return False
                answerer = self._open(version)
            except IndexUnavailable as exc:
                if served is None:
                    self._error = exc
                raise
            self._answerer = answerer
            self._error = None
        log.info("serving index version %s", answerer.store.info.version)
        return True

    def _open(self, name: str) -> Answerer:
        # Open the index first: without one there is no reason to pay for the model.
        store = self.backend.open(name, model=self.cfg.model.name)
        if self._encoder is None:
            self._encoder = query_encoder(self.cfg.model)
        if store.info.dimension != self._encoder.dim:
            store.close()
            raise IndexUnavailable(f"index version {name} has {store.info.dimension}-dimensional vectors, "
                                   f"the model gives {self._encoder.dim}; run `qa index build`")
        return Answerer(store, self._encoder, self.cfg.search)

    def answerer(self) -> Answerer:
        """The Answerer in service, or the reason there is none (HTTP 503)."""
        answerer = self._answerer
        if answerer is None:
            raise self._error or IndexUnavailable("no index loaded; run `qa index build`")
        return answerer

    def store(self) -> Store:
        """The index version in service (its articles, chunks and summary), or HTTP 503."""
        return self.answerer().store

    def wake(self) -> None:
        """Ask the watcher to check for a new version now (safe from a signal handler)."""
        self._wake.set()

    def watch(self, interval: float) -> None:
        """Check CURRENT every `interval` seconds (0: only when woken) in a daemon thread."""
        if self._watcher is not None:
            return
        self._watcher = threading.Thread(target=self._watch, args=(interval or None,), name="qa-reload",
                                         daemon=True)
        self._watcher.start()

    def _watch(self, interval: float | None) -> None:
        last_error = None
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            try:
                self.reload()
                last_error = None
            except IndexUnavailable as exc:
                if exc.message != last_error:  # say it once, not every poll
                    log.warning("kept serving %s: %s", self.served_version(), exc.message)
                    last_error = exc.message
            except Exception:  # the watcher must outlive any surprise
                log.exception("index reload failed")

    def served_version(self) -> str | None:
        answerer = self._answerer
        return answerer.store.info.version if answerer else None
