"""Benchmark decontamination: word n-gram overlap with test sets, GPT-3 style redaction, a report.

Index: every item of every configured benchmark is normalised as lm-eval-harness's decontamination
does (lowercase, ASCII punctuation deleted, split on whitespace) and cut into word n-grams
(default 13; an item shorter than n is one gram of its own length, if it has `min_words`);
their 64-bit hashes go into one sorted numpy array, with the (benchmark, item) of each.

Prepare pass: every document's n-gram hashes are looked up (`np.searchsorted`); n-grams found in
more than `max_docs_per_ngram` documents are common phrases, not leaks, and are ignored (and
listed in the report). Then each document the scan found a match in is looked up again and handled
by `policy` (the others are kept as they are):
- drop: remove a document with any match;
- redact: as GPT-3 did, cut each match plus `redact_margin` characters on both sides, keep the
  pieces of at least `min_piece_chars`, and drop the document if it was split more than
  `max_splits` times (pieces are joined by blank lines);
- tag: keep it; matches go to `meta["decontam"]`.
"""
from __future__ import annotations

import json
import re
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import atomic
from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.io import read_part
from pipeline.stage import Stage, StageStats
from pipeline.stages.decontam_fuzzy import FuzzyIndex, FuzzyMatch
from pipeline.testsets import BenchmarkSpec, default_benchmarks, load_benchmark
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


@dataclass(frozen=True)
class Config:
    benchmarks: tuple[dict[str, Any], ...] = field(default=({"name": "default"},), metadata={
        "help": 'benchmarks: {name, path, fields = [...], format, split}; {name = "default"} = '
                "GSM8K + HumanEval + MMLU-Redux from ../shared/data (else a built-in sample); a path relative "
                "to the config file", "path": True})
    ngram: int = field(default=13, metadata={"help": "words per n-gram (GPT-3, lm-eval-harness: 13)"})
    min_words: int = field(default=8, metadata={"help": "items shorter than ngram are matched whole if they have this "
                                                        "many words"})
    max_docs_per_ngram: int = field(default=10, metadata={"help": "n-grams in more documents are common phrases and "
                                                                  "ignored"})
    policy: str = field(default="drop", metadata={"help": "drop | redact | tag"})
    redact_margin: int = field(default=200, metadata={"help": "redact: characters removed on each side of a match"})
    min_piece_chars: int = field(default=200, metadata={"help": "redact: shorter pieces are dropped"})
    max_splits: int = field(default=10, metadata={"help": "redact: documents split more often are dropped"})
    examples: int = field(default=3, metadata={"help": "examples per benchmark in the report"})
    fuzzy: bool = field(default=True, metadata={
        "help": "also find items with a few edited words (word n-gram screen + in-order word alignment)"})
    fuzzy_ngram: int = field(default=5, metadata={"help": "fuzzy: words per screening n-gram"})
    fuzzy_min_score: float = field(default=0.8, metadata={
        "help": "fuzzy: share of an item's words found in order in the document to call it a match"})
    fuzzy_min_coverage: float = field(default=0.2, metadata={
        "help": "fuzzy: share of an item's screening n-grams a document must hold to be aligned"})
    fuzzy_max_items_per_ngram: int = field(default=5, metadata={
        "help": "fuzzy: n-grams in more test items are the test set's template phrasing and ignored"})

    def __post_init__(self) -> None:
        if self.policy not in ("drop", "redact", "tag"):
            raise ConfigError(f"decontam.policy = {self.policy!r}; available: drop, redact, tag")
        if self.ngram < 1 or self.min_words < 1 or self.max_docs_per_ngram < 1:
            raise ConfigError("decontam.ngram, min_words and max_docs_per_ngram must be >= 1")
        if self.fuzzy_ngram < 2 or self.fuzzy_max_items_per_ngram < 1:
            raise ConfigError("decontam.fuzzy_ngram must be >= 2 and fuzzy_max_items_per_ngram >= 1")
        for key in ("fuzzy_min_score", "fuzzy_min_coverage"):
            if not 0 < getattr(self, key) <= 1:
                raise ConfigError(f"decontam.{key} = {getattr(self, key)}: must be in (0, 1]")
        for b in self.benchmarks:
            if not isinstance(b, dict) or "name" not in b:
                raise ConfigError(f"decontam.benchmarks: each entry needs a name, got {b!r}")
            if b["name"] != "default" and not {"path", "fields"} <= set(b):
                raise ConfigError(f"decontam.benchmarks {b['name']!r}: needs path and fields "
                                  "(the fields that make an item's text)")

    def specs(self) -> list[BenchmarkSpec]:
        out: list[BenchmarkSpec] = []
        for b in self.benchmarks:
            if b["name"] == "default":
                out += default_benchmarks()
            else:
                extra = set(b) - {"name", "path", "fields", "format", "split"}
                if extra:
                    raise ConfigError(f"decontam.benchmarks {b['name']!r}: unknown key(s) {', '.join(sorted(extra))}")
                out.append(BenchmarkSpec(b["name"], b["path"], tuple(b["fields"]),
                                         b.get("format", "auto"), b.get("split", "test")))
        return out


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


def _scan_part(task: tuple[Config, str, str]) -> str:
    """Prepare: record every (document, n-gram, benchmark, item) match of one part, exact
    n-grams and fuzzy item matches (method `fuzzy`, the matched words as `gram`)."""
    cfg, part, state = task
    index = _index_for(cfg, state)
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


def _index_for(cfg: Config, key: str) -> Index:
    """One index per worker process (building it takes a few seconds)."""
    k = f"{key}:{cfg!r}"
    if k not in _INDEX_CACHE:
        _INDEX_CACHE[k] = Index.build(cfg)
    return _INDEX_CACHE[k]


def redact(text: str, spans: list[tuple[int, int]], margin: int, min_piece: int) -> tuple[list[str], int]:
    """Cut each span plus `margin` chars each side; return the kept pieces and the cut count."""
    cuts = sorted((max(0, s - margin), min(len(text), e + margin)) for s, e in spans)
    merged: list[list[int]] = []
    for s, e in cuts:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    pieces, pos = [], 0
    for s, e in merged:
        pieces.append(text[pos:s])
        pos = e
    pieces.append(text[pos:])
    return [p.strip() for p in pieces if len(p.strip()) >= min_piece], len(merged)


class DecontamStage(Stage):
    """Benchmark n-gram overlap: drop, redact (GPT-3) or tag; per-benchmark contamination report."""

    name = "decontam"
    packages = ("numba",)
    Config = Config
    needs_prepare = True
    ground_truth_kinds = ("leak",)
    ground_truth_breakdown = "variant"

    def setup(self) -> None:
        for spec in self.config.specs():  # bad paths or field mappings fail here, before data is read
            load_benchmark(spec)

    def prepare(self, parts: list[Path], executor: Any) -> StageStats:
        cfg: Config = self.config
        state = self.state_dir
        assert state is not None
        import time
        t0 = time.perf_counter()
        index = _index_for(cfg, str(state))
        build_s = time.perf_counter() - t0
        files = sorted(executor.map_unordered(_scan_part, [(cfg, str(p), str(state)) for p in parts]))
        tables = [pq.read_table(f) for f in files]
        m = pa.concat_tables(tables) if tables else None
        common: dict[str, int] = {}
        if m is not None and m.num_rows:
            m = m.filter(pc.equal(m["method"], "exact"))  # common phrasing is about n-grams, not items
            pairs = sorted(set(zip(m["hash"].to_pylist(), m["id"].to_pylist())))
            docs_per = Counter(h for h, _ in pairs)
            grams = dict(zip(m["hash"].to_pylist(), m["gram"].to_pylist()))
            common = {grams[h]: n for h, n in docs_per.items() if n > cfg.max_docs_per_ngram}
            common_h = {h for h, n in docs_per.items() if n > cfg.max_docs_per_ngram}
        else:
            common_h = set()
        atomic.write_json(state / "common.json", {"hashes": sorted(common_h), "grams": common,
                                                  "index_build_seconds": round(build_s, 3),
                                                  "index_ngrams": int(len(index.hashes)),
                                                  "index_mb": round(index.nbytes / 1e6, 2)})
        return StageStats()

    def load_state(self) -> None:
        self.common = set(json.loads((self.state_dir / "common.json").read_text())["hashes"])
        self.index = _index_for(self.config, str(self.state_dir))
        self.cache: dict[str, int] = {}
        self.matched: set[str] | None = None

    def begin_part(self, name: str) -> None:
        """The ids of this part's documents in which the prepare scan found any match.

        Why: a document with no exact n-gram hit and no fuzzy match in the scan has none here
        either (the same words, index and settings; with no exact hit, the fuzzy search skips no
        item in either pass), so it is kept without a second lookup: on the default run that
        halves the stage's time. The few documents with matches are looked up again, as the
        common n-grams and the policy decide their fate."""
        f = self.state_dir / "matches" / f"{name}.parquet"
        self.matched = set(pq.read_table(f, columns=["id"])["id"].to_pylist()) if f.exists() else None

    def process(self, doc: Document) -> Document | Drop:
        return self.process_batch([doc])[0]

    def process_batch(self, docs: list[Document]) -> list[Document | Drop]:
        """Documents the scan found nothing in are kept as they are; the others are judged."""
        if self.matched is None:  # no scan of this part to go by (a stage run on its own)
            return self._lookup_and_judge(docs)
        out: list[Document | Drop] = list(docs)
        todo = [i for i, d in enumerate(docs) if d.id in self.matched]
        for i, res in zip(todo, self._lookup_and_judge([docs[i] for i in todo])):
            out[i] = res
        return out

    def _lookup_and_judge(self, docs: list[Document]) -> list[Document | Drop]:
        """Look up a batch of documents at once (about a million words at a time), then judge each."""
        cfg: Config = self.config
        out: list[Document | Drop] = []
        batch: list[tuple[Document, np.ndarray]] = []
        words = 0
        for i, doc in enumerate(docs):
            batch.append((doc, word_hashes(lm_eval_words(doc.text), self.cache)))
            words += len(batch[-1][1])
            if i == len(docs) - 1 or words > 1_000_000:
                looked = self.index.lookup([w for _, w in batch], cfg.fuzzy_ngram * cfg.fuzzy)
                out += [self._judge(d, wh, found, grams) for (d, wh), (found, grams) in zip(batch, looked)]
                batch, words = [], 0
        return out

    def _judge(self, doc: Document, wh: np.ndarray, found: list[tuple[int, int, int, int]],
               grams: np.ndarray) -> Document | Drop:
        cfg: Config = self.config
        hits = [(s, n, pos, h) for s, n, pos, h in found if h not in self.common]
        exact = {o for _, _, pos, h in hits for o in self.index.owners(pos, h)}
        if cfg.policy == "drop" and exact:  # enough to drop: no need to align
            fuzzy = []
        else:
            fuzzy = self.index.fuzzy_lookup(wh, grams, cfg, exact)
        if not hits and not fuzzy:
            return doc
        owners = sorted(exact | {o for o, _ in fuzzy})
        names = self.index.names
        info = {"matches": len(hits) + len(fuzzy), "items": [[names[b], i] for b, i in owners],
                "fuzzy": [[names[b], i, round(m.score, 4)] for (b, i), m in fuzzy]}
        for b in sorted({b for b, _ in owners}):
            self.count(f"docs_contaminated.{names[b]}")
        if fuzzy and not exact:
            self.count("docs_fuzzy_only")
        if cfg.policy == "drop":
            scores = {o: m.score for o, m in fuzzy}
            return Drop("contaminated", ", ".join(f"{names[b]}#{i}" + (f" (fuzzy {scores[(b, i)]:.2f})"
                                                                      if (b, i) in scores else "")
                                                  for b, i in owners[:5]))
        if cfg.policy == "tag":
            doc.meta["decontam"] = info
            return doc
        _, starts, ends = words_with_spans(doc.text)  # the same words, with character spans
        spans = [(starts[s], ends[s + n - 1]) for s, n, _, _ in hits]
        spans += [(starts[m.start], ends[m.end - 1]) for _, m in fuzzy]
        pieces, cuts = redact(doc.text, spans, cfg.redact_margin, cfg.min_piece_chars)
        if cuts > cfg.max_splits:
            return Drop("too_many_splits", f"{cuts} matches")
        if not pieces:
            return Drop("nothing_left")
        new = "\n\n".join(pieces)
        self.count("chars_removed", len(doc.text) - len(new))
        doc.text = new
        doc.meta["decontam"] = dict(info, redacted=cuts)
        return doc

    def summarize(self, stage_dir: Path) -> dict:
        """Per benchmark: items, items contaminated, documents affected, n-grams, examples."""
        cfg: Config = self.config
        state = stage_dir / "_state"
        if not (state / "common.json").exists():
            return {}
        common = json.loads((state / "common.json").read_text())
        files = sorted((state / "matches").glob("*.parquet"))
        index_names = [s.name for s in cfg.specs()]
        from pipeline.testsets import load_benchmark as lb
        sizes = [len(lb(s).items) for s in cfg.specs()]
        m = pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []
        common_h = set(common["hashes"])
        per: dict[int, dict] = defaultdict(lambda: {"items": set(), "fuzzy_items": set(), "docs": set(),
                                                    "grams": Counter(), "examples": []})
        for r in m:
            fuzzy = r.get("method") == "fuzzy"
            if not fuzzy and r["hash"] in common_h:
                continue
            p = per[r["bench"]]
            p["items"].add(r["item"])
            p["docs"].add(r["id"])
            if fuzzy:
                p["fuzzy_items"].add(r["item"])
            else:
                p["grams"][r["gram"]] += 1
            if len(p["examples"]) < cfg.examples and all(e["doc"] != r["id"] for e in p["examples"]):
                p["examples"].append({"doc": r["id"], "item": r["item"], "ngram": r["gram"],
                                      "method": r.get("method", "exact"), "score": r.get("score", 1.0)})
        report = {}
        for b, name in enumerate(index_names):
            p = per[b]
            report[name] = {"items": sizes[b], "items_contaminated": len(p["items"]),
                            "items_found_fuzzy": len(p["fuzzy_items"]),
                            "items_contaminated_pct": round(100 * len(p["items"]) / sizes[b], 3) if sizes[b] else 0.0,
                            "docs_affected": len(p["docs"]),
                            "top_ngrams": p["grams"].most_common(10), "examples": p["examples"]}
        return {"decontam": {"benchmarks": report, "common_ngrams_ignored": common["grams"],
                             "index_build_seconds": common["index_build_seconds"],
                             "index_ngrams": common["index_ngrams"], "index_mb": common["index_mb"],
                             "config": {k: v for k, v in cfg.__dict__.items() if k != "benchmarks"}
                             | {"benchmarks": [s.__dict__ for s in cfg.specs()]}}}

    @classmethod
    def card_section(cls, stats: dict) -> list[str]:
        c = stats.get("decontam")
        if not c:
            return []
        fuzzy = (f" Fuzzy detector for edited items: word {c['config']['fuzzy_ngram']}-gram screen, a match "
                 f"when {c['config']['fuzzy_min_score']:.0%} of an item's words are found in order."
                 if c["config"].get("fuzzy") else "")
        L = ["", "## Benchmark contamination", "",
             f"Index of {c['index_ngrams']:,} n-grams ({c['index_mb']} MB, built in {c['index_build_seconds']} s); "
             f"policy `{c['config']['policy']}`, n = {c['config']['ngram']}; "
             f"{len(c['common_ngrams_ignored'])} common n-gram(s) ignored." + fuzzy, "",
             "| benchmark | items | items contaminated | of them found only fuzzily | docs affected | top n-gram |",
             "|---|---:|---:|---:|---:|---|"]
        for name, b in c["benchmarks"].items():
            top = f"`{b['top_ngrams'][0][0]}` x{b['top_ngrams'][0][1]}" if b["top_ngrams"] else ""
            L.append(f"| {name} | {b['items']:,} | {b['items_contaminated']:,} ({b['items_contaminated_pct']} %) | "
                     f"{b.get('items_found_fuzzy', 0):,} | {b['docs_affected']:,} | {top} |")
        return L

    @classmethod
    def licence_note(cls, config: Any) -> str:
        return ("Decontamination index: GSM8K (MIT), HumanEval (MIT), MMLU-Redux (CC-BY-4.0, "
                "Gema et al. 2024) from ../shared/data/benchmarks when present.")
