"""Token shards for trainer tests: small ones made here (fast), and the default corpus's."""
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


@pytest.fixture(scope="session")
def default_shards(tmp_path_factory, sample_corpus) -> Path:
    """html -> shards on the built-in corpus (100K-token budget, 20K validation), built once."""
    from pipeline.config import load_run_config
    from pipeline.runner import run
    from tests.conftest import write_config

    tmp = tmp_path_factory.mktemp("default_shards")
    cfg = write_config(tmp / "c.toml", sample_corpus["dir"] / "warc", tmp / "out",
                       stages='[[stages]]\nname = "html"\n[shards]\nvariants = {raw = "html"}\n'
                              'budgets = ["100K"]\nvalidation_tokens = "20K"\nvocab_size = 1024\n'
                              'tokens_per_shard = 65536\n', extra_run="workers = 2")
    run(load_run_config(cfg), progress=False)
    return tmp / "out" / "shards"
