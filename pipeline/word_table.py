"""Word n-gram hashes of space-separated texts, with the words' hashes cached where compiled code
reads them.

Why: dedup signs every document's word 5-grams, and each word's hash is `text.hash64` (blake2b,
stable across machines). Splitting the texts in Arrow and finding the distinct words with a
dictionary encoding cost 2.5 s of 100,000 documents (their 40 M words), more than the rest of
signing. Here one compiled pass cuts each text at its spaces and looks each word up in an
open-addressing table keyed by a 64-bit fingerprint of its bytes (FNV-1a, then a mixer); only a
word never seen before in this process goes to Python, once, to be hashed. The values are the
ones `ngram_hashes_batch` gives for `text.split()` (tested). Two different words would share a
hash only if their fingerprints collide, as likely as a collision of hash64 itself (2^-64 a pair).
"""
from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa

from pipeline.text import gram_kernel, hash64, mix64_one, string_buffers, utf8_array

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_EMPTY = np.uint64(0)  # the key of an empty slot; no fingerprint is 0
_ONE = np.uint64(1)


@numba.njit(cache=True, nogil=True)
def _fingerprint(data: np.ndarray, start: int, end: int) -> np.uint64:
    h = _FNV_OFFSET
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * _FNV_PRIME
    h = mix64_one(h)
    return h if h != _EMPTY else _ONE


@numba.njit(cache=True, nogil=True)
def _insert(keys: np.ndarray, ids: np.ndarray, key: np.uint64, entry: int) -> None:
    mask = np.uint64(len(keys) - 1)
    slot = key & mask
    while keys[slot] != _EMPTY:
        slot = (slot + _ONE) & mask
    keys[slot] = key
    ids[slot] = entry


@numba.njit(cache=True, nogil=True)
def _spaces(data: np.ndarray) -> int:
    n = 0
    for i in range(len(data)):
        n += data[i] == 32
    return n


@numba.njit(cache=True, nogil=True)
def _lookup(data: np.ndarray, offsets: np.ndarray, keys: np.ndarray, ids: np.ndarray, entries: int,
            d: int, t: int, fresh: int, token: np.ndarray, woff: np.ndarray, new_start: np.ndarray,
            new_len: np.ndarray) -> tuple[int, int, int]:
    """From text d on: each word's entry number into `token` (words are the non-empty runs
    between spaces), each text's end into `woff`, and where words new to the table first occur
    into `new_start`/`new_len`. Stops before a text that could fill the table past half (the
    caller grows it and calls again); returns (texts done, words written, new words).

    Why the caller grows the table: an array re-bound inside the loop costs reference counting
    on every access (measured 1.6x slower); likewise for unsigned and signed integers mixed,
    which numba compares in float64."""
    mask = np.uint64(len(keys) - 1)
    while d < len(offsets) - 1:
        i, end = offsets[d], offsets[d + 1]
        if 2 * (entries + fresh + (end - i + 2) // 2) > len(keys):  # a text of b bytes has <= (b + 1) / 2 words
            break
        while i < end:
            j = i
            while j < end and data[j] != 32:
                j += 1
            if j > i:
                key = _fingerprint(data, i, j)
                slot = key & mask
                while keys[slot] != key and keys[slot] != _EMPTY:
                    slot = (slot + _ONE) & mask
                if keys[slot] == _EMPTY:
                    keys[slot], ids[slot] = key, entries + fresh
                    new_start[fresh], new_len[fresh] = i, j - i
                    fresh += 1
                token[t] = ids[slot]
                t += 1
            i = j + 1
        d += 1
        woff[d] = t
    return d, t, fresh


@numba.njit(cache=True, nogil=True)
def _grown(keys: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    new_keys = np.zeros(2 * len(keys), np.uint64)
    new_ids = np.zeros(2 * len(keys), np.int64)
    for s in range(len(keys)):
        if keys[s] != _EMPTY:
            _insert(new_keys, new_ids, keys[s], ids[s])
    return new_keys, new_ids


class WordTable:
    """hash64 of every word seen in this process, by entry number, and the table that finds a
    word's entry from its bytes."""

    def __init__(self, capacity: int = 1 << 16):
        if capacity < 2 or capacity & (capacity - 1):
            raise ValueError(f"capacity = {capacity}: the table's size must be a power of two")
        self.capacity = capacity
        self.clear()

    def __len__(self) -> int:
        return len(self.hashes)

    def clear(self) -> None:
        """Forget every word (a worker's cache outgrew its share of the memory budget)."""
        self.keys = np.zeros(self.capacity, np.uint64)  # power of two; 0: empty slot
        self.ids = np.zeros(self.capacity, np.int64)
        self.hashes = np.zeros(0, np.uint64)

    def word_hashes(self, texts: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
        """hash64 of each word of each text, laid end to end, and each text's offsets into them."""
        offsets, data = string_buffers(texts)
        bound = _spaces(data) + len(texts)  # words at most; the arrays' pages are touched as used
        token, new_start, new_len = (np.empty(bound, np.int64) for _ in range(3))
        woff = np.zeros(len(texts) + 1, np.int64)
        d = t = fresh = 0
        while True:
            d, t, fresh = _lookup(data, offsets, self.keys, self.ids, len(self.hashes), d, t, fresh, token,
                                  woff, new_start, new_len)
            if d == len(texts):
                break
            self.keys, self.ids = _grown(self.keys, self.ids)
        new_start, new_len, token = new_start[:fresh], new_len[:fresh], token[:t]
        raw = memoryview(data)
        new = np.fromiter((hash64(raw[s:s + n]) for s, n in zip(new_start.tolist(), new_len.tolist())),
                          np.uint64, len(new_start))
        self.hashes = np.concatenate((self.hashes, new))
        return self.hashes[token], woff


def ngram_hashes_spaced(texts: list[str] | pa.Array, n: int, table: WordTable | None = None) \
        -> tuple[np.ndarray, np.ndarray]:
    """`ngram_hashes_batch` of `[t.split() for t in texts]`, the same values, for texts whose words
    are separated by single spaces (`normalize` with `whitespace`, the form dedup signs)."""
    arr = texts if isinstance(texts, pa.Array) else utf8_array(texts)
    wh, woff = (table if table is not None else WordTable()).word_hashes(arr.cast(pa.large_string()))
    return gram_kernel(wh, woff, n, True)
