"""Production serving with gunicorn: each worker loads the model and index once."""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from .config import Config


class _Server(BaseApplication):
    def __init__(self, cfg: Config, options: dict):
        self.qa_cfg = cfg
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        import torch

        from .app import create_app

        # Share the cores between workers instead of each one oversubscribing all of them.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.options["workers"]))
        return create_app(self.qa_cfg)


def run(cfg: Config, *, host: str, port: int, workers: int, threads: int) -> None:
    _Server(cfg, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": cfg.server.timeout,
        "graceful_timeout": 10,
        "accesslog": None,
        "loglevel": "info",
    }).run()
