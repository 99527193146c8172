"""manifest.json: what an index version holds, how it was built, and checksums of its files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import IndexUnavailable

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REBUILD = "run `qa index build`"


def file_digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def write_manifest(version_dir: Path, manifest: dict[str, Any], files: list[str]) -> None:
    """Record every file's size and checksum, then write the manifest durably."""
    manifest = dict(manifest, format_version=FORMAT_VERSION,
                    files={name: file_digest(version_dir / name) for name in files})
    tmp = version_dir / (MANIFEST + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, version_dir / MANIFEST)


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
        for name, want in manifest.get("files", {}).items():
            file = version_dir / name
            if not file.exists():
                raise IndexUnavailable(f"index file missing: {file}; {REBUILD}")
            if file.stat().st_size != want["bytes"]:
                raise IndexUnavailable(
                    f"index file damaged (size {file.stat().st_size}, expected {want['bytes']}): {file}; {REBUILD}")
            if file_digest(file)["sha256"] != want["sha256"]:
                raise IndexUnavailable(f"index file damaged (checksum mismatch): {file}; {REBUILD}")
    return manifest
