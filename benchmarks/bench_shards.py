"""Shards: tokens/s of encode + write against the tokenizer's raw encode_batch, in the same run.

    python benchmarks/bench_shards.py

1. One variant: the default corpus's main texts (repeated to >= 10 M characters) and a BPE
   tokenizer trained here.
2. The study's own shards: the default run's three variants (html, quality and decontam outputs,
   each with its own text of a document), its mixes and its validation split, with the run's
   tokenizer given; against raw encoding of the distinct texts the path encodes.
Target: the whole path (encode, EOS, cut into shards, Arrow IPC, sha256) at >= 85 % of the
raw `encode_batch` speed. The path encodes with `encode_batch_fast` (the same ids without
character offsets, which shards never use); its raw speed is printed beside. A process's one-time
start-up (numba loading its runtime and the compiled kernels, scipy and tqdm imports: ~1 s that a
pipeline run has paid in its stages before the shards step) is taken by a small untimed
build_shards run first, and printed.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from common import QUICK, REPO, default_corpus_dir, default_run_settings, rounds, sized
from pipeline.shards import build_shards
from pipeline.shards_settings import ShardsConfig
from pipeline.tokenizer import train_tokenizer


def main(n_rounds: int = 5) -> None:
    n_rounds = rounds(n_rounds)
    texts = [json.loads(l)["text"] for l in gzip.open(default_corpus_dir() / "expected.jsonl.gz")]
    chars = sized(10_000_000, 200_000)
    docs = texts[:sized(len(texts), 60)] * max(1, -(-chars // sum(map(len, texts))))  # copies: near-copy groups
    tok = train_tokenizer(iter(texts), 8192)
    with tempfile.TemporaryDirectory() as tmp:
        tok_path = Path(tmp) / "tok.json"
        tok_path.write_text(tok.to_str())
        warm, timed = (_stage(Path(tmp) / name, d) for name, d in (("warm", docs[:200]), ("timed", docs)))
        t0 = time.perf_counter()
        build_shards({"v": warm}, Path(tmp) / "warm-shards", _config(1000, tok_path), progress=False)
        print(f"start-up (a 200-document build_shards first, not timed below): {time.perf_counter() - t0:.2f} s")
        secs: dict[str, list[float]] = {"encode_batch": [], "encode_batch_fast": [], "shards": []}
        for r in range(n_rounds):  # interleaved, so a slow spell of the machine hits all three alike
            for call in ("encode_batch", "encode_batch_fast"):
                t0 = time.perf_counter()
                n_raw = sum(len(e.ids) for i in range(0, len(docs), 1024)
                            for e in getattr(tok, call)(docs[i:i + 1024], add_special_tokens=False))
                secs[call].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            budget = int(n_raw * (0.3 if QUICK else 0.9))  # quick: few texts, so large near-copy groups held out
            man = build_shards({"v": timed}, Path(tmp) / f"shards-{r}", _config(budget, tok_path),
                               progress=False)
            secs["shards"].append(time.perf_counter() - t0)
    n = man["seconds"]["tokens_encoded"]
    print(f"{len(docs):,} documents, {sum(map(len, docs)) / 1e6:.1f} M chars, {n_raw:,} tokens (+{len(docs):,} EOS); "
          f"median of {n_rounds} interleaved rounds")
    rate = {k: (n if k == "shards" else n_raw) / statistics.median(v) for k, v in secs.items()}
    for call in ("encode_batch", "encode_batch_fast"):
        print(f"raw {call + ':':19s} {rate[call] / 1e6:6.2f} M tokens/s")
    print(f"shards (encode + group split + write): {rate['shards'] / 1e6:6.2f} M tokens/s "
          "(the 13-gram grouping of the validation split included)")
    for call in ("encode_batch", "encode_batch_fast"):  # paired within a round: the machine's drift cancels
        paired = sorted((n / s) / (n_raw / r) for s, r in zip(secs["shards"], secs[call]))
        print(f"  shards / raw {call + ':':19s} median {statistics.median(paired):.0%}, "
              f"range {paired[0]:.0%}-{paired[-1]:.0%} over the {n_rounds} rounds")


def study(n_rounds: int = 5) -> None:
    """The default run's shards step, timed alone against raw encoding of what it encodes."""
    from pipeline.config import load_run_config
    from pipeline.plan import stage_dirs
    from pipeline.runner import run, shard_inputs

    default_corpus_dir()
    with tempfile.TemporaryDirectory() as tmp:
        sets = [f"run.output={tmp}/run", f"run.cards_dir={tmp}/cards"] + default_run_settings()
        n_rounds = rounds(n_rounds)
        cfg = load_run_config(REPO / "configs" / "default.toml", sets)
        run(cfg, progress=False)
        variants, drops = shard_inputs(cfg, stage_dirs(cfg))
        tok_path = Path(tmp) / "run" / "shards" / "tokenizer.json"
        tok = Tokenizer.from_file(str(tok_path))
        # what the path encodes, each distinct text of a document once: worked out here apart from the
        # path, so the two token counts printed below check each other
        distinct = {}
        for d in variants.values():
            distinct.update(((i, t), t) for i, t in _rows(sorted(Path(d).glob("part-*.parquet"))))
        pool_stages = {x for m in cfg.shards.mixes.values() for x in m["dropped"]}
        pool: dict[str, str] = {}
        for stage in pool_stages & set(drops):
            for i, t in _rows([drops[stage]]):
                if t:
                    pool.setdefault(i, t)
        distinct.update(((i, t), t) for i, t in pool.items())
        texts = list(distinct.values())
        shards_cfg = dataclasses.replace(cfg.shards, tokenizer=str(tok_path))
        secs: dict[str, list[float]] = {"encode_batch": [], "shards": []}
        for r in range(n_rounds):
            t0 = time.perf_counter()
            n_raw = sum(len(e.ids) for i in range(0, len(texts), 1024)
                        for e in tok.encode_batch(texts[i:i + 1024], add_special_tokens=False))
            secs["encode_batch"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            man = build_shards(variants, Path(tmp) / f"shards-{r}", shards_cfg, progress=False, drops=drops)
            secs["shards"].append(time.perf_counter() - t0)
    n = man["seconds"]["tokens_encoded"]
    print(f"the default run's shards ({', '.join(variants)}, {len(cfg.shards.mixes)} mixes, validation): "
          f"{len(texts):,} distinct texts, {n_raw:,} tokens (+{len(texts):,} EOS; the path encoded {n:,}); "
          f"median of {n_rounds} interleaved rounds")
    paired = sorted((n / s) / (n_raw / r) for s, r in zip(secs["shards"], secs["encode_batch"]))
    print(f"  shards {n / statistics.median(secs['shards']) / 1e6:.2f} M tokens/s, raw encode_batch "
          f"{n_raw / statistics.median(secs['encode_batch']) / 1e6:.2f} M tokens/s; paired per round: median "
          f"{statistics.median(paired):.0%}, range {paired[0]:.0%}-{paired[-1]:.0%}")


def _rows(files: list[Path]) -> list[tuple[str, str]]:
    """(id, text) of Parquet files that have them (a stage's parts, its drops)."""
    rows = []
    for f in files:
        if Path(f).is_file():
            t = pq.read_table(f, columns=["id", "text"])
            rows += zip(t["id"].to_pylist(), t["text"].to_pylist())
    return rows


def _stage(stage: Path, docs: list[str]) -> Path:
    """`docs` written as a stage folder of Parquet parts."""
    stage.mkdir(parents=True)
    ids = [f"d{i}" for i in range(len(docs))]
    for k in range(0, len(docs), 5000):
        pq.write_table(pa.table({"id": ids[k:k + 5000], "text": docs[k:k + 5000]}), stage / f"part-{k:07d}.parquet")
    return stage


def _config(budget: int, tok_path: Path) -> ShardsConfig:
    return ShardsConfig(budgets=(str(budget),), validation_tokens="10K", tokens_per_shard=1 << 20,
                        tokenizer=str(tok_path))


if __name__ == "__main__":
    main()
    study()
