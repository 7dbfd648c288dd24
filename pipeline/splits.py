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

    def merged(self, owner: np.ndarray, n: int) -> "Postings":
        """The same n-grams over `n` groups of documents (`owner`: each document's group), each
        n-gram posted once per group: what `groups` needs when a document has several texts.
        One pass over the sorted postings, so no second sort."""
        out = Postings([])
        out.n_docs = n
        out.hashes, out.docs = _merge_runs(self.hashes, self.docs, owner, n)
        return out

    def of(self, member: np.ndarray) -> np.ndarray:
        """The sorted hashes of the postings of the documents flagged in `member` (bool per doc)."""
        return self.hashes[member[self.docs]]


@numba.njit(cache=True, nogil=True)
def _merge_runs(hashes: np.ndarray, docs: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Postings (sorted by hash) with each document replaced by its owner, the repeats of an
    owner within a run of one hash dropped; still sorted by hash."""
    last_run = np.full(n, -1, np.int64)  # per owner: the last run it was posted in
    out_h = np.empty(len(hashes), np.uint64)
    out_d = np.empty(len(hashes), np.int64)
    run, m = -1, 0
    for i in range(len(hashes)):
        if i == 0 or hashes[i] != hashes[i - 1]:
            run += 1
        g = owner[docs[i]]
        if last_run[g] != run:
            last_run[g] = run
            out_h[m] = hashes[i]
            out_d[m] = g
            m += 1
    return out_h[:m].copy(), out_d[:m].copy()


def _runs(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of equal values in sorted `h`."""
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if len(h) else np.empty(0, np.int64)
    return starts, np.diff(np.r_[starts, len(h)])


def groups(p: Postings, max_df: int = 100) -> np.ndarray:
    """Group label of each document: connected components of 'shares an n-gram found in 2 to
    max_df documents'. Labels are the smallest document index of each group."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, h, d = p.n_docs, p.hashes, p.docs
    if len(h) == 0:
        return np.arange(n)
    starts, df = _runs(h)
    run = np.repeat(np.arange(len(starts)), df)
    linking = (df[run] >= 2) & (df[run] <= max_df)
    # link each posting of a linking n-gram to the first document of that n-gram's run
    first = d[starts][run]
    a, b = first[linking], d[linking]
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    smallest = np.full(comp.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, comp, np.arange(n))
    return smallest[comp]


def repeated_share(p: Postings, member: np.ndarray) -> float:
    """Share of the member documents' distinct n-grams that occur in another member document."""
    return repeated_share_of(p.of(member))


def repeated_share_of(h: np.ndarray) -> float:
    """`repeated_share` from the members' sorted hashes (`Postings.of`)."""
    if not len(h):
        return 0.0
    _, df = _runs(h)
    return float(df[df > 1].sum() / len(h))


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
    if len(v) == 0:
        return 0.0
    starts, df = _runs(t)
    uniq = t[starts]
    counts = np.zeros(len(v), np.int64)
    if len(uniq):
        pos = np.minimum(np.searchsorted(uniq, v), len(uniq) - 1)
        counts = np.where(uniq[pos] == v, df[pos], 0)
    return float(np.mean((counts >= lo) & (counts <= hi)))
