"""Export: tokens/s of `corpusprep export` to each trainer format against megatron-core's own
writer (`IndexedDatasetBuilder`, what Megatron's preprocess_data.py and NeMo Curator use) writing
the same documents to the same .bin/.idx, in the same run.

    python benchmarks/bench_export.py [--quick]

Input: the default corpus's main texts (repeated to ~4 M tokens; quick: ~200 K) as one shard
variant, a 1024-token BPE trained here. The peer is given the documents already joined (our
reader's output), so it is timed on writing alone; ours includes reading the Arrow shards,
checking their sha256 against the manifest, writing and hashing what it wrote. Rounds are
interleaved so a slow spell of the machine hits both alike; the ratio is paired per round.
"""
from __future__ import annotations

import gzip
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common import default_corpus_dir, have, rounds, sized
from pipeline.export import FORMATS, documents, export
from pipeline.shard_format import read_manifest
from pipeline.shards import build_shards
from pipeline.shards_settings import ShardsConfig
from pipeline.tokenizer import train_tokenizer


def _shards(tmp: Path, tokens: int) -> Path:
    texts = [json.loads(l)["text"] for l in gzip.open(default_corpus_dir() / "expected.jsonl.gz")]
    copies = max(1, -(-tokens * 4 // sum(map(len, texts))))  # ~4 characters a token at this vocabulary
    docs = texts * copies
    stage = tmp / "stage"
    stage.mkdir()
    for k in range(0, len(docs), 5000):
        pq.write_table(pa.table({"id": [f"d{i}" for i in range(k, min(k + 5000, len(docs)))],
                                 "text": docs[k:k + 5000]}), stage / f"part-{k:07d}.parquet")
    tok = tmp / "tok.json"
    tok.write_text(train_tokenizer(iter(texts), 1024).to_str())
    cfg = ShardsConfig(budgets=(str(tokens),), validation_tokens="10K", tokens_per_shard=1 << 20, tokenizer=str(tok))
    build_shards({"v": stage}, tmp / "shards", cfg, progress=False)
    return tmp / "shards"


def _megatron_builder(shards: Path, budget: str, out: Path, docs: list[np.ndarray]) -> None:
    import torch
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    out.mkdir()
    builder = IndexedDatasetBuilder(str(out / "tokens.bin"), dtype=np.uint16)
    for d in docs:
        builder.add_document(torch.from_numpy(d.astype(np.int64)), [len(d)])
    builder.finalize(str(out / "tokens.idx"))


def main(n_rounds: int = 5) -> None:
    n_rounds = rounds(n_rounds)
    peer = have("megatron.core.datasets.indexed_dataset")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shards = _shards(tmp, sized(4_000_000, 200_000))
        budget = next(iter(read_manifest(shards).variants["v"].budgets))
        entry = read_manifest(shards).budget("v", budget)
        docs = [t for _, t in documents(shards, entry)]
        secs: dict[str, list[float]] = {f: [] for f in (*FORMATS, *(("megatron-core",) if peer else ()))}
        for r in range(n_rounds):
            for fmt in secs:
                out = tmp / f"{fmt}-{r}"
                t0 = time.perf_counter()
                if fmt == "megatron-core":
                    _megatron_builder(shards, budget, out, docs)
                else:
                    export(shards, fmt, out, "v", budget)
                secs[fmt].append(time.perf_counter() - t0)
                if fmt == "megatron-core" and r == 0:  # the peer wrote the same bytes as ours
                    same = all((out / f).read_bytes() == (tmp / f"megatron-{r}" / f).read_bytes()
                               for f in ("tokens.bin", "tokens.idx"))
                    print(f"megatron-core's files equal ours byte for byte: {same}")
            for fmt in secs:
                shutil.rmtree(tmp / f"{fmt}-{r}")
    print(f"{entry.tokens:,} tokens in {len(docs):,} documents; median of {n_rounds} interleaved rounds")
    for fmt, s in secs.items():
        print(f"  {fmt:14s} {entry.tokens / statistics.median(s) / 1e6:7.1f} M tokens/s ({statistics.median(s):.3f} s)")
    if peer:
        paired = sorted(p / o for o, p in zip(secs["megatron"], secs["megatron-core"]))
        print(f"corpusprep megatron / megatron-core IndexedDatasetBuilder: {statistics.median(paired):.1f}x "
              f"({paired[0]:.1f}-{paired[-1]:.1f}x per round)")
    else:
        print("megatron-core is not installed (pip install -e '.[readers]'): no peer ratio")


if __name__ == "__main__":
    main()
