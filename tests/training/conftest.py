"""Token shards for trainer tests: small ones made here (fast), and the default corpus's."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pipeline.devtools.synthetic import synthetic_shards


@pytest.fixture(autouse=True)
def _same_torch_threads():
    """train() sets torch's thread count for its whole process (`train.threads`); each test starts
    from the process's own count, whatever the test before it ran with."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def small_shards(tmp_path) -> Path:
    return synthetic_shards(tmp_path, 400, 60, ("1000", "8K"))


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
