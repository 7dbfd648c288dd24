"""Small synthetic token shards: random sentences over a 20-word lexicon, sharded as a run would.

For what needs shards of a given size fast and nothing about their text: the trainer's tests and
the training speed benchmark. Never for a figure about data quality.
"""
from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.shards import build_shards
from pipeline.shards_settings import ShardsConfig
from pipeline.stage_folder import part_name

LEXICON = ["river", "stone", "market", "window", "silver", "forest", "candle", "harbor", "meadow", "pencil",
           "the", "a", "of", "and", "runs", "sleeps", "bright", "quiet", "near", "under"]


def synthetic_shards(root: Path, n_docs: int, words: int, budgets: tuple[str, ...], vocab: int = 300,
                     validation: str = "500", seed: int = 0) -> Path:
    """`n_docs` documents of `words` words as a stage output under root/stage, sharded into
    root/shards at `budgets` with a `validation`-token split; returns the shard folder."""
    rng = random.Random(seed)
    stage = root / "stage"
    stage.mkdir(parents=True)
    texts = [" ".join(rng.choice(LEXICON) for _ in range(words)) + "." for _ in range(n_docs)]
    table = pa.table({"id": [f"d{i}" for i in range(n_docs)], "text": texts})
    pq.write_table(table, stage / f"{part_name(0, 0)}.parquet")
    build_shards({"v": stage}, root / "shards", ShardsConfig(budgets=budgets, validation_tokens=validation,
                                                             tokens_per_shard=4096, vocab_size=vocab), progress=False)
    return root / "shards"
