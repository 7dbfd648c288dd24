"""Training data read from the shard files on demand: the same tokens as the shards hold, and
memory that does not grow with the budget."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import numpy as np

from pipeline.devtools.synthetic import synthetic_shards
from pipeline.shard_format import shard_tokens
from tests.conftest import REPO
from training.data import TokenData


def test_token_stream_reads_exactly_the_shards_tokens(small_shards):
    data = TokenData(small_shards, "v", "8K")
    man = json.loads((small_shards / "manifest.json").read_text())
    shards = man["variants"]["v"]["budgets"]["8K"]["shards"]
    whole = np.concatenate([shard_tokens(small_shards / s["path"]) for s in shards])
    assert len(shards) > 1 and len(data.train) == len(whole)
    assert np.array_equal(data.train[:], whole) and data.train[:].dtype == whole.dtype
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(whole), size=(7, 33))
    assert np.array_equal(data.train[idx], whole[idx])
    first = int(data.train.first[1])  # a window across a shard boundary
    assert np.array_equal(data.train[first - 5:first + 5], whole[first - 5:first + 5])
    assert data.train.doc_len.sum() == len(whole) and data.train.doc_start[1] == data.train.doc_len[0]


def _train_peak_mb(shards, budget: str, tmp) -> float:
    """Peak RSS (VmHWM) of a process that trains 30 steps on `budget`."""
    code = textwrap.dedent(f"""
        import re
        from training.config import ModelConfig, RunSpec, TrainConfig
        from training.train import train
        spec = RunSpec(ModelConfig(n_layer=1, d_model=32, n_head=2, context=32),
                       TrainConfig(shards={str(shards)!r}, variant="v", budget={budget!r}, tokens=30 * 8 * 32,
                                   batch_size=8, eval_every=1000, eval_tokens=512, memorization_windows=2))
        train(spec, {str(tmp / budget)!r})
        print("PEAK", re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1])
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    peak = re.search(r"PEAK (\d+)", res.stdout)
    assert peak, res.stderr[-2000:]
    return int(peak[1]) / 1024


def test_training_memory_does_not_grow_with_the_budget(tmp_path):
    """The same run on a budget 10x the default demo's largest (4M tokens against 400K): peak RSS
    within 10 %, and it grows by less than the extra tokens alone would take in memory (3.6M
    uint16 tokens: 7.2 MB; they were once concatenated, with a byte a token more for their
    source: 10.8 MB). Measured: 394 and 396 MB."""
    shards = synthetic_shards(tmp_path, 27_000, 60, ("400K", "4M"))  # 4.5M tokens
    small, large = _train_peak_mb(shards, "400K", tmp_path), _train_peak_mb(shards, "4M", tmp_path)
    print(f"\npeak RSS training on 400K tokens: {small:.0f} MB, on 4M tokens: {large:.0f} MB")
    assert large <= small * 1.10 and large - small < 7.2
