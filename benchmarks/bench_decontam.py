"""Decontamination throughput with the GSM8K + HumanEval + MMLU-Redux index, one process.

    python benchmarks/bench_decontam.py

Prints the index build time and size, then MB/s of the per-document scan (normalise, hash
13-grams, look up; with the fuzzy detector also 5-grams, screen and align) over the default
corpus's main texts, without and with the fuzzy detector. Target: >= 5 MB/s per core.
"""
from __future__ import annotations

import gzip
import json
import time
import tracemalloc

from common import default_corpus_dir, peak_rss_mb, sized, timed
from pipeline.document import Document
from pipeline.stages.decontam import DecontamStage
from pipeline.stages.decontam_index import Index
from pipeline.stages.decontam_settings import Config


def scan(cfg: Config, docs: list[Document]) -> None:
    """Build the index for `cfg`, then time the per-document scan over `docs`."""
    tracemalloc.start()
    t0 = time.perf_counter()
    index = Index.build(cfg)
    build = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    fuzzy = (f"; fuzzy: {len(index.fuzzy.hashes):,} word {cfg.fuzzy_ngram}-grams of {len(index.fuzzy.grams):,} items "
             f"({index.fuzzy.template_grams:,} template n-grams left out)" if index.fuzzy else "")
    print(f"index (fuzzy {'on' if cfg.fuzzy else 'off'}): "
          f"{', '.join(f'{n} ({k:,} items)' for n, k in zip(index.names, index.items))}; "
          f"{len(index.hashes):,} 13-grams{fuzzy}; {index.nbytes / 1e6:.1f} MB of arrays, built in {build:.2f} s "
          f"(peak {peak / 1e6:.0f} MB while building)")
    mb = sum(d.nbytes for d in docs) / 1e6
    st = DecontamStage(cfg)
    st.common, st.index, st.cache, st.matched = set(), index, {}, None  # as load_state leaves it: no prepare scan
    with timed() as t:
        found = sum(not isinstance(r, Document) for r in st.process_batch([Document(d.id, d.text) for d in docs]))
    print(f"  scan: {len(docs):,} documents, {mb:.1f} MB in {t['seconds']:.2f} s = {mb / t['seconds']:.2f} MB/s, "
          f"{len(docs) / t['seconds']:,.0f} docs/s (target >= 5 MB/s); {found} contaminated; "
          f"peak RSS {peak_rss_mb():.0f} MB")


def main() -> None:
    texts = [json.loads(l)["text"] for l in gzip.open(default_corpus_dir() / "expected.jsonl.gz")]
    docs = [Document(str(i), t) for i, t in enumerate(texts[:sized(len(texts), 100)])]
    for cfg in (Config(fuzzy=False), Config()):
        scan(cfg, docs)


if __name__ == "__main__":
    main()
