"""A column of strings on disk: UTF-8 bytes end to end plus their offsets, memory-mapped.

A million article ids or terms then cost pages touched, not a Python object each: opening
reads nothing, and a look-up decodes only the strings it compares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def write_strings(folder: Path, name: str, values: Sequence[str]) -> list[str]:
    """`name`.bin (the bytes) and `name`.offsets.npy (n + 1 offsets); returns the file names."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    (folder / f"{name}.bin").write_bytes(b"".join(encoded))
    np.save(folder / f"{name}.offsets.npy", offsets)
    return [f"{name}.bin", f"{name}.offsets.npy"]


class Strings:
    """The strings `write_strings` wrote, by position; `find` bisects them if written sorted."""

    def __init__(self, folder: Path, name: str):
        self.offsets = np.load(folder / f"{name}.offsets.npy", mmap_mode="r")
        size = int(self.offsets[-1])
        # np.memmap refuses an empty file; an empty column needs no mapping.
        self.blob = np.memmap(folder / f"{name}.bin", dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        if len(self.blob) != size:
            raise ValueError(f"{folder / name}.bin holds {len(self.blob)} bytes, its offsets say {size}")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        return self.blob[int(self.offsets[i]):int(self.offsets[i + 1])].tobytes()

    def __getitem__(self, i: int) -> str:
        return self.raw(i).decode("utf-8")

    def find(self, value: str) -> int | None:
        """The position of `value` in a column written in byte order; None if absent."""
        want = value.encode("utf-8")
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.raw(mid) < want:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(self) and self.raw(lo) == want else None
