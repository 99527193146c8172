"""The meta collection: which version is in service, what each version is, who still holds it.

Milvus Lite implements no collection aliases, so a version is published by upserting one row,
`pointer`, naming it: a single-row upsert is atomic on Lite and on a cluster alike, and the
collection is read with Strong consistency, so every server sees the flip on its next poll.
A version's document (manifest and corpus summary, as JSON split over rows of at most 65,535
bytes) is written only once all its collections are written and counted: a version without
one is a killed build's leftover. A server holds a lease row per version it serves, renewed
whenever it polls; builds spare leased versions. The build lock is one row too, naming its
host and process, so a lock left by a killed build on this host is taken over at once, and
one from another host once it expires.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import socket
import time
from typing import Any

from qa.errors import IndexUnavailable, QAError
from qa.storage.milvus.client import Milvus
from qa.storage.milvus.schema import META, PAD, VARCHAR_BYTES, index_params, meta_schema

VERSION_NAME = re.compile(r"\d{8}T\d{12}Z_[0-9a-f]{6}")
POINTER = "pointer"
LOCK = "lock"


def new_version() -> str:
    """A name that sorts by build time and is safe in collection names and filter literals."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "_" + secrets.token_hex(3)


def split_text(text: str, limit: int = VARCHAR_BYTES) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, cut between characters (at least one piece)."""
    data = text.encode("utf-8")
    pieces, start = [], 0
    while start < len(data) or not pieces:
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: back up
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


class Catalog:
    """Reads and writes of `<prefix>meta`, the one collection not tied to a version."""

    def __init__(self, db: Milvus, prefix: str):
        self.db = db
        self.name = prefix + META

    def ensure(self) -> None:
        if not self.db.call("has_collection", self.name):
            self.db.call("create_collection", self.name, schema=meta_schema(), index_params=index_params(META),
                         consistency_level="Strong")

    def _query(self, expr: str) -> list[dict[str, Any]]:
        """Rows matching `expr`; none when the collection does not exist yet (nothing was built)."""
        try:
            return self.db.call("query", self.name, filter=expr, output_fields=["key", "kind", "version", "value",
                                                                                 "expires"])
        except IndexUnavailable:
            if not self.db.call("has_collection", self.name):  # raises again if Milvus is down
                return []
            raise

    def _put(self, rows: list[dict[str, Any]]) -> None:
        self.db.call("upsert", self.name, [{"version": "", "value": "", "expires": 0.0, **r, "pad": PAD}
                                           for r in rows])

    def pointer(self) -> str | None:
        rows = self._query(f'key == "{POINTER}"')
        return rows[0]["value"] if rows else None

    def set_pointer(self, version: str) -> None:
        self._put([{"key": POINTER, "kind": POINTER, "value": version}])

    def put_doc(self, version: str, doc: dict[str, Any]) -> None:
        pieces = split_text(json.dumps(doc, sort_keys=True))
        self._put([{"key": f"version/{version}#{i:05d}", "kind": "version", "version": version, "value": p}
                   for i, p in enumerate(pieces)])

    def doc(self, version: str) -> dict[str, Any] | None:
        """A complete version's manifest and summary; None for an unknown or unfinished one."""
        if not VERSION_NAME.fullmatch(version):
            return None
        rows = sorted(self._query(f'kind == "version" and version == "{version}"'), key=lambda r: r["key"])
        return json.loads("".join(r["value"] for r in rows)) if rows else None

    def versions(self) -> set[str]:
        return {r["version"] for r in self._query('kind == "version"')}

    def forget(self, version: str) -> None:
        """Delete a version's document and leases (its collections are dropped after)."""
        self.db.call("delete", self.name, filter=f'version == "{version}"')

    def lease(self, version: str, seconds: int) -> str:
        token = secrets.token_hex(8)
        self.renew({token: version}, seconds)
        return token

    def renew(self, leases: dict[str, str], seconds: int) -> None:
        expires = time.time() + seconds
        self._put([{"key": f"lease/{token}", "kind": "lease", "version": version, "expires": expires}
                   for token, version in leases.items()])

    def release(self, token: str) -> None:
        self.db.call("delete", self.name, filter=f'key == "lease/{token}"')

    def leased(self) -> set[str]:
        """Versions some server renewed its lease on within its lease time."""
        return {r["version"] for r in self._query(f'kind == "lease" and expires > {time.time()!r}')}

    def forget_expired_leases(self) -> None:
        self.db.call("delete", self.name, filter=f'kind == "lease" and expires <= {time.time()!r}')

    def take_lock(self, seconds: int) -> None:
        """The build lock, or a 409 naming the build that holds it."""
        rows = self._query(f'key == "{LOCK}"')
        if rows and rows[0]["expires"] > time.time():
            holder = json.loads(rows[0]["value"])
            if not _gone(holder):
                raise QAError(f"another build is running on Milvus at {self.db.uri} (host {holder['host']}, "
                              f"process {holder['pid']}); try again when it ends", code="build_locked", status=409)
        self.renew_lock(seconds)

    def renew_lock(self, seconds: int) -> None:
        holder = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
        self._put([{"key": LOCK, "kind": LOCK, "value": holder, "expires": time.time() + seconds}])

    def drop_lock(self) -> None:
        self.db.call("delete", self.name, filter=f'key == "{LOCK}"')


def _gone(holder: dict[str, Any]) -> bool:
    """Whether a lock's holder is a process of this host that no longer runs (a killed build)."""
    if holder.get("host") != socket.gethostname():
        return False
    if int(holder["pid"]) == os.getpid():  # this process's own, left by a build whose unlock failed
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
