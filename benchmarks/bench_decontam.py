"""Decontamination throughput with the GSM8K + HumanEval + MMLU-Redux index, one process.

    python benchmarks/bench_decontam.py

Prints the index build time and size, then MB/s of the per-document scan (normalise, hash
13-grams, look up) over the default corpus's main texts. Target: >= 5 MB/s per core.
"""
from __future__ import annotations

import gzip
import json
import time
import tracemalloc

from common import default_corpus_dir, peak_rss_mb, timed

from pipeline.document import Document
from pipeline.stages.decontam import Config, DecontamStage, Index


def main() -> None:
    cfg = Config()
    tracemalloc.start()
    t0 = time.perf_counter()
    index = Index.build(cfg)
    build = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"index: {', '.join(f'{n} ({k:,} items)' for n, k in zip(index.names, index.items))}; "
          f"{len(index.hashes):,} n-grams, {index.hashes.nbytes * 2 / 1e6:.1f} MB of arrays, "
          f"built in {build:.2f} s (peak {peak / 1e6:.0f} MB while building)")
    texts = [json.loads(l)["text"] for l in gzip.open(default_corpus_dir() / "expected.jsonl.gz")]
    docs = [Document(str(i), t) for i, t in enumerate(texts)]
    mb = sum(d.nbytes for d in docs) / 1e6
    st = DecontamStage(cfg)
    st.common, st.index, st.cache = set(), index, {}
    with timed() as t:
        found = sum(not isinstance(st.process(Document(d.id, d.text)), Document) for d in docs)
    print(f"scan: {len(docs):,} documents, {mb:.1f} MB in {t['seconds']:.2f} s = {mb / t['seconds']:.2f} MB/s, "
          f"{len(docs) / t['seconds']:,.0f} docs/s (target >= 5 MB/s); {found} contaminated; "
          f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
