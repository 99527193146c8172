"""Where the index lives, behind one interface (`qa.storage.base`); the backend is chosen by
`storage.backend`."""

from __future__ import annotations

from qa.config import Config
from qa.errors import ConfigError
from qa.storage.base import Backend


def open_backend(cfg: Config) -> Backend:
    """The backend `cfg` names (imported only when chosen)."""
    if cfg.storage.backend == "local":
        from qa.storage.local import LocalBackend

        return LocalBackend(cfg.index_dir, cfg.vectors, cfg.index.keep_versions)
    if cfg.storage.backend == "milvus":
        try:
            from qa.storage.milvus import MilvusBackend
        except ImportError as exc:
            raise ConfigError(f"storage.backend 'milvus' needs `pip install -e .[milvus]` ({exc})") from None
        return MilvusBackend(cfg)
    raise ConfigError(f"config: unknown storage.backend '{cfg.storage.backend}'")


def limit_threads(cfg: Config, threads: int) -> None:
    """Let the backend's search use at most `threads` cores (several workers share the machine)."""
    if cfg.storage.backend == "local":
        from qa.storage.local.vectors import limit_threads as local_limit

        local_limit(threads)
