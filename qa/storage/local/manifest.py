"""manifest.json: what an index version holds, how it was built, and checksums of its files.

Hashing a large index at every start would cost seconds per gigabyte, so a version also
keeps `.verified`: each file's size, mtime, inode and checksum when last hashed. A file
whose stat still matches is not hashed again (as make and git trust a stat); a file
rewritten since, even to the same size, is. Like git's "racily clean" rule, a stat taken
too soon after the file's last write is not trusted, since the clock's tick is coarse.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from qa.errors import IndexUnavailable

# 2: BM25 and ranking arrays memory-mapped (bm25/, arrays/), no sentence rows in SQLite;
# 3: each chunk's terms stored beside its text
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
VERIFIED = ".verified"
RACY_NS = 100_000_000  # a stat this close to its file's mtime is not trusted
REBUILD = "run `qa index build`"


def file_digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def write_manifest(version_dir: Path, manifest: dict[str, Any], files: list[str]) -> None:
    """Record every file's size and checksum, then write the manifest durably."""
    files_digest = {name: file_digest(version_dir / name) for name in files}
    manifest = dict(manifest, format_version=FORMAT_VERSION, files=files_digest)
    tmp = version_dir / (MANIFEST + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, version_dir / MANIFEST)
    _write_verified(version_dir, files_digest)


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _write_verified(version_dir: Path, files: dict[str, dict[str, Any]]) -> None:
    """Remember the stat under which each file had its checksum; best effort (a read-only
    index is simply hashed again next time)."""
    now = time.time_ns()
    stamp = {name: [*_stat(version_dir / name), want["sha256"]] for name, want in files.items()}
    stamp = {name: entry for name, entry in stamp.items() if now - entry[1] > RACY_NS}
    try:
        tmp = version_dir / f"{VERIFIED}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(tmp, version_dir / VERIFIED)
    except OSError:
        pass


def _verified(version_dir: Path) -> dict[str, list]:
    try:
        stamp = json.loads((version_dir / VERIFIED).read_text(encoding="utf-8"))
        return stamp if isinstance(stamp, dict) else {}
    except (OSError, ValueError):
        return {}


def read_manifest(version_dir: Path, *, verify: bool = True) -> dict[str, Any]:
    """Load and check a manifest; any problem names the file and the fix."""
    path = version_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexUnavailable(f"index manifest missing: {path}; {REBUILD}") from None
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"index manifest unreadable: {path} ({exc}); {REBUILD}") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexUnavailable(
            f"index {path} has format version {found}, this program reads {FORMAT_VERSION}; {REBUILD}")
    if verify:
        stamp = _verified(version_dir)
        hashed = False
        for name, want in manifest.get("files", {}).items():
            file = version_dir / name
            if not file.exists():
                raise IndexUnavailable(f"index file missing: {file}; {REBUILD}")
            if file.stat().st_size != want["bytes"]:
                raise IndexUnavailable(
                    f"index file damaged (size {file.stat().st_size}, expected {want['bytes']}): {file}; {REBUILD}")
            if stamp.get(name) == [*_stat(file), want["sha256"]]:
                continue
            if file_digest(file)["sha256"] != want["sha256"]:
                raise IndexUnavailable(f"index file damaged (checksum mismatch): {file}; {REBUILD}")
            hashed = True
        if hashed:
            _write_verified(version_dir, manifest["files"])
    return manifest
