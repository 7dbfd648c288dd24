"""The fuzzy half of decontamination: test items found in a document despite a few edited words.

Why a second detector: an item of 25-40 words (common in math and QA test sets) has only 13 to 28
word 13-grams, and two edited words far apart break every one of them, so 13-gram matching (GPT-3,
lm-eval-harness) misses it. Here each item is indexed by its word 5-grams (an edit breaks at most
five of them). A document's 5-grams screen candidate items (a share of the item's 5-grams found
in the document), and each candidate is verified by aligning the item's words with the
document's words around the hits (difflib's matching blocks, in order): the score is the share
of the item's words matched. 5-grams that occur in more than `max_items` items are the test set's
own template phrasing ("which of the following is"), not evidence of a leak, and are left out.

Items are held as word hashes, not words, so memory is 8 bytes a word of the test sets.
"""
from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from pipeline.text import gram_hashes, word_hashes

MASK = np.uint64((1 << 24) - 1)


@dataclass(frozen=True)
class FuzzyMatch:
    item: int      # index into the items the index was built from
    score: float   # share of the item's words matched in order
    start: int     # document word span of the match
    end: int


class FuzzyIndex:
    """Word n-gram screen + in-order word alignment, over items given as word lists."""

    def __init__(self, items: list[list[str]], n: int = 5, max_items: int = 5, min_words: int = 8,
                 cache: dict[str, int] | None = None):
        cache = {} if cache is None else cache
        self.n = n
        hs, owners, words, offsets = [], [], [], [0]
        for k, item in enumerate(items):
            wh = word_hashes(item, cache) if len(item) >= max(min_words, n) else np.empty(0, np.uint64)
            words.append(wh)
            offsets.append(offsets[-1] + len(wh))
            g = np.unique(gram_hashes(wh, n))
            hs.append(g)
            owners.append(np.full(len(g), k, np.int32))
        self.words = np.concatenate(words) if words else np.empty(0, np.uint64)
        self.offsets = np.array(offsets, dtype=np.int64)
        h = np.concatenate(hs) if hs else np.empty(0, np.uint64)
        o = np.concatenate(owners) if owners else np.empty(0, np.int32)
        order = np.argsort(h, kind="stable")
        h, o = h[order], o[order]
        # template phrasing: a gram in more than max_items items is no evidence for any of them
        count = np.unique(h, return_counts=True)[1]
        keep = np.repeat(count <= max_items, count)
        self.hashes, self.owner = h[keep], o[keep]
        self.grams = np.bincount(self.owner, minlength=len(items)).astype(np.int64)
        self.filter = np.zeros(1 << 24, dtype=bool)
        self.filter[(self.hashes & MASK).astype(np.int64)] = True
        self.template_grams = int((count > max_items).sum())

    @property
    def nbytes(self) -> int:
        return self.hashes.nbytes + self.owner.nbytes + self.words.nbytes + self.filter.nbytes

    def item_words(self, k: int) -> np.ndarray:
        return self.words[self.offsets[k]:self.offsets[k + 1]]

    def find(self, wh: np.ndarray, g: np.ndarray, min_score: float, min_coverage: float,
             skip: set[int] = frozenset()) -> list[FuzzyMatch]:
        """Items found in a document given by its word hashes `wh` and their n-gram hashes `g`
        (`gram_hashes(wh, n)`), best match per item."""
        cand = np.flatnonzero(self.filter[(g & MASK).astype(np.int64)])
        if not len(cand):
            return []
        hc = g[cand]
        lo = np.searchsorted(self.hashes, hc, "left")
        hi = np.searchsorted(self.hashes, hc, "right")
        hit = hi > lo
        if not hit.any():
            return []
        cand, hc, lo, cnt = cand[hit], hc[hit], lo[hit], (hi - lo)[hit]
        rows = np.repeat(np.arange(len(cand)), cnt)
        idx = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(lo, cnt)
        items, pos, grams = self.owner[idx], cand[rows], hc[rows]
        pairs = np.unique(np.stack([items.astype(np.uint64), grams]), axis=1)  # distinct grams per item
        found = np.bincount(pairs[0].astype(np.int64), minlength=len(self.grams))
        ok = np.flatnonzero((found >= 2) & (found >= min_coverage * np.maximum(self.grams, 1)))
        out = []
        for k in ok.tolist():
            if k in skip:
                continue
            m = self._verify(k, wh, np.sort(pos[items == k]))
            if m is not None and m.score >= min_score:
                out.append(m)
        return out

    def _verify(self, k: int, wh: np.ndarray, pos: np.ndarray) -> FuzzyMatch | None:
        """Align the item with the document around its densest cluster of hits."""
        item = self.item_words(k)
        L = len(item)
        # the window of L words holding the most hits
        ends = np.searchsorted(pos, pos + L, "right")
        best = int(np.argmax(ends - np.arange(len(pos))))
        a = max(0, int(pos[best]) - L // 2)
        b = min(len(wh), int(pos[ends[best] - 1]) + self.n + L // 2)
        sm = SequenceMatcher(None, item.tolist(), wh[a:b].tolist(), autojunk=False)
        blocks = [x for x in sm.get_matching_blocks() if x.size]
        if not blocks:
            return None
        matched = sum(x.size for x in blocks)
        return FuzzyMatch(k, matched / L, a + blocks[0].b, a + blocks[-1].b + blocks[-1].size)
