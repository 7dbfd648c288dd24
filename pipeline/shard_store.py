"""The shards step's working store on disk: every distinct text's tokens, and the texts' n-gram
postings in sorted runs read back a hash range at a time.

Why on disk: the step reads every document of every variant, and holding their tokens (about
the size of the text) and postings (16 bytes an n-gram, about three times the text) made its
memory grow with the corpus: 8 bytes of RSS a byte of text, 29 GB at 1.6 M documents. Here a
text's tokens are appended to one file as it is encoded and read back with positioned reads
(a mapping would count every page touched as the process's memory); postings are buffered up
to `buffer_postings`, sorted and written as a run, and read back by hash range: every range
holds about one buffer's worth of postings from all runs, so the passes over them (the
validation groups, each budget's repetition, the validation overlap) take memory set by the
buffer, not by the corpus. Each hash lies in exactly one range, so per-range counts add up to
the whole corpus's.
"""
from __future__ import annotations

import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numba
import numpy as np

CELLS = 4096  # the hash space in equal cells; a range read back is a run of whole cells
_EDGES = np.array([(k << 64) // CELLS for k in range(1, CELLS)], dtype=np.uint64)


class TokenStore:
    """The tokens of every distinct text, in the order they were added, in one file."""

    def __init__(self, path: Path, dtype: np.dtype):
        self.path, self.dtype = path, np.dtype(dtype)
        self.file = open(path, "wb")
        self.lengths: list[np.ndarray] = []
        self.offsets = np.zeros(1, np.int64)

    def add(self, arrays: list[np.ndarray]) -> None:
        if arrays:
            self.file.write(np.concatenate(arrays).astype(self.dtype, copy=False).tobytes())
        self.lengths.append(np.array([len(a) for a in arrays], np.int64))

    def close(self) -> np.ndarray:
        """Finish writing; returns each text's token count."""
        self.file.close()
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.lengths = []
        self.file = open(self.path, "rb")
        return lengths

    def tokens(self, text: int) -> np.ndarray:
        a, b = int(self.offsets[text]), int(self.offsets[text + 1])
        self.file.seek(a * self.dtype.itemsize)
        return np.fromfile(self.file, self.dtype, b - a)


class PostingRuns:
    """(n-gram hash, text index) postings, spilled in sorted runs and read back by hash range."""

    def __init__(self, folder: Path, buffer_postings: int):
        self.folder, self.buffer = folder, max(1, buffer_postings)
        folder.mkdir(parents=True, exist_ok=True)
        self.held_h: list[np.ndarray] = []
        self.held_t: list[np.ndarray] = []
        self.held = 0
        self.cells: list[np.ndarray] = []  # per run: where each cell starts (CELLS + 1 offsets)
        self.total = 0
        self.sorter = ThreadPoolExecutor(1)  # a full buffer is sorted and written while the next fills
        self.pending: Future | None = None
        self.only: tuple[np.ndarray, np.ndarray] | None = None  # the one range, when all fit in one

    @staticmethod
    def sorted_postings(sets: list[np.ndarray], first_text: int) -> tuple[np.ndarray, np.ndarray]:
        """The postings of texts first_text, first_text + 1, ... (their n-gram `sets`), sorted by
        hash: done a batch at a time beside the encoding, so a run is a cheap merge of them."""
        h = np.concatenate(sets) if sets else np.zeros(0, np.uint64)
        t = np.repeat(np.arange(first_text, first_text + len(sets), dtype=np.int32), [len(s) for s in sets])
        order = np.argsort(h)  # ties in any order: no count, group or link depends on it
        return h[order], t[order]

    def add(self, h: np.ndarray, t: np.ndarray) -> None:
        """A batch's postings, sorted by hash (`sorted_postings`)."""
        if not len(h):
            return
        self.held_h.append(h)
        self.held_t.append(t)
        self.held += len(h)
        if self.held >= self.buffer:
            self.flush()

    def flush(self, wait: bool = False) -> None:
        """Sort the held postings into a run (in the background: at most two buffers in memory).
        The last flush (`wait`) of postings that all fit in one buffer keeps them in memory as
        the one range, unwritten."""
        if self.pending is not None:
            self.pending.result()
            self.pending = None
        if wait and self.held and not self.cells:
            h, t = _merge(self.held_h, self.held_t)
            self.held_h, self.held_t, self.held, self.total = [], [], 0, len(h)
            self.only = h, t.astype(np.int64)
        if self.held:
            h, t = self.held_h, self.held_t
            self.held_h, self.held_t, self.held = [], [], 0
            self.cells.append(np.zeros(0, np.int64))  # the run's place, filled in by _write_run
            self.pending = self.sorter.submit(self._write_run, h, t, len(self.cells) - 1)
        if wait and self.pending is not None:
            self.pending.result()
            self.pending = None

    def _write_run(self, held_h: list[np.ndarray], held_t: list[np.ndarray], k: int) -> None:
        h, t = _merge(held_h, held_t)
        h.tofile(self.folder / f"run-{k:05d}.hash")
        t.tofile(self.folder / f"run-{k:05d}.text")
        self.cells[k] = np.concatenate([[0], np.searchsorted(h, _EDGES), [len(h)]]).astype(np.int64)
        self.total += len(h)

    def ranges(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(hashes, texts) of consecutive hash ranges, each sorted by hash and holding about one
        buffer of postings (a cell more than a buffer is a range of its own). When every posting
        fits in one range, it is read once and kept for the next pass."""
        self.flush(wait=True)
        if self.only is not None:
            yield self.only
            return
        if not self.cells:
            return
        per_cell = np.sum([np.diff(c) for c in self.cells], axis=0)
        start = 0
        while start < CELLS:
            end, size = start, 0
            while end < CELLS and (end == start or size + per_cell[end] <= self.buffer):
                size += per_cell[end]
                end += 1
            yield self._read(start, end)
            start = end

    def _read(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        hs, ts = [], []
        for k, c in enumerate(self.cells):
            a, n = int(c[start]), int(c[end] - c[start])
            hs.append(np.fromfile(self.folder / f"run-{k:05d}.hash", np.uint64, n, offset=a * 8))
            ts.append(np.fromfile(self.folder / f"run-{k:05d}.text", np.int32, n, offset=a * 4))
        h, t = _merge(hs, ts)
        return h, t.astype(np.int64)


def _merge(hs: list[np.ndarray], ts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Postings sorted by hash from pieces each sorted by hash, merged pairwise."""
    pieces = [(h, t) for h, t in zip(hs, ts) if len(h)] or [(np.zeros(0, np.uint64), np.zeros(0, np.int32))]
    while len(pieces) > 1:
        pieces = [_merge_two(*pieces[k], *pieces[k + 1]) if k + 1 < len(pieces) else pieces[k]
                  for k in range(0, len(pieces), 2)]
    return pieces[0]


@numba.njit(cache=True, nogil=True)
def _merge_two(h1: np.ndarray, t1: np.ndarray, h2: np.ndarray, t2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = np.empty(len(h1) + len(h2), h1.dtype)
    t = np.empty(len(h1) + len(h2), t1.dtype)
    i = j = k = 0
    while i < len(h1) and j < len(h2):
        if h2[j] < h1[i]:
            h[k], t[k] = h2[j], t2[j]
            j += 1
        else:
            h[k], t[k] = h1[i], t1[i]
            i += 1
        k += 1
    while i < len(h1):
        h[k], t[k] = h1[i], t1[i]
        i += 1
        k += 1
    while j < len(h2):
        h[k], t[k] = h2[j], t2[j]
        j += 1
        k += 1
    return h, t


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
