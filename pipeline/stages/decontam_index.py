"""The exact n-gram index of the benchmarks' items, and the prepare pass that looks every
document of a part up in it (`scan_part`, run in worker processes).

Items and documents are normalised alike, as lm-eval-harness's decontamination does (lowercase,
ASCII punctuation deleted, split on whitespace), so an n-gram matches whatever the casing and
punctuation around it.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline import atomic
from pipeline.errors import ConfigError
from pipeline.io import read_part
from pipeline.stages.decontam_fuzzy import FuzzyIndex, FuzzyMatch
from pipeline.stages.decontam_settings import Config
from pipeline.testsets import load_benchmark
from pipeline.text import mix64, ngram_hashes, word_hashes

_DELETE_PUNCT = str.maketrans("", "", string.punctuation)
_TOKEN = re.compile(r"\S+")


def lm_eval_words(text: str) -> list[str]:
    """lm-eval-harness normalisation: lowercase, ASCII punctuation deleted, whitespace split."""
    return text.lower().translate(_DELETE_PUNCT).split()


def words_with_spans(text: str) -> tuple[list[str], list[int], list[int]]:
    """The same words, with the character span of the token each came from."""
    words, starts, ends = [], [], []
    for m in _TOKEN.finditer(text):
        for w in m.group().lower().translate(_DELETE_PUNCT).split():
            words.append(w)
            starts.append(m.start())
            ends.append(m.end())
    return words, starts, ends


@dataclass
class Index:
    """Sorted n-gram hashes with the (benchmark, item) each came from."""

    hashes: np.ndarray        # uint64, sorted
    bench: np.ndarray         # int32, benchmark index per hash
    item: np.ndarray          # int32, item index per hash
    names: list[str]
    items: list[int]          # items per benchmark
    lengths: list[int]        # gram lengths present (n, and shorter whole items)
    notes: list[str]
    fuzzy: FuzzyIndex | None = None  # over every item, numbered in benchmark order
    fuzzy_owner: list[tuple[int, int]] = field(default_factory=list)  # (benchmark, item) per fuzzy item

    @classmethod
    def build(cls, cfg: Config) -> "Index":
        hs, bs, its, lengths, names, counts, notes = [], [], [], {cfg.ngram}, [], [], []
        cache: dict[str, int] = {}
        item_words, owner = [], []
        for bi, spec in enumerate(cfg.specs()):
            bench = load_benchmark(spec)
            names.append(bench.name)
            counts.append(len(bench.items))
            notes += [f"{bench.name}: {n}" for n in bench.notes]
            for ii, text in enumerate(bench.items):
                words = lm_eval_words(text)
                item_words.append(words)
                owner.append((bi, ii))
                if len(words) < min(cfg.ngram, cfg.min_words):
                    continue
                h = np.unique(ngram_hashes(words, cfg.ngram, cache))
                lengths.add(min(cfg.ngram, len(words)))
                hs.append(h)
                bs.append(np.full(len(h), bi, np.int32))
                its.append(np.full(len(h), ii, np.int32))
        if not hs:
            raise ConfigError("decontam: the benchmarks have no item long enough to index")
        h, b, i = np.concatenate(hs), np.concatenate(bs), np.concatenate(its)
        order = np.argsort(h, kind="stable")
        fuzzy = FuzzyIndex(item_words, cfg.fuzzy_ngram, cfg.fuzzy_max_items_per_ngram, cfg.min_words,
                           cache) if cfg.fuzzy else None
        return cls(h[order], b[order], i[order], names, counts, sorted(lengths), notes, fuzzy, owner)

    def __post_init__(self) -> None:
        # A 16 M-bit filter on the low hash bits: most document n-grams are rejected by one
        # gather instead of a binary search (the index holds ~0.4 M n-grams: ~2 % pass).
        self.filter = np.zeros(1 << 24, dtype=bool)
        self.filter[(self.hashes & np.uint64((1 << 24) - 1)).astype(np.int64)] = True
        self.length_set = set(self.lengths)
        self.fuzzy_id = {o: k for k, o in enumerate(self.fuzzy_owner)}

    @property
    def nbytes(self) -> int:
        """Memory of the index arrays, both detectors."""
        own = self.hashes.nbytes + self.bench.nbytes + self.item.nbytes + self.filter.nbytes
        return own + (self.fuzzy.nbytes if self.fuzzy is not None else 0)

    def fuzzy_lookup(self, wh: np.ndarray, grams: np.ndarray, cfg: Config, found: set[tuple[int, int]]) \
            -> list[tuple[tuple[int, int], FuzzyMatch]]:
        """(benchmark, item) and match of each item the fuzzy detector finds beyond `found`, from
        the document's word hashes and its fuzzy_ngram-word gram hashes."""
        if self.fuzzy is None or not len(grams):
            return []
        skip = {self.fuzzy_id[o] for o in found}
        return [(self.fuzzy_owner[m.item], m) for m in
                self.fuzzy.find(wh, grams, cfg.fuzzy_min_score, cfg.fuzzy_min_coverage, skip)]

    def lookup(self, whs: list[np.ndarray], keep: int = 0) \
            -> list[tuple[list[tuple[int, int, int, int]], np.ndarray]]:
        """Matches in each document given by its word hashes: (start word, gram length, index
        position of first hit, hash); and the hashes of its `keep`-word grams (the fuzzy
        screen's), which the same sweep computes.

        The documents are concatenated so that each numpy step runs once for the whole batch, not
        once a document; grams that would cross a document boundary are masked out. One sweep
        over the gram positions gives every gram length at once (the hash of a k-gram extends
        that of its (k-1)-gram prefix, as `ngram_hashes` builds it).
        """
        sizes = np.array([len(w) for w in whs], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        total = int(starts[-1])
        doc_of = np.repeat(np.arange(len(whs)), sizes)
        room = starts[1:][doc_of] - np.arange(total)  # words from each position to its document's end
        wh = np.concatenate(whs) if total else np.empty(0, np.uint64)
        hits: list[list[tuple[int, int, int, int]]] = [[] for _ in whs]
        kept = np.empty(0, dtype=np.uint64)
        h = np.zeros(total, dtype=np.uint64)
        mask = np.uint64((1 << 24) - 1)
        for j in range(max(self.lengths[-1], keep)):
            m = total - j
            if m <= 0:
                break
            h = mix64(h[:m] ^ wh[j:j + m])
            if j + 1 == keep:
                kept = h
            if j + 1 in self.length_set:
                cand = np.flatnonzero(self.filter[(h & mask).astype(np.int64)] & (room[:m] > j))
                if len(cand):
                    hc = h[cand]
                    pos = np.searchsorted(self.hashes, hc)
                    pos[pos == len(self.hashes)] = 0
                    for t in np.flatnonzero(self.hashes[pos] == hc):
                        p = int(cand[t])
                        d = int(doc_of[p])
                        hits[d].append((p - int(starts[d]), j + 1, int(pos[t]), int(hc[t])))
        grams = [kept[a:max(a, b - keep + 1)] if keep else kept[:0] for a, b in zip(starts[:-1], starts[1:])]
        return list(zip(hits, grams))

    def owners(self, pos: int, h: int) -> list[tuple[int, int]]:
        """All (benchmark, item) pairs that contain the n-gram with hash h (starting at pos)."""
        out = []
        while pos < len(self.hashes) and self.hashes[pos] == h:
            out.append((int(self.bench[pos]), int(self.item[pos])))
            pos += 1
        return out


def match_spans(text: str, grams: list[str], head: int = 13) -> list[tuple[int, int]]:
    """Character spans in `text` of matched words (`gram`s as the matches store them), in text
    order, overlapping ones merged: each found by its first `head` words (a fuzzy match's words
    are stored cut at 300 characters), and covering all its words where they all follow."""
    words, starts, ends = words_with_spans(text)
    out = set()
    for g in dict.fromkeys(grams):
        gw = g.split()
        k = min(len(gw), head)
        at = next((i for i in range(len(words) - k + 1) if words[i:i + k] == gw[:k]), None) if k else None
        if at is not None:
            n = len(gw) if words[at:at + len(gw)] == gw else k
            out.add((starts[at], ends[at + n - 1]))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(out):  # overlapping n-grams of one passage: one span
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def scan_part(task: tuple[Config, str, str]) -> str:
    """Prepare: record every (document, n-gram, benchmark, item) match of one part, exact
    n-grams and fuzzy item matches (method `fuzzy`, the matched words as `gram`)."""
    cfg, part, state = task
    index = index_for(cfg, state)
    cache: dict[str, int] = {}
    rows: dict[str, list] = {"id": [], "hash": [], "bench": [], "item": [], "gram": [], "method": [], "score": []}

    def add(doc_id: str, h: int, owner: tuple[int, int], gram: str, method: str, score: float) -> None:
        for key, v in zip(rows, (doc_id, h, owner[0], owner[1], gram, method, score)):
            rows[key].append(v)

    docs = read_part(part)
    words_of = [lm_eval_words(d.text) for d in docs]
    whs = [word_hashes(w, cache) for w in words_of]
    for doc, words, wh, (hits, grams) in zip(docs, words_of, whs, index.lookup(whs, cfg.fuzzy_ngram * cfg.fuzzy)):
        found = set()
        for start, n, pos, h in hits:
            for o in index.owners(pos, h):
                found.add(o)
                add(doc.id, h, o, " ".join(words[start:start + n]), "exact", 1.0)
        for o, m in index.fuzzy_lookup(wh, grams, cfg, found):
            add(doc.id, 0, o, " ".join(words[m.start:m.end])[:300], "fuzzy", round(m.score, 4))
    out = Path(state) / "matches" / f"{Path(part).stem}.parquet"
    atomic.write_parquet(out, pa.table({"id": pa.array(rows["id"], pa.string()),
                                        "hash": pa.array(rows["hash"], pa.uint64()),
                                        "bench": pa.array(rows["bench"], pa.int32()),
                                        "item": pa.array(rows["item"], pa.int32()),
                                        "gram": pa.array(rows["gram"], pa.string()),
                                        "method": pa.array(rows["method"], pa.string()),
                                        "score": pa.array(rows["score"], pa.float32())}))
    return str(out)


_INDEX_CACHE: dict[str, Index] = {}


def index_for(cfg: Config, key: str) -> Index:
    """One index per worker process (building it takes a few seconds)."""
    k = f"{key}:{cfg!r}"
    if k not in _INDEX_CACHE:
        _INDEX_CACHE[k] = Index.build(cfg)
    return _INDEX_CACHE[k]
