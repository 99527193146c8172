"""Rows of a .npy file read on demand with pread, for the arrays that grow with the corpus.

A memory-mapped file's pages count as the process's resident memory once touched, so a
server answering questions over a million chunks would grow toward the size of its postings
and sentence vectors. Read this way, what a question needs is copied out of the page cache
(shared, and the kernel's to drop) and freed with the question.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Sequence

import numpy as np

GAP = 8  # rows between two ranges read together rather than with two calls


class DiskRows:
    """One .npy array (C order), read a run of rows at a time; safe from many threads."""

    def __init__(self, path: Path):
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            self.shape, fortran, self.dtype = read_header(fh)
            self.offset = fh.tell()
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        size = path.stat().st_size
        if fortran or self.dtype.hasobject or size != self.offset + self.row_bytes * self.shape[0]:
            raise ValueError(f"{path} is not a plain array of {self.shape[0]} rows")
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows lo..hi-1 (a fresh array)."""
        data = os.pread(self.fd, (hi - lo) * self.row_bytes, self.offset + lo * self.row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(hi - lo, *self.shape[1:])

    def ranges(self, ranges: Sequence[tuple[int, int]]) -> list[np.ndarray]:
        """The rows of each (lo, hi) range, in the order given. Ranges that overlap or lie within
        GAP rows of each other are read with one call: a question's candidates are often
        neighbouring chunks, and a call costs more than reading a few rows too many."""
        order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
        out: list[np.ndarray] = [np.empty(0)] * len(ranges)
        start = 0
        while start < len(order):
            lo, hi = ranges[order[start]]
            end = start + 1
            while end < len(order) and ranges[order[end]][0] <= hi + GAP:
                hi = max(hi, ranges[order[end]][1])
                end += 1
            block = self.rows(lo, hi)
            for i in order[start:end]:
                out[i] = block[ranges[i][0] - lo:ranges[i][1] - lo]
            start = end
        return out
