"""Benchmark decontamination: word n-gram overlap with test sets, GPT-3 style redaction, a report.

Index (`decontam_index`): every item of every configured benchmark is normalised as lm-eval-harness's decontamination
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
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline import atomic
from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.formatting import excerpt
from pipeline.stage import Stage, StageStats
from pipeline.stages.decontam_index import index_for, lm_eval_words, match_spans, scan_part, words_with_spans
from pipeline.stages.decontam_settings import Config
from pipeline.testsets import load_benchmark
from pipeline.text import word_hashes


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
        index = index_for(cfg, str(state))
        build_s = time.perf_counter() - t0
        files = sorted(executor.map_unordered(scan_part, [(cfg, str(p), str(state)) for p in parts]))
        docs_per, grams = _exact_ngram_docs(files)
        common_h = {h for h, n in docs_per.items() if n > cfg.max_docs_per_ngram}
        common = {grams[h]: docs_per[h] for h in common_h}
        atomic.write_json(state / "common.json", {"hashes": sorted(common_h), "grams": common,
                                                  "index_build_seconds": round(build_s, 3),
                                                  "index_ngrams": int(len(index.hashes)),
                                                  "index_mb": round(index.nbytes / 1e6, 2)})
        return StageStats()

    def load_state(self) -> None:
        self.common = set(json.loads((self.state_dir / "common.json").read_text())["hashes"])
        self.index = index_for(self.config, str(self.state_dir))
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

    def matches(self, doc_id: str | None = None, bench: str | None = None) -> list[dict[str, Any]]:
        """The whole-stream pass's matches of one document or one benchmark (common n-grams left
        out, as the verdicts leave them): id, benchmark, item, the matched words, method, score."""
        files = sorted((self.state_dir / "matches").glob("*.parquet"))
        names = [s.name for s in self.config.specs()]
        if bench is not None and bench not in names:
            raise ConfigError(f"no benchmark {bench!r} in this run's decontam; its benchmarks: {', '.join(names)}")
        if not files:
            return []
        flt = None
        if doc_id is not None:
            flt = pc.field("id") == doc_id
        if bench is not None:
            on_bench = pc.field("bench") == names.index(bench)
            flt = on_bench if flt is None else flt & on_bench
        t = ds.dataset([str(f) for f in files], format="parquet").to_table(filter=flt)
        common_file = self.state_dir / "common.json"
        common = set(json.loads(common_file.read_text())["hashes"]) if common_file.exists() else set()
        return [dict(r, benchmark=names[r["bench"]]) for r in t.to_pylist()
                if r["method"] == "fuzzy" or r["hash"] not in common]

    def explain_drop(self, drop: dict[str, Any], measures: dict[str, Any] | None,
                     text_of: Callable[[str], str | None]) -> dict[str, Any]:
        """The benchmark items the document matched, and the text around the first match."""
        rows = self.matches(doc_id=drop["id"])
        spans = match_spans(drop["text"], [r["gram"] for r in rows]) if drop["text"] else []
        items: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            items.setdefault(f"{r['benchmark']}#{r['item']}", []).append(r)
        out = {"matches": [(k, ms[0]["method"], len(ms), ms[0]["gram"]) for k, ms in list(items.items())[:10]]}
        return {**super().explain_drop(drop, measures, text_of), **out,
                **({"excerpt": excerpt(drop["text"], *spans[0])} if spans else {})}

    def summarize(self) -> dict:
        """Per benchmark: items, items contaminated, documents affected, n-grams, examples."""
        cfg: Config = self.config
        state = self.state_dir
        if not (state / "common.json").exists():
            return {}
        common = json.loads((state / "common.json").read_text())
        files = sorted((state / "matches").glob("*.parquet"))
        index_names = [s.name for s in cfg.specs()]
        from pipeline.testsets import load_benchmark as lb
        sizes = [len(lb(s).items) for s in cfg.specs()]
        common_h = set(common["hashes"])
        per: dict[int, dict] = defaultdict(lambda: {"items": set(), "fuzzy_items": set(), "docs": 0,
                                                    "grams": Counter(), "examples": []})
        for f in files:  # one part's matches at a time, never the corpus's
            seen: set[tuple[int, str]] = set()  # a document's matches are all in its part's file
            for r in pq.read_table(f).to_pylist():
                fuzzy = r.get("method") == "fuzzy"
                if not fuzzy and r["hash"] in common_h:
                    continue
                p = per[r["bench"]]
                p["items"].add(r["item"])
                if (r["bench"], r["id"]) not in seen:
                    seen.add((r["bench"], r["id"]))
                    p["docs"] += 1
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
                            "docs_affected": p["docs"],
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


def _exact_ngram_docs(files: list[Path]) -> tuple[Counter, dict[int, str]]:
    """For each n-gram hash of an exact match: the documents it is in, and its words.

    A file at a time: a document's matches are all in its part's file, so distinct (hash,
    document) pairs of one file are distinct overall, and what is held grows with the matched
    benchmark n-grams, not with the corpus (1.6 M documents gave 447 K matches, once held as
    Python rows)."""
    docs_per: Counter = Counter()
    grams: dict[int, str] = {}
    for f in files:
        t = pq.read_table(f, columns=["id", "hash", "gram", "method"])
        t = t.filter(pc.equal(t["method"], "exact"))
        pairs = t.group_by(["hash", "id"]).aggregate([])
        per = pairs.group_by("hash").aggregate([("id", "count")])
        docs_per.update(dict(zip(per["hash"].to_pylist(), per["id_count"].to_pylist())))
        words = t.group_by("hash", use_threads=False).aggregate([("gram", "first")])
        for h, g in zip(words["hash"].to_pylist(), words["gram_first"].to_pylist()):
            grams.setdefault(h, g)
    return docs_per, grams


