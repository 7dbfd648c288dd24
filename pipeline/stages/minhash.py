"""MinHash arithmetic shared by dedup and the small in-memory near-copy searches.

Shingles are word n-grams of normalised text: each distinct word is hashed once (cached), and
the n-gram hashes are combined from the word hashes. Signatures apply datasketch's default
("affine32") permutations exactly as datasketch does — the MurmurHash3 finaliser, then
`a*h + b` mod 2^32 — so they equal `datasketch.MinHash` for the same seed (tested).

Why compiled kernels (numba; the n-gram one is pipeline.text's): the permutation minimum is a
few integer operations per shingle and permutation; numpy spent most of its time on per-document
calls and on a shingles x permutations temporary. One compiled pass over a whole batch (texts
laid end to end, with offsets) needs no temporary and no per-document call. With a batch
normalised in one pass (`text.normalize_array`) and its words found in a compiled table
(`word_table`), signing is faster than rensa's Rust (benchmarks/bench_dedup.py).
"""
from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa

from pipeline.text import mix64, ngram_hashes_batch, normalize, normalize_array
from pipeline.word_table import WordTable, ngram_hashes_spaced

MAX_HASH = np.uint32((1 << 32) - 1)
_MASK32 = np.uint64(0xFFFFFFFF)


@numba.njit(cache=True, nogil=True)
def _signature_kernel(vals: np.ndarray, off: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out[d] = min over document d's shingle hashes of (a * fmix32(h) + b) mod 2^32, per permutation,
    fmix32 being MurmurHash3's 32-bit finaliser (datasketch's pre-mix for affine32)."""
    for d in range(len(off) - 1):
        row = out[d]
        for i in range(off[d], off[d + 1]):
            h = np.uint64(vals[i])
            h ^= h >> np.uint64(16)
            h = (h * np.uint64(0x85EBCA6B)) & _MASK32
            h ^= h >> np.uint64(13)
            h = (h * np.uint64(0xC2B2AE35)) & _MASK32
            h ^= h >> np.uint64(16)
            h32 = np.uint32(h)
            for p in range(len(a)):  # in 32 bits, so that the loop vectorises (10x the 64-bit form)
                row[p] = min(row[p], np.uint32(a[p] * h32 + b[p]))


class Shingler:
    """32-bit word n-gram hashes of normalised texts; each distinct word is hashed once."""

    def __init__(self, ngram: int = 5, *, lowercase: bool = True, punctuation: bool = True,
                 digits: bool = False, nfkc: bool = True, whitespace: bool = True):
        self.ngram = ngram
        self.norm = dict(lowercase=lowercase, punctuation=punctuation, digits=digits, nfkc=nfkc,
                         whitespace=whitespace)
        self.cache: dict[str, int] = {}  # word -> hash64, for word lists
        self.table = WordTable()  # the same, for space-separated texts in Arrow

    def normal(self, text: str) -> str:
        return normalize(text, **self.norm)

    def normal_array(self, texts: pa.Array | pa.ChunkedArray) -> pa.LargeStringArray:
        """`normal` of every text of an Arrow string array, in one pass (dedup's signing)."""
        return normalize_array(texts, **self.norm)

    def batch(self, normals: list[str] | pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """The 32-bit shingle hashes of many normalised texts laid end to end, and each text's
        offsets (text d's are values[offsets[d]:offsets[d + 1]]): what `signatures` takes."""
        if self.norm["whitespace"]:  # words one space apart: cut and looked up in compiled code
            return self._low32(ngram_hashes_spaced(normals, self.ngram, self.table))
        texts = normals.to_pylist() if isinstance(normals, pa.Array) else normals
        return self._low32(ngram_hashes_batch([t.split() for t in texts], self.ngram, self.cache))

    def hashes(self, words: list[str]) -> np.ndarray:
        """32-bit shingle hashes (uint32, in text order, repeats kept) of a list of words."""
        return self._low32(ngram_hashes_batch([words], self.ngram, self.cache))[0]

    @staticmethod
    def _low32(hashed: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        values, offsets = hashed
        return (values & _MASK32).astype(np.uint32), offsets

    def shingle_set(self, text: str) -> np.ndarray:
        """The distinct shingle hashes of a raw text, sorted: what true Jaccard is computed on."""
        return np.unique(self.hashes(self.normal(text).split()))

    def jaccard(self, a: str, b: str) -> float:
        """True Jaccard of two raw texts' shingle sets (what verification compares)."""
        x, y = self.shingle_set(a), self.shingle_set(b)
        union = len(np.union1d(x, y))
        return len(np.intersect1d(x, y, assume_unique=True)) / union if union else 1.0


def s_curve(bands: int, rows: int, steps: int = 20) -> list[tuple[float, float]]:
    """P(two documents become candidates | Jaccard J) = 1 - (1 - J^r)^b."""
    return [(j / steps, 1 - (1 - (j / steps) ** rows) ** bands) for j in range(steps + 1)]


def lsh_explain(b: int, r: int, ngram: int, verified_at: float | None) -> str:
    """What b bands x r rows mean: the threshold and the S-curve (`corpusprep stage dedup --explain`)."""
    lines = [f"MinHash LSH: {b} bands x {r} rows = {b * r} permutations, word {ngram}-gram shingles; "
             f"threshold (1/b)^(1/r) ~ {(1 / b) ** (1 / r):.3f}"
             + (f"; candidates verified at Jaccard >= {verified_at}" if verified_at is not None else ""),
             "Jaccard  P(candidate)"]
    lines += [f"{j:7.2f}  {p:8.4f}  {'#' * round(p * 40)}" for j, p in s_curve(b, r)]
    return "\n".join(lines)


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a, b) for this seed."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def signatures(values: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signatures (docs x num_perm, uint32) equal to datasketch's, of documents whose
    shingle hashes are laid end to end (`Shingler.batch`); no temporary beyond the result."""
    sig = np.full((len(offsets) - 1, len(a)), MAX_HASH, dtype=np.uint32)
    _signature_kernel(values, offsets, a.astype(np.uint32), b.astype(np.uint32), sig)
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (document, band): the band's rows folded together."""
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    first = np.arange(bands) * rows  # band i holds permutations i*rows .. i*rows+rows-1, as datasketch's LSH
    for r in range(rows):
        keys = mix64(keys ^ sig[:, first + r].astype(np.uint64))
    return keys


@numba.njit(cache=True, nogil=True)
def _pair_jaccard_kernel(offsets: np.ndarray, values: np.ndarray, left: np.ndarray, right: np.ndarray,
                         out: np.ndarray) -> None:
    for e in range(len(left)):
        i, i_end = offsets[left[e]], offsets[left[e] + 1]
        j, j_end = offsets[right[e]], offsets[right[e] + 1]
        union = (i_end - i) + (j_end - j)
        inter = 0
        while i < i_end and j < j_end:
            if values[i] < values[j]:
                i += 1
            elif values[i] > values[j]:
                j += 1
            else:
                inter += 1
                i += 1
                j += 1
        union -= inter
        out[e] = inter / union if union > 0 else 1.0


def pair_jaccard(offsets: np.ndarray, values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True Jaccard of many pairs of sorted distinct shingle sets at once.

    The sets are rows of a list array (`offsets`, `values`); pair e compares rows left[e] and
    right[e] by one merge of the two sorted rows (compiled): no temporary beyond the result, so
    verification's memory is the sets it has loaded. Two empty sets are equal (1.0)."""
    out = np.empty(len(left), dtype=np.float64)
    _pair_jaccard_kernel(np.asarray(offsets, np.int64), values, np.asarray(left, np.int64),
                         np.asarray(right, np.int64), out)
    return out


@numba.njit(cache=True, nogil=True)
def _distinct_kernel(values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty(len(values), np.uint32)
    starts = np.zeros(len(offsets), np.int64)
    k = 0
    for d in range(len(offsets) - 1):
        row = np.sort(values[offsets[d]:offsets[d + 1]])
        for i in range(len(row)):
            if i == 0 or row[i] != row[i - 1]:
                out[k] = row[i]
                k += 1
        starts[d + 1] = k
    return out[:k], starts


def distinct_sorted(values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each document's distinct shingle hashes, sorted (values, offsets as `Shingler.batch`'s).

    Why one compiled pass sorting each document's row: np.unique per document cost ~27 us each,
    3 s of signing 100,000 documents; one sort of (document << 32 | hash) for the whole batch was
    ~6x faster, and sorting the short rows one by one (a few hundred values, in cache) is ~3x
    faster again (20,000 pages of the bench corpus: 0.85 s -> 0.27 s). Same sets (tested)."""
    return _distinct_kernel(values, np.asarray(offsets, np.int64))


def similar_pairs(texts: list[str], reference: list[str] | None = None,
                  threshold: float = 0.5) -> list[tuple[int, int]]:
    """Pairs (i, j) whose word 5-gram Jaccard is >= threshold: texts[i] against reference[j], or,
    without a reference, against an earlier text (j < i). LSH with 16 bands x 4 rows (threshold
    ~0.5), then the true Jaccard of every candidate. For small sets (the default corpus builder,
    the shards' validation hold-out), in memory."""
    sh = Shingler()
    a_, b_ = permutations(64, 1)

    def sets_and_keys(ts: list[str]):
        values, offsets = sh.batch([sh.normal(t) for t in ts])
        sets = [set(values[offsets[i]:offsets[i + 1]].tolist()) for i in range(len(ts))]
        return sets, band_keys(signatures(values, offsets, a_, b_), 16, 4).tolist()

    sets, keys = sets_and_keys(texts)
    ref_sets, ref_keys = sets_and_keys(reference) if reference is not None else (sets, keys)
    index: dict[tuple[int, int], list[int]] = {}
    if reference is not None:
        for j, row in enumerate(ref_keys):
            for band, key in enumerate(row):
                index.setdefault((band, key), []).append(j)
    pairs = []
    for i, row in enumerate(keys):
        cands = sorted({j for band, key in enumerate(row) for j in index.get((band, key), ())})
        for j in cands:
            union = sets[i] | ref_sets[j]
            if union and len(sets[i] & ref_sets[j]) / len(union) >= threshold:
                pairs.append((i, j))
        if reference is None:  # later texts are compared with this one
            for band, key in enumerate(row):
                index.setdefault((band, key), []).append(i)
    return pairs
