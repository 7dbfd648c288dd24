"""Trainer throughput: tokens/s and MFU for three model sizes (CPU fp32; GPU bf16 if present),
each beside a Switch MoE model at the same active parameters (8 experts in every other MLP, top-1,
capacity for every token).

    python benchmarks/bench_train.py [--device cuda]

MFU = achieved training FLOP/s (6N + attention, per token) / the matmul peak measured at start-up
(fp32 1024^3 matmuls on CPU, bf16 8192^3 on GPU). Target: >= 30 % for the largest CPU size,
>= 35 % bf16 on a GPU. Uses a small synthetic shard folder made here (vocabulary 8192). An MoE
model's FLOPs count its active parameters (router + one expert a routed layer), so its MFU says
how much the routing (gather, per-expert matmuls, scatter) costs against the dense model. The
capacity factor equals the expert count so that no assignment is dropped (column `dropped`): in
the first steps a router sends most tokens to a few experts, and at Switch's 1.25 most would skip
their expert (60-70 % measured), crediting the MoE with work it did not do.
"""
from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import torch

from common import QUICK, sized
from pipeline.devtools.synthetic import synthetic_shards
from training.config import ModelConfig, MoEConfig, RunSpec, TrainConfig
from training.train import pick_device, train

SIZES = {
    "cpu": [ModelConfig(n_layer=2, d_model=128, n_head=4, context=128),
            ModelConfig(n_layer=4, d_model=256, n_head=4, context=256),
            ModelConfig(n_layer=6, d_model=512, n_head=8, context=256)],
    "cuda": [ModelConfig(n_layer=6, d_model=512, n_head=8, context=512),
             ModelConfig(n_layer=12, d_model=768, n_head=12, context=1024),
             ModelConfig(n_layer=24, d_model=1024, n_head=16, context=1024)],
}


def main() -> None:
    device = pick_device(sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "auto")
    budget = "20K" if QUICK else "200K"
    with tempfile.TemporaryDirectory() as tmp:
        shards = synthetic_shards(Path(tmp), sized(3000, 300), 400, (budget,), vocab=8192, validation="2K")
        print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
        print(f"{'model':34s} {'N active':>11s} {'N all':>11s} {'tokens/s':>10s} {'GFLOP/s':>9s} {'peak':>9s} "
              f"{'MFU':>6s} "
              f"{'dropped':>8s}")
        moe = MoEConfig(experts=8, every=2, capacity_factor=8.0)  # capacity for every token: none dropped
        sizes = SIZES[device][:1] if QUICK else SIZES[device]
        for m in (x for dense in sizes for x in (dense, dataclasses.replace(dense, moe=moe))):
            batch = 16 if device == "cpu" else 32
            steps = sized(12 if device == "cpu" else 30, 2)
            cfg = TrainConfig(shards=str(shards), variant="v", budget=budget, batch_size=batch,
                              tokens=batch * m.context * steps, eval_every=10**9, eval_tokens=m.context * 2,
                              memorization_windows=0, device=device, compile=device == "cuda")
            r = train(RunSpec(m, cfg, "bench"), Path(tmp) / f"r{m.d_model}_{m.moe.experts}")
            shown = f" MoE {m.moe.experts}/{m.moe.every}" if m.moe.experts else ""  # `moe` is the next model's
            name = f"L{m.n_layer} d{m.d_model} ctx{m.context}" + shown
            print(f"{name:34s} {r['N']:11,d} {r['N_all_experts']:11,d} {r['tokens_per_s']:10,.0f} "
                  f"{r['flops_per_s'] / 1e9:9.1f} {r['peak_flops'] / 1e9:9.1f} {r['mfu']:6.1%} "
                  + (f"{r['moe']['dropped_share']:8.1%}" if r["moe"] else f"{'':>8s}"))


if __name__ == "__main__":
    main()
