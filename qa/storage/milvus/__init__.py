"""The storage interface on Milvus: API servers keep no index of their own (issue 11).

`storage.backend: milvus` puts every index version in Milvus collections (schema.py), so any
number of stateless API servers answer from one Milvus cluster, and a server with no index
folder and no data folder serves questions, source views and health checks from Milvus alone.
`storage.milvus.uri` names the Milvus: by default a file under the index folder, which
pymilvus runs as embedded Milvus Lite (one process at a time); `http://host:19530` a server or
cluster, which the tests stand in for with Milvus Lite run as a server on a loopback port.

A build (`building`, `write`) holds the local build lock and embedding cache of the build host
(the local backend's, through the same interface) and a lock row in Milvus; it writes the new
version's collections, counts them, records the version and only then flips the pointer
(catalog.py), then drops versions beyond `index.keep_versions` that no server holds a lease
on, and any killed build's leftovers. A server leases each version it opens and renews the
lease whenever it polls `current()`. Every failure of Milvus is an IndexUnavailable naming
the URI (client.py): a 503, until Milvus answers again.
"""

from __future__ import annotations

import re
import weakref
from contextlib import contextmanager
from typing import Any, Iterator

from qa.config import Config
from qa.errors import ConfigError, IndexUnavailable
from qa.storage.base import EmbeddingCache, VersionContent
from qa.storage.local import LocalBackend
from qa.storage.milvus.catalog import VERSION_NAME, Catalog, new_version
from qa.storage.milvus.client import Milvus, resolve_uri
from qa.storage.milvus.schema import KINDS, META, collection, dense_index
from qa.storage.milvus.store import MilvusStore
from qa.storage.milvus.write import count_rows, write_version

PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REBUILD = "run `qa index build`"


class MilvusBackend:
    """Versions as collection-name prefixes, the pointer and leases as rows of `<prefix>meta`."""

    def __init__(self, cfg: Config):
        m = cfg.storage.milvus
        if not PREFIX.fullmatch(m.collection_prefix):
            raise ConfigError("config: 'storage.milvus.collection_prefix' must be a letter or '_', then letters, "
                              "digits or '_'")
        self.cfg = cfg
        self.prefix = m.collection_prefix
        self.db = Milvus(resolve_uri(m, cfg.index_dir), m)
        self.catalog = Catalog(self.db, self.prefix)
        self._held: dict[str, str] = {}  # lease token -> version, for the stores still open

    def exists(self) -> bool:
        return self.catalog.pointer() is not None

    def current(self) -> str:
        """The version in service; renews this process's leases (servers call it when they poll)."""
        version = self.catalog.pointer()
        if version is None:
            raise IndexUnavailable(f"no index in Milvus at {self.db.uri} (collections '{self.prefix}*'); {REBUILD}")
        if self._held:
            self.catalog.renew(dict(self._held), self.cfg.storage.milvus.lease_seconds)
        return version

    def _doc(self, version: str) -> dict[str, Any]:
        doc = self.catalog.doc(version)
        if doc is None:
            raise IndexUnavailable(f"index version '{version}' is not in Milvus at {self.db.uri}; {REBUILD}")
        return doc

    def open(self, version: str, *, model: str) -> MilvusStore:
        manifest = self._doc(version)["manifest"]
        if manifest.get("model") != model:
            raise IndexUnavailable(f"index version {version} in Milvus at {self.db.uri} was built with model "
                                   f"'{manifest.get('model')}' but the config names '{model}'; {REBUILD}")
        names = {kind: collection(self.prefix, version, kind) for kind in KINDS}
        for name in names.values():
            if self.db.call("get_load_state", name)["state"].name != "Loaded":
                self.db.slow_call("load_collection", name, replica_number=self.cfg.storage.milvus.replicas)
        if count_rows(self.db, names["chunks"]) != manifest["counts"]["chunks"]:
            raise IndexUnavailable(f"index version {version} in Milvus at {self.db.uri} does not match its "
                                   f"manifest; {REBUILD}")
        _, search = dense_index(manifest["storage"]["index_type"], self.cfg.vectors, manifest["counts"]["chunks"])
        token = self.catalog.lease(version, self.cfg.storage.milvus.lease_seconds)
        self._held[token] = version
        store = MilvusStore(self.db, self.catalog, names, manifest, search)
        store.release = weakref.finalize(store, self._release, token)  # also when the last request ends
        return store

    def _release(self, token: str) -> None:
        self._held.pop(token, None)
        try:
            self.catalog.release(token)
        except IndexUnavailable:
            pass  # the lease expires by itself

    def manifest(self, version: str) -> dict[str, Any]:
        return self._doc(version)["manifest"]

    @contextmanager
    def building(self, dim: int) -> Iterator[EmbeddingCache]:
        """The build host's lock and embedding cache (under index_dir), and the lock in Milvus."""
        local = LocalBackend(self.cfg.index_dir, self.cfg.vectors, self.cfg.index.keep_versions)
        with local.building(dim) as cache:
            self.catalog.ensure()
            self.catalog.take_lock(self.cfg.storage.milvus.lease_seconds)
            try:
                yield cache
            finally:
                try:
                    self.catalog.drop_lock()
                except IndexUnavailable:
                    pass  # it expires, and this host's next build takes it over at once

    def write(self, content: VersionContent) -> str:
        version = new_version()
        seconds = self.cfg.storage.milvus.lease_seconds
        write_version(self.db, self.catalog, self.cfg, version, content,
                      renew=lambda: self.catalog.renew_lock(seconds))
        self.catalog.set_pointer(version)
        self.prune(version)
        return version

    def prune(self, current: str) -> None:
        """Drop versions beyond `index.keep_versions` that no lease holds, and killed builds'
        collections. Runs under the build lock, so no collection here is a build in progress;
        a version's document goes first, so a prune killed midway leaves only leftovers."""
        complete = sorted(self.catalog.versions(), reverse=True)
        kept = {current, *complete[:self.cfg.index.keep_versions]} | self.catalog.leased()
        for version in complete:
            if version not in kept:
                self.catalog.forget(version)
        for name in self.db.call("list_collections"):
            version = name[len(self.prefix):].rsplit("_", 1)[0] if name.startswith(self.prefix) else ""
            if VERSION_NAME.fullmatch(version) and name != self.prefix + META and version not in kept:
                self.db.slow_call("drop_collection", name)
        self.catalog.forget_expired_leases()
