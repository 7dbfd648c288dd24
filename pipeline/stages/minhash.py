"""MinHash arithmetic shared by dedup and the small in-memory near-copy searches.

Shingles are word n-grams of normalised text, hashed with numpy (each distinct word once, the
n-grams combined arithmetically: no Python loop per shingle). Signatures apply datasketch's
default ("affine32") permutations exactly as datasketch does — the MurmurHash3 finaliser, then
`a*h + b` mod 2^32 — so they equal `datasketch.MinHash` for the same seed (tested), but for a
whole batch of documents at once.
"""
from __future__ import annotations

import numpy as np

from pipeline.text import mix64, ngram_hashes, normalize

MAX_HASH = np.uint32((1 << 32) - 1)


class Shingler:
    """32-bit word n-gram hashes of normalised texts; each distinct word is hashed once."""

    def __init__(self, ngram: int = 5, *, lowercase: bool = True, punctuation: bool = True,
                 digits: bool = False, nfkc: bool = True, whitespace: bool = True):
        self.ngram = ngram
        self.norm = dict(lowercase=lowercase, punctuation=punctuation, digits=digits, nfkc=nfkc,
                         whitespace=whitespace)
        self.cache: dict[str, int] = {}

    def normal(self, text: str) -> str:
        return normalize(text, **self.norm)

    def hashes(self, words: list[str]) -> np.ndarray:
        """32-bit shingle hashes (uint32, in text order, repeats kept) of a list of words."""
        h = ngram_hashes(words, self.ngram, self.cache)
        return (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)

    def shingle_set(self, text: str) -> np.ndarray:
        """The distinct shingle hashes of a raw text, sorted: what true Jaccard is computed on."""
        return np.unique(self.hashes(self.normal(text).split()))


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser: datasketch's pre-mix for its affine32 scheme."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a, b) for this seed."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def signatures(hash_lists: list[np.ndarray], a: np.ndarray, b: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """MinHash signatures (docs x num_perm, uint32) equal to datasketch's, computed in chunks of
    about `chunk` shingles (aligned to documents) so memory does not follow the batch size."""
    num_perm = len(a)
    sig = np.full((len(hash_lists), num_perm), MAX_HASH, dtype=np.uint32)
    lens = np.array([len(h) for h in hash_lists], dtype=np.int64)
    nonempty = np.flatnonzero(lens)
    if not len(nonempty):
        return sig
    ends = np.cumsum(lens[nonempty])
    starts = ends - lens[nonempty]
    doc = 0
    while doc < len(nonempty):
        # the documents whose shingles fit in this chunk (at least one document)
        end = max(doc + 1, int(np.searchsorted(ends, starts[doc] + chunk, side="right")))
        hv = fmix32(np.concatenate([hash_lists[i] for i in nonempty[doc:end]]))
        phv = hv[:, None] * a[None, :]  # uint32: wraps mod 2^32, as datasketch
        phv += b[None, :]
        sig[nonempty[doc:end]] = np.minimum.reduceat(phv, starts[doc:end] - starts[doc], axis=0)
        doc = end
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (document, band): the band's rows folded together."""
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    first = np.arange(bands) * rows  # band i holds permutations i*rows .. i*rows+rows-1, as datasketch's LSH
    for r in range(rows):
        keys = mix64(keys ^ sig[:, first + r].astype(np.uint64))
    return keys


def pair_jaccard(offsets: np.ndarray, values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True Jaccard of many pairs of sorted distinct shingle sets at once.

    The sets are rows of a list array (`offsets`, `values`); pair e compares rows left[e] and
    right[e]. Both sides' shingles are tagged with their pair number and sorted together: a value
    seen twice within one pair is in the intersection. No Python loop per pair.
    """
    def tagged(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lens = offsets[rows + 1] - offsets[rows]
        pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens - offsets[rows], lens)
        pair = np.repeat(np.arange(len(rows), dtype=np.uint64), lens)
        return (pair << np.uint64(32)) | values[pos].astype(np.uint64), lens

    ka, la = tagged(left)
    kb, lb = tagged(right)
    keys = np.concatenate([ka, kb])
    del ka, kb
    keys.sort()
    same = keys[1:][keys[1:] == keys[:-1]]
    inter = np.bincount((same >> np.uint64(32)).astype(np.int64), minlength=len(left))
    union = la + lb - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def similar_pairs(texts: list[str], reference: list[str] | None = None,
                  threshold: float = 0.5) -> list[tuple[int, int]]:
    """Pairs (i, j) whose word 5-gram Jaccard is >= threshold: texts[i] against reference[j], or,
    without a reference, against an earlier text (j < i). LSH with 16 bands x 4 rows (threshold
    ~0.5), then the true Jaccard of every candidate. For small sets (the default corpus builder,
    the shards' validation hold-out), in memory."""
    sh = Shingler()
    a_, b_ = permutations(64, 1)

    def sets_and_keys(ts: list[str]):
        hs = [sh.hashes(sh.normal(t).split()) for t in ts]
        return [set(h.tolist()) for h in hs], band_keys(signatures(hs, a_, b_), 16, 4).tolist()

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
