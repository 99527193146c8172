"""A column of strings on disk: UTF-8 bytes end to end plus their offsets, memory-mapped.

A million article ids or terms then cost pages touched, not a Python object each: opening
reads nothing, and a look-up decodes only the strings it compares. Each string's first eight
bytes are also kept as a number, so a column written in byte order finds many strings with
one vectorized binary search.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Sequence

import numpy as np

KEY_BYTES = 8


def _key(raw: bytes) -> int:
    """The first eight bytes as a big-endian number: keys of byte-ordered strings never decrease
    (a string holds no NUL, so padding a short one with NULs keeps it first)."""
    return int.from_bytes(raw[:KEY_BYTES].ljust(KEY_BYTES, b"\0"), "big")


def write_strings(folder: Path, name: str, values: Sequence[str]) -> list[str]:
    """`name`.bin (the bytes), `name`.offsets.npy (n + 1 offsets) and `name`.keys.npy (each
    string's first bytes as a number); returns the file names."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    (folder / f"{name}.bin").write_bytes(b"".join(encoded))
    np.save(folder / f"{name}.offsets.npy", offsets)
    np.save(folder / f"{name}.keys.npy", np.array([_key(b) for b in encoded], dtype=np.uint64))
    return [f"{name}.bin", f"{name}.offsets.npy", f"{name}.keys.npy"]


class Strings:
    """The strings `write_strings` wrote, by position; `find` looks them up if written in byte order."""

    def __init__(self, folder: Path, name: str):
        # Plain views of the mappings: indexing an np.memmap costs microseconds.
        self.offsets = np.asarray(np.load(folder / f"{name}.offsets.npy", mmap_mode="r"))
        self.keys = np.asarray(np.load(folder / f"{name}.keys.npy", mmap_mode="r"))
        size = int(self.offsets[-1])
        with (folder / f"{name}.bin").open("rb") as fh:
            length = os.fstat(fh.fileno()).st_size
            # mmap refuses an empty file; an empty column needs no mapping.
            self.blob = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if length else b""
        if length != size or len(self.keys) != len(self):
            raise ValueError(f"{folder / name}.bin holds {length} bytes and {len(self.keys)} keys, "
                             f"its offsets say {size} bytes and {len(self)} strings")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        return self.blob[int(self.offsets[i]):int(self.offsets[i + 1])]

    def __getitem__(self, i: int) -> str:
        return self.raw(i).decode("utf-8")

    def find(self, values: Sequence[str]) -> list[int | None]:
        """The position of each value in a column written in byte order; None where absent."""
        wanted = [v.encode("utf-8") for v in values]
        keys = np.array([_key(w) for w in wanted], dtype=np.uint64)
        lows = np.searchsorted(self.keys, keys, side="left").tolist()
        highs = np.searchsorted(self.keys, keys, side="right").tolist()
        return [self._bisect(w, lo, hi) for w, lo, hi in zip(wanted, lows, highs)]

    def _bisect(self, want: bytes, lo: int, hi: int) -> int | None:
        """`want` among the strings lo..hi-1, which share its first eight bytes (mostly one)."""
        end = hi
        while lo < hi:
            mid = (lo + hi) // 2
            if self.raw(mid) < want:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < end and self.raw(lo) == want else None
