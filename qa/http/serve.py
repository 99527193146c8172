"""Production serving with gunicorn: each worker loads the model and index once.

SIGHUP to the master is forwarded to the workers, which then check `index/CURRENT` and swap
a new version in place (see service.Service), instead of gunicorn's default of restarting
every worker (and reloading the model) on a hang-up.
"""

from __future__ import annotations

import logging
import os
import signal

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from qa.config import Config

LOG_LEVEL_ENV = "QA_LOG_LEVEL"


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
        import faiss
        import torch

        from qa.http.app import create_app

        # Share the cores between workers instead of each one oversubscribing all of them.
        threads = max(1, (os.cpu_count() or 1) // self.options["workers"])
        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)
        app = create_app(self.qa_cfg)
        service = app.extensions["qa"]
        signal.signal(signal.SIGHUP, lambda *_: service.wake())
        service.watch(self.qa_cfg.server.reload_interval)
        return app

    def run(self) -> None:
        _Arbiter(self).run()


def run(cfg: Config, *, host: str, port: int, workers: int, threads: int) -> None:
    _Server(cfg, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        # A worker whose main loop is stuck this long is killed and replaced.
        "timeout": cfg.server.timeout,
        "graceful_timeout": 10,
        "accesslog": None,
        "loglevel": "info",
    }).run()
