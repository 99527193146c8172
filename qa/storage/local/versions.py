"""Index versions side by side in `index/versions/`, and an atomic `CURRENT` pointer.

A build writes a fresh version folder and only then replaces the pointer (os.replace is
atomic), so a reader always sees a whole version, and a killed build leaves the previous
one in service.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from qa.errors import IndexUnavailable, QAError
from qa.storage.local.manifest import MANIFEST

POINTER = "CURRENT"
VERSIONS = "versions"
LOCK = ".build.lock"


def current_version(index_dir: Path) -> Path:
    """The folder of the version in service; a clear error when there is none."""
    pointer = index_dir / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexUnavailable(f"no index in {index_dir}; run `qa index build`") from None
    version = index_dir / VERSIONS / name
    if not name or "/" in name or not version.is_dir():
        raise IndexUnavailable(f"index pointer {pointer} names a missing version '{name}'; run `qa index build`")
    return version


def new_version_dir(index_dir: Path) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = index_dir / VERSIONS / f"{stamp}-{secrets.token_hex(3)}"
    path.mkdir(parents=True)
    return path


def publish(index_dir: Path, version: Path, keep: int) -> None:
    """Point CURRENT at `version` in one atomic step, then prune old versions."""
    tmp = index_dir / f".{POINTER}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(version.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / POINTER)
    dir_fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    prune(index_dir, keep=keep, current=version.name)


def hold(version: Path) -> int:
    """A shared lock on a version folder, held while a process serves it, so prune spares it.

    Returns the descriptor; closing it releases the lock (the OS does so if the process dies).
    """
    try:
        fd = os.open(version, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise IndexUnavailable(f"index version {version} was removed; run `qa index build`") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise IndexUnavailable(f"index version {version} is being removed; run `qa index build`") from None
    return fd


def prune(index_dir: Path, *, keep: int, current: str) -> None:
    """Delete all but the newest `keep` versions, and leftovers of killed builds.

    Runs under the build lock, so a folder without a manifest is never a build in progress.
    A version that a running server still holds (see `hold`) is spared until a later build.
    """
    versions = sorted((p for p in (index_dir / VERSIONS).iterdir() if p.is_dir()), reverse=True)
    complete = [p for p in versions if (p / MANIFEST).exists()]
    for path in versions:
        if path.name == current or (path in complete[:keep]):
            continue
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # in service somewhere
        else:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder; a second build fails at once and says why."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fh = (index_dir / LOCK).open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QAError(f"another build is running on {index_dir} (lock {index_dir / LOCK}); try again when it ends",
                          code="build_locked", status=409) from None
        yield
    finally:
        fh.close()
