"""Production serving with gunicorn: each worker loads the model and index once.

SIGHUP to the master is forwarded to the workers, which then check `index/CURRENT` and swap
a new version in place (see service.Service), instead of gunicorn's default of restarting
every worker (and reloading the model) on a hang-up.

gunicorn's own limit on the request line (4,094 bytes, at most 8,190) would answer a long GET
question with its HTML "414 URI Too Long" page, outside the API's one JSON error shape; it is
turned off so the app refuses URLs over its own limit (app.MAX_URL_BYTES) in that shape, and a
line far beyond it is still cut off at REQUEST_LINE_CAP before it is held in memory.
"""

from __future__ import annotations

import logging
import os
import signal

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser

from qa.config import Config
from qa.encoder import limit_threads as limit_encoder_threads
from qa.storage import limit_threads
from qa.http.app import MAX_URL_BYTES

LOG_LEVEL_ENV = "QA_LOG_LEVEL"
# The longest request line gunicorn reads at all (1 MiB, what its C parser takes "unlimited" to
# mean); above it, gunicorn answers its own 414 page and the app never sees the request.
REQUEST_LINE_CAP = 16 * MAX_URL_BYTES


class _BoundedRequest(Request):
    """gunicorn's request, whose Python parser reads an unlimited request line without bound."""

    def read_line(self, unreader, buf, limit=0):
        return super().read_line(unreader, buf, limit or REQUEST_LINE_CAP)


class _Arbiter(Arbiter):
    def handle_hup(self) -> None:
        self.log.info("Hang up: workers check for a new index version")
        self.kill_workers(signal.SIGHUP)


class _Server(BaseApplication):
    def __init__(self, cfg: Config, options: dict):
        self.qa_cfg = cfg
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # A hang-up while the model loads is moot: the worker opens the current version anyway.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        logging.basicConfig(level=os.environ.get(LOG_LEVEL_ENV, "INFO").upper(),
                            format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
        from qa.http.app import create_app

        # Share the cores between workers instead of each one oversubscribing all of them.
        threads = max(1, (os.cpu_count() or 1) // self.options["workers"])
        limit_encoder_threads(self.qa_cfg.model, threads)
        limit_threads(self.qa_cfg, threads)
        app = create_app(self.qa_cfg)
        service = app.extensions["qa"]
        signal.signal(signal.SIGHUP, lambda *_: service.wake())
        service.watch(self.qa_cfg.server.reload_interval)
        return app

    def run(self) -> None:
        RequestParser.mesg_class = _BoundedRequest  # before the workers are forked
        _Arbiter(self).run()


def run(cfg: Config, *, host: str, port: int, workers: int, threads: int) -> None:
    _Server(cfg, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        # A worker whose main loop is stuck this long is killed and replaced.
        "timeout": cfg.server.timeout,
        "limit_request_line": 0,  # the app refuses long URLs itself, in its own error shape
        "graceful_timeout": 10,
        "accesslog": None,
        "loglevel": "info",
    }).run()
