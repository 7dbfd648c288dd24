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

import numpy as np

from pipeline.text import ngram_hashes_batch, words

N = 13


def ngram_sets(texts: list[str], n: int = N, batch: int = 1000) -> list[np.ndarray]:
    """Distinct word n-gram hashes of each text (sorted uint64); one word hash cache for all."""
    cache: dict[str, int] = {}
    out = []
    for k in range(0, len(texts), batch):
        values, offsets = ngram_hashes_batch([words(t.lower()) for t in texts[k:k + batch]], n, cache)
        out += [np.unique(values[offsets[i]:offsets[i + 1]]) for i in range(len(offsets) - 1)]
    return out


def _postings(sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(hash, document index) of every distinct n-gram of every document, sorted by hash."""
    if not sets:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    h = np.concatenate(sets)
    d = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    order = np.argsort(h, kind="stable")
    return h[order], d[order]


def groups(sets: list[np.ndarray], max_df: int = 100) -> np.ndarray:
    """Group label of each document: connected components of 'shares an n-gram found in 2 to
    max_df documents'. Labels are the smallest document index of each group."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(sets)
    h, d = _postings(sets)
    if len(h) == 0:
        return np.arange(n)
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
    df = np.diff(np.r_[starts, len(h)])
    run = np.repeat(np.arange(len(starts)), df)
    linking = (df[run] >= 2) & (df[run] <= max_df)
    # link each posting of a linking n-gram to the first document of that n-gram
    first = d[starts][run]
    a, b = first[linking], d[linking]
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    smallest = np.full(comp.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, comp, np.arange(n))
    return smallest[comp]


def overlap(val_sets: list[np.ndarray], train_sets: list[np.ndarray], lo: int = 1, hi: int = 10) -> float:
    """Share of the validation's distinct n-grams that occur in lo..hi training documents."""
    val = np.unique(np.concatenate(val_sets)) if val_sets else np.empty(0, np.uint64)
    if len(val) == 0:
        return 0.0
    h, _ = _postings(train_sets)
    uniq, df = np.unique(h, return_counts=True)
    pos = np.searchsorted(uniq, val)
    pos = np.minimum(pos, max(len(uniq) - 1, 0))
    found = (len(uniq) > 0) & (uniq[pos] == val) if len(uniq) else np.zeros(len(val), bool)
    counts = np.where(found, df[pos] if len(uniq) else 0, 0)
    return float(np.mean((counts >= lo) & (counts <= hi)))
