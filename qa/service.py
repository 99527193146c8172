"""The model and the index version in service, loaded once per process."""

from __future__ import annotations

import threading

from .answer import Answerer
from .config import Config
from .embed import Encoder
from .errors import IndexUnavailable
from .index import open_index


class Service:
    """Holds the encoder and the current Answerer; a failed load leaves a clear 503 reason."""

    def __init__(self, cfg: Config, encoder: Encoder | None = None):
        self.cfg = cfg
        self._encoder = encoder
        self._answerer: Answerer | None = None
        self._error: IndexUnavailable | None = None
        self._lock = threading.Lock()
        self.load()

    def load(self) -> None:
        try:
            # Open the index first: without one there is no reason to pay for the model.
            index = open_index(self.cfg.index_dir, model=self.cfg.model.name, vectors=self.cfg.vectors)
            if self._encoder is None:
                self._encoder = Encoder(self.cfg.model)
            if index.manifest["dimension"] != self._encoder.dim:
                raise IndexUnavailable(
                    f"index {index.path} has {index.manifest['dimension']}-dimensional vectors, "
                    f"the model gives {self._encoder.dim}; run `qa index build`")
        except IndexUnavailable as exc:
            self._error = exc
            return
        with self._lock:
            self._answerer = Answerer(index, self._encoder, self.cfg.search)
            self._error = None

    def answerer(self) -> Answerer:
        """The Answerer in service, or the reason there is none (HTTP 503)."""
        answerer = self._answerer
        if answerer is None:
            raise self._error or IndexUnavailable("no index loaded; run `qa index build`")
        return answerer
