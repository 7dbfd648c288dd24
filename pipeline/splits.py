"""Leak-free validation: documents grouped by shared rare 13-grams, and the overlap that is left.

A document-level split lets validation text into training whenever two documents share a passage
(docstrings of related functions share whole paragraphs; near copies survive a Jaccard >= 0.5
hold-out from 0.3 upwards). So documents are linked when they share a word 13-gram (lowercased
`\\w+` words, as in decontamination) that occurs in at most `max_df` documents, and a group (a
connected component) goes to one side of the split whole. N-grams found in more documents are
common phrasing; linking on them would join most of a corpus into one group.

`overlap` measures what is left: the share of the validation's distinct 13-grams that occur in 1
to 10 training documents. Validation text that occurs in no training document is independent;
text in more than 10 is common phrasing, which a model should learn from any corpus.
"""
from __future__ import annotations

import re

import numba
import numpy as np

from pipeline.text import gram_hash, mix64_one

N = 13


def ngram_sets(texts: list[str], n: int = N, batch: int = 1000) -> list[np.ndarray]:
    """Distinct word n-gram hashes of each text (sorted uint64): lowercased `\\w+` words, and a
    text with fewer than n words gives one hash of all its words.

    Why compiled end to end: this runs beside the tokenizer on every document of the shards step,
    and per-word Python (the regex, a hash per word, a unique per document) cost half as much
    as encoding. The word split is the regex's own: the word-character table is built by running
    `\\w+` over every code point. Hash values are the kernel's own (64-bit, from the words'
    code points); only which documents share which n-grams is used, never the values."""
    table = _word_chars()
    out: list[np.ndarray] = []
    for k in range(0, len(texts), batch):
        chunk = [t.lower() for t in texts[k:k + batch]]
        offsets = np.zeros(len(chunk) + 1, np.int64)
        np.cumsum([len(t) for t in chunk], out=offsets[1:])
        points = np.frombuffer("".join(chunk).encode("utf-32-le", "surrogatepass"), np.uint32)
        values, goff = _gram_sets(points, offsets, table, n)
        out += [values[goff[i]:goff[i + 1]] for i in range(len(chunk))]
    return out


_WORD_CHARS: list[np.ndarray] = []


def _word_chars() -> np.ndarray:
    """A flag per Unicode code point: does `\\w` match it (built once a process, ~0.1 s)."""
    if not _WORD_CHARS:
        table = np.zeros(0x110000, np.bool_)
        every = "".join(map(chr, range(0x110000)))
        for m in re.finditer(r"\w+", every):
            table[m.start():m.end()] = True
        _WORD_CHARS.append(table)
    return _WORD_CHARS[0]


@numba.njit(cache=True, nogil=True)
def _gram_sets(points: np.ndarray, offsets: np.ndarray, is_word: np.ndarray, n: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per text (points[offsets[d]:offsets[d + 1]]): its words (runs of word characters) hashed,
    their n-gram hashes (one of all words when fewer than n), sorted and made distinct. Returns the
    values end to end and each text's offsets into them."""
    docs = len(offsets) - 1
    words = np.empty(len(points) + 1, np.uint64)
    values = np.empty(len(points) + docs, np.uint64)
    goff = np.zeros(docs + 1, np.int64)
    for d in range(docs):
        m = 0
        h = np.uint64(14695981039346656037)
        inside = False
        for i in range(offsets[d], offsets[d + 1]):
            c = points[i]
            if is_word[c]:
                if not inside:
                    h = np.uint64(14695981039346656037)
                    inside = True
                h = (h ^ np.uint64(c)) * np.uint64(1099511628211)
            elif inside:
                words[m] = mix64_one(h)
                m += 1
                inside = False
        if inside:
            words[m] = mix64_one(h)
            m += 1
        grams = m - n + 1 if m >= n else (1 if m > 0 else 0)
        k = min(n, m)
        start = goff[d]
        for i in range(grams):
            values[start + i] = gram_hash(words, i, k)
        if grams > 1:
            values[start:start + grams].sort()
        kept = 0
        for i in range(grams):
            if kept == 0 or values[start + i] != values[start + kept - 1]:
                values[start + kept] = values[start + i]
                kept += 1
        goff[d + 1] = start + kept
    return values[:goff[docs]].copy(), goff


class Postings:
    """(hash, document index) of every distinct n-gram of every document, sorted by hash.

    Why one object: the split's groups, each budget's repetition and the validation overlap all
    ask "in how many documents of this subset does each n-gram occur". Sorting the postings once
    makes each of those a linear pass (a mask over documents keeps the hashes sorted) instead of
    a sort of every subset's concatenated sets."""

    def __init__(self, sets: list[np.ndarray]):
        self.n_docs = len(sets)
        if not sets:
            self.hashes, self.docs = np.empty(0, np.uint64), np.empty(0, np.int64)
            return
        h = np.concatenate(sets)
        d = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
        order = np.argsort(h)  # not stable: which document of a run comes first changes no group
        self.hashes, self.docs = h[order], d[order]

    def of(self, member: np.ndarray) -> np.ndarray:
        """The sorted hashes of the postings of the documents flagged in `member` (bool per doc)."""
        return self.hashes[member[self.docs]]


def _runs(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of equal values in sorted `h`."""
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if len(h) else np.empty(0, np.int64)
    return starts, np.diff(np.r_[starts, len(h)])


def groups(p: Postings, max_df: int = 100, owner: np.ndarray | None = None, n: int = 0) -> np.ndarray:
    """Group label of each document: connected components of 'shares an n-gram found in 2 to
    max_df documents'. Labels are the smallest document index of each group. With `owner` (the
    document of each of p's texts, `n` documents), a document with several texts is grouped on
    the union of their n-grams, and an n-gram's count is of documents, not of texts."""
    if owner is None:
        owner, n = np.arange(p.n_docs, dtype=np.int64), p.n_docs
    parent = np.arange(n, dtype=np.int64)
    link(parent, p.hashes, p.docs, owner, max_df)
    return labels(parent)


@numba.njit(cache=True, nogil=True)
def link(parent: np.ndarray, hashes: np.ndarray, texts: np.ndarray, owner: np.ndarray, max_df: int) -> None:
    """Join, in the union-find forest `parent`, the documents (`owner` of each text) that share
    an n-gram found in 2 to max_df documents, from postings sorted by hash: one pass, each run
    of a hash counted by distinct documents. Postings can come a hash range at a time."""
    seen = np.full(len(parent), -1, np.int64)  # per document: the last run it was counted in
    held = np.empty(max_df + 1, np.int64)
    i, run, n = 0, 0, len(hashes)
    while i < n:
        j, k = i, 0
        while j < n and hashes[j] == hashes[i]:
            g = owner[texts[j]]
            if seen[g] != run:
                seen[g] = run
                if k <= max_df:
                    held[k] = g
                k += 1
            j += 1
        if 2 <= k <= max_df:
            for m in range(1, k):
                _join(parent, held[0], held[m])
        run += 1
        i = j


@numba.njit(cache=True, nogil=True)
def _root(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@numba.njit(cache=True, nogil=True)
def _join(parent: np.ndarray, a: int, b: int) -> None:
    """Join the components of a and b, the smaller root above the larger, so every root is its
    component's smallest index."""
    ra, rb = _root(parent, a), _root(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@numba.njit(cache=True, nogil=True)
def labels(parent: np.ndarray) -> np.ndarray:
    """Each index's root: its component's smallest index."""
    out = np.empty(len(parent), np.int64)
    for i in range(len(parent)):
        out[i] = _root(parent, i)
    return out


def repeated_share(p: Postings, member: np.ndarray) -> float:
    """Share of the member documents' distinct n-grams that occur in another member document."""
    return repeated_share_of(p.of(member))


def repeated_share_of(h: np.ndarray) -> float:
    """`repeated_share` from the members' sorted hashes (`Postings.of`)."""
    repeated, total = repeated_counts(h)
    return repeated / total if total else 0.0


def repeated_counts(h: np.ndarray) -> tuple[int, int]:
    """(postings of n-grams found in more than one member, all postings) of the members' sorted
    hashes: `repeated_share_of`'s two sums, which add up over hash ranges."""
    if not len(h):
        return 0, 0
    _, df = _runs(h)
    return int(df[df > 1].sum()), len(h)


def overlap(p: Postings, val: np.ndarray, train: np.ndarray, lo: int = 1, hi: int = 10) -> float:
    """Share of the validation documents' distinct n-grams that occur in lo..hi training
    documents (`val`, `train`: bool per document)."""
    return overlap_of(distinct(p.of(val)), p.of(train), lo, hi)


def distinct(h: np.ndarray) -> np.ndarray:
    """The distinct values of sorted `h`."""
    return h[_runs(h)[0]]


def overlap_of(v: np.ndarray, t: np.ndarray, lo: int = 1, hi: int = 10) -> float:
    """`overlap` from the validation's distinct n-grams `v` and the training documents' sorted
    hashes `t`: the shards step computes each once for several variants and budgets."""
    return overlap_hits(v, t, lo, hi) / len(v) if len(v) else 0.0


def overlap_hits(v: np.ndarray, t: np.ndarray, lo: int = 1, hi: int = 10) -> int:
    """How many of `v` occur in lo..hi training documents: `overlap_of`'s count, which adds up
    over hash ranges."""
    starts, df = _runs(t)
    uniq = t[starts]
    if not len(v) or not len(uniq):
        return 0
    pos = np.minimum(np.searchsorted(uniq, v), len(uniq) - 1)
    counts = np.where(uniq[pos] == v, df[pos], 0)
    return int(np.count_nonzero((counts >= lo) & (counts <= hi)))
