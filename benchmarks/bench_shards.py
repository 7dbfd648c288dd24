"""Shards: tokens/s of encode + write against the tokenizer's raw encode_batch, in the same run.

    python benchmarks/bench_shards.py

Uses the default corpus's main texts (repeated to ~10 M characters) and a BPE tokenizer trained
here. Target: the whole path (encode, EOS, cut into shards, Arrow IPC, sha256) at >= 85 % of the
raw `encode_batch` speed. The compiled kernels' one-time start-up in a process (numba loads
its runtime, ~1 s; a pipeline run has paid it in its stages before the shards step) is taken
before timing, and printed.
"""
from __future__ import annotations

import gzip
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common import default_corpus_dir
from pipeline.shards import ShardsConfig, build_shards, train_tokenizer


def main() -> None:
    texts = [json.loads(l)["text"] for l in gzip.open(default_corpus_dir() / "expected.jsonl.gz")]
    reps = max(1, 10_000_000 // sum(map(len, texts)))
    docs = [t for _ in range(reps) for t in texts]
    tok = train_tokenizer(iter(texts), 8192)
    from pipeline.splits import ngram_sets

    t0 = time.perf_counter()
    ngram_sets(["warm up the compiled kernel"])
    print(f"compiled kernels' start-up, once a process: {time.perf_counter() - t0:.2f} s (not timed below)")
    with tempfile.TemporaryDirectory() as tmp:
        tok_path = Path(tmp) / "tok.json"
        tok_path.write_text(tok.to_str())
        t0 = time.perf_counter()
        n_raw = sum(len(e.ids) for i in range(0, len(docs), 1024)
                    for e in tok.encode_batch(docs[i:i + 1024], add_special_tokens=False))
        raw_s = time.perf_counter() - t0
        stage = Path(tmp) / "stage"
        stage.mkdir()
        ids = [f"d{i}" for i in range(len(docs))]
        for k in range(0, len(docs), 5000):
            pq.write_table(pa.table({"id": ids[k:k + 5000], "text": docs[k:k + 5000]}), stage / f"part-{k:07d}.parquet")
        budget = int(n_raw * 0.9)
        cfg = ShardsConfig(budgets=(str(budget),), validation_tokens="10K", tokens_per_shard=1 << 20,
                           tokenizer=str(tok_path))
        t0 = time.perf_counter()
        man = build_shards({"v": stage}, Path(tmp) / "shards", cfg, progress=False)
        secs = time.perf_counter() - t0
    n = man["seconds"]["tokens_encoded"]
    print(f"{len(docs):,} documents, {sum(map(len, docs)) / 1e6:.1f} M chars, {n_raw:,} tokens (+{len(docs):,} EOS)")
    print(f"raw encode_batch:        {n_raw / raw_s / 1e6:6.2f} M tokens/s")
    print(f"shards (encode + group split + write): {n / secs / 1e6:6.2f} M tokens/s  "
          f"({n / secs / (n_raw / raw_s):.0%} of raw; the 13-gram grouping of the validation split included)")

if __name__ == "__main__":
    main()
