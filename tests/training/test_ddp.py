"""Training under torchrun: 2 CPU processes (gloo) reach the single-process loss with the same
global batch, and a checkpoint resumes under another number of processes."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO
from training.config import load_run_spec
from training.train import train

CONFIG = """
name = "ddp"
[model]
n_layer = 1
d_model = 32
n_head = 2
context = 32
[train]
shards = "{shards}"
variant = "v"
budget = "8K"
batch_size = 8
grad_accum = 2
tokens = 16384
lr = 3e-3
warmup_steps = 4
eval_every = 1000
eval_tokens = 1024
memorization_windows = 2
threads = 1
"""


def _torchrun(cfg, out, procs: int = 2) -> dict:
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}",
                          "-m", "corpusprep", "train", str(cfg), "--out", str(out), "--no-progress"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert res.stdout.count("result:") == 1  # rank 0 alone reports
    return json.loads((out / "result.json").read_text())


def test_two_processes_match_one_and_resume_across_world_sizes(small_shards, tmp_path):
    cfg = tmp_path / "ddp.toml"
    cfg.write_text(CONFIG.format(shards=small_shards))
    spec = load_run_spec(str(cfg))
    single = train(spec, tmp_path / "one")
    ddp = _torchrun(cfg, tmp_path / "two")
    assert ddp["processes"] == 2 and ddp["steps"] == single["steps"] == 32
    print(f"\nfinal train loss: 1 process {single['final_train_loss']:.6f}, 2 processes {ddp['final_train_loss']:.6f}; "
          f"val {single['val_loss']:.6f} / {ddp['val_loss']:.6f}")
    assert abs(ddp["final_train_loss"] - single["final_train_loss"]) < 1e-3
    assert abs(ddp["val_loss"] - single["val_loss"]) < 1e-3
    # half the steps in one process, the rest under torchrun with two
    train(spec, tmp_path / "mixed", stop_after=16)
    resumed = _torchrun(cfg, tmp_path / "mixed")
    assert resumed["steps"] == 32 and len(resumed["curves"]["train"]) == 32
    assert abs(resumed["val_loss"] - single["val_loss"]) < 1e-3
