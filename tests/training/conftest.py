"""Small token shards made here (no default corpus needed): fast trainer tests."""
from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.stages.shards import ShardsConfig, build_shards


def make_shards(root: Path, n_docs: int, words: int, budgets: tuple[str, ...], vocab: int = 300,
                validation: str = "500") -> Path:
    rng = random.Random(0)
    lex = ["river", "stone", "market", "window", "silver", "forest", "candle", "harbor", "meadow", "pencil",
           "the", "a", "of", "and", "runs", "sleeps", "bright", "quiet", "near", "under"]
    stage = root / "stage"
    stage.mkdir(parents=True)
    texts = [" ".join(rng.choice(lex) for _ in range(words)) + "." for _ in range(n_docs)]
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(n_docs)], "text": texts}), stage / "part-00000.parquet")
    build_shards({"v": stage}, root / "shards", ShardsConfig(budgets=budgets, validation_tokens=validation,
                                                             tokens_per_shard=4096, vocab_size=vocab), progress=False)
    return root / "shards"


@pytest.fixture
def small_shards(tmp_path) -> Path:
    return make_shards(tmp_path, 400, 60, ("1000", "8K"))
