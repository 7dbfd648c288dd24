"""`train(spec, out_dir) -> result`: one training run on token shards, resumable exactly.

Small and readable like nanoGPT, but a function with no globals: the LR schedule is pure, the
optimizer and loss are chosen by config, and everything needed to continue exactly (model,
optimizer, step, sampler and torch RNG states) is in one checkpoint loaded with
`torch.load(weights_only=True)`. The result is one JSON file: what fit and report read.

Under torchrun (`RANK`/`WORLD_SIZE` set) the same function trains with DistributedDataParallel
(gloo on CPU, NCCL on GPUs): each step's draws of the seeded epoch permutation are split into
disjoint equal slices, one a process, so the global batch and its windows are those of a
single-process run; only rank 0 writes checkpoints and results, and a checkpoint holds no world
size, so a run resumes under any number of processes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pipeline import atomic
from pipeline.errors import ConfigError, RunError
from pipeline.executor import configure_allocator
from training.config import ModelConfig, RunSpec, TrainConfig
from training.data import EpochSampler, TokenData
from training.evaluation import evaluate, loss_by_source, memorized_share, moe_summary
from training.model import GPT
from training.run_identity import spec_defaults, spec_dict, spec_differences


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Learning rate at a step: linear warmup, then the schedule down to min_lr_ratio x lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    lo = cfg.lr * cfg.min_lr_ratio
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    if cfg.schedule == "cosine":
        return lo + (cfg.lr - lo) * 0.5 * (1 + math.cos(math.pi * frac))
    if cfg.schedule == "linear":
        return cfg.lr - (cfg.lr - lo) * frac
    if cfg.schedule == "inverse_sqrt":
        return cfg.lr * math.sqrt(max(1, cfg.warmup_steps) / (step + 1))
    return cfg.lr


def make_optimizer(model: GPT, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Weight decay on matrices only (not on norms, biases or embeddings' gains)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if cfg.optimizer == "adamw":
        # the fused kernel (CUDA, and CPU from torch 2.4) is ~10 % of a small CPU model's step
        # time faster than the per-tensor loop; older builds fall back to the loop
        try:
            return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, fused=True)
        except RuntimeError:
            return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.lr, momentum=cfg.momentum, eps=cfg.eps)
    return torch.optim.Adagrad(groups, lr=cfg.lr, eps=cfg.eps)


def training_loss(logits: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """The loss optimised: cross-entropy (label smoothing, temperature) or focal loss."""
    z = logits.float().view(-1, logits.size(-1)) / cfg.temperature
    y = targets.reshape(-1)
    if cfg.loss == "focal":
        logp = F.log_softmax(z, dim=-1).gather(1, y[:, None]).squeeze(1)
        return (-cfg.focal_alpha * (1 - logp.exp()) ** cfg.focal_gamma * logp).mean()
    return F.cross_entropy(z, y, label_smoothing=cfg.label_smoothing)


@functools.lru_cache(maxsize=None)
def measure_peak_flops(device: str, seconds: float = 0.3) -> float:
    """The device's matmul peak, measured (fp32 on CPU, bf16 on CUDA): the denominator of MFU.
    Measured once a process: a sweep's worker runs many points on the same device."""
    n = 1024 if device == "cpu" else 8192
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device != "cpu":
        torch.cuda.synchronize()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    if device != "cpu":
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def pick_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def distributed(device: str) -> tuple[int, int]:
    """(rank, world size): under torchrun, after joining its process group (gloo on CPU, NCCL on
    GPUs, one GPU a local rank); (0, 1) in a plain process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        if device.startswith("cuda"):
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), dist.get_world_size()


@dataclasses.dataclass
class _Run:
    """One training run's state: what it trains, on what, where, and how far it got."""

    spec: RunSpec
    mcfg: ModelConfig
    model: GPT
    opt: torch.optim.Optimizer
    data: TokenData
    device: str
    rank: int
    world: int
    spec_now: dict[str, Any]
    ckpt: Path
    step: int = 0
    curves: dict[str, list] = dataclasses.field(default_factory=lambda: {"train": [], "val": []})
    train_time: float = 0.0
    peak: float = 0.0

    def save(self) -> None:
        _save(self.ckpt, self.rank, self.world, {
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
            "curves": self.curves, "train_time": self.train_time, "spec": json.dumps(self.spec_now),
            "torch_rng": torch.get_rng_state()})


def train(spec: RunSpec, out_dir: str | Path, stop_after: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Train; resume from out_dir/checkpoint.pt when it exists. `stop_after` ends early (tests)."""
    from tqdm import tqdm

    cfg, out = spec.train, Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device, rank, world = _processes(cfg)
    data = TokenData(cfg.shards, cfg.variant, cfg.budget)  # checks every shard before any step
    mcfg = dataclasses.replace(spec.model, vocab_size=spec.model.vocab_size or data.vocab_size)
    micro = cfg.batch_size // world  # this process's windows of each micro-batch
    torch.manual_seed(cfg.seed)
    model = GPT(mcfg).to(device)
    r = _Run(spec, mcfg, model, make_optimizer(model, cfg), data, device, rank, world,
             spec_dict(spec, data.vocab_size, data.fingerprint), out / "checkpoint.pt")
    per_draw = cfg.batch_size * cfg.grad_accum
    per_step = per_draw * mcfg.context
    sampler = EpochSampler(data.n_windows(mcfg.context), mcfg.context, cfg.seed)
    total_steps = _total_steps(cfg, sampler.n, per_draw, per_step)
    if r.ckpt.exists():
        r.step, r.curves, r.train_time = _resume(r.ckpt, model, r.opt, r.spec_now, spec_defaults(spec), device)
    net = _parallel(model, world, mcfg)
    runner = torch.compile(net) if cfg.compile else net
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if (device == "cuda" and cfg.bf16) else None
    r.peak = measure_peak_flops(device)
    bar = tqdm(total=total_steps, initial=r.step, desc=spec.name, disable=not progress or rank > 0, leave=False)
    while r.step < total_steps:
        if stop_after is not None and r.step >= stop_after:
            r.save()
            return {"stopped_at": r.step}
        t0 = time.perf_counter()
        for g in r.opt.param_groups:
            g["lr"] = lr_at(r.step, total_steps, cfg)
        batches = (data.batch(sampler, r.step * per_draw + k * cfg.batch_size + rank * micro, micro, mcfg.context,
                              device) for k in range(cfg.grad_accum))
        plain = _accumulate(model, net, runner, batches, cfg, autocast, world, device)
        _optimizer_step(model, r.opt, cfg, device)
        r.train_time += time.perf_counter() - t0
        r.step += 1
        r.curves["train"].append([r.step * per_step, plain])
        if r.step % cfg.eval_every == 0 and r.step < total_steps:  # the final evaluation follows the loop
            _validate(model, data, cfg, mcfg.context, device, r.curves, r.step * per_step)
        if cfg.checkpoint_every and r.step % cfg.checkpoint_every == 0:
            r.save()
        bar.update()
    bar.close()
    val = _validate(model, data, cfg, mcfg.context, device, r.curves, r.step * per_step)
    r.save()
    result = _result(r, val, r.step * per_step)
    if rank == 0:
        atomic.write_json(out / "result.json", result)
    return result


def _processes(cfg: TrainConfig) -> tuple[str, int, int]:
    """Device, this process's rank and the number of processes (torchrun), checked against the
    batch size; the CPU thread count when set; the allocator set up for shard reading."""
    configure_allocator()  # freed shard buffers go back to the OS: memory follows the window, not the budget
    device = pick_device(cfg.device)
    rank, world = distributed(device)
    if cfg.batch_size % world:
        raise ConfigError(f"train.batch_size = {cfg.batch_size} must be divisible by the {world} processes, so "
                          "that every process takes an equal slice of each batch")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return device, rank, world


def _parallel(model: GPT, world: int, mcfg: ModelConfig) -> torch.nn.Module:
    """The model as the steps run it: itself, or wrapped for data parallelism across processes."""
    if world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    # with experts, an expert no token chose this step has no gradient
    return DistributedDataParallel(model, find_unused_parameters=bool(mcfg.moe.experts))


def _total_steps(cfg: TrainConfig, windows: int, per_draw: int, per_step: int) -> int:
    """Steps for train.tokens, or for exact epochs (every window once an epoch)."""
    if cfg.tokens:
        return max(1, math.ceil(cfg.tokens / per_step))
    return max(1, math.ceil((cfg.epochs or 1.0) * windows / per_draw))


def _save(ckpt: Path, rank: int, world: int, state: dict[str, Any]) -> None:
    """The checkpoint, written atomically by rank 0 while the other processes wait."""
    if rank == 0:
        with atomic.atomic_path(ckpt) as tmp:
            torch.save(state, tmp)
    if world > 1:
        torch.distributed.barrier()


def _optimizer_step(model: torch.nn.Module, opt: torch.optim.Optimizer, cfg: TrainConfig, device: str) -> None:
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()


def _resume(ckpt: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, spec_now: dict[str, Any],
            defaults: dict[str, Any], device: str) -> tuple[int, dict[str, list], float]:
    """Load a checkpoint of this very run (a different run's is refused: resuming would mix the
    two); returns step, curves and training time so far."""
    state = torch.load(ckpt, weights_only=True, map_location=device)
    diff = spec_differences(json.loads(state.get("spec", "{}")), spec_now, defaults)
    if diff:
        raise RunError(f"{ckpt} was saved by a different run; resuming would mix two runs. Differing: "
                       + "; ".join(diff) + f". Use another output folder or delete {ckpt.parent}")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return state["step"], state["curves"], state["train_time"]


def _accumulate(model: GPT, net: torch.nn.Module, runner: Any, batches: Any, cfg: TrainConfig, autocast: Any,
                world: int, device: str) -> float:
    """Forward and backward over one step's micro-batches; returns the step's plain cross-entropy
    (averaged over processes, as one process would report it)."""
    plain = 0.0
    for k, (x, y) in enumerate(batches):
        last = k == cfg.grad_accum - 1  # gradients are averaged across processes once a step
        with net.no_sync() if world > 1 and not last else contextlib.nullcontext():
            with autocast or contextlib.nullcontext():
                logits, ce = runner(x, y)
            loss = training_loss(logits, y, cfg) + model.aux_loss()
            if cfg.l1 or cfg.l2:
                mats = [p for p in model.parameters() if p.dim() >= 2]
                loss = loss + cfg.l1 * sum(p.abs().sum() for p in mats) + cfg.l2 * sum(p.pow(2).sum() for p in mats)
            (loss / cfg.grad_accum).backward()
        plain += ce.item() / cfg.grad_accum
    if world > 1:
        t = torch.tensor([plain], device=device)
        torch.distributed.all_reduce(t)
        plain = t.item() / world
    return plain


def _validate(model: GPT, data: TokenData, cfg: TrainConfig, context: int, device: str,
              curves: dict[str, list], tokens: int) -> dict[str, float]:
    """Validation loss now, added to the curve (once per point)."""
    ev = evaluate(model, data.val, context, cfg.eval_tokens, device)
    if not curves["val"] or curves["val"][-1][0] != tokens:
        curves["val"].append([tokens, ev["loss"]])
    return ev


def _result(r: _Run, val: dict[str, float], tokens_seen: int) -> dict[str, Any]:
    """result.json: what was trained on what, the losses (the training data's own evaluated here),
    the curves, and the speed."""
    spec, mcfg, model, data, cfg, curves = r.spec, r.mcfg, r.model, r.data, r.spec.train, r.curves
    train_eval = evaluate(model, data.train, mcfg.context, cfg.eval_tokens // 4, r.device)
    tps = tokens_seen / r.train_time if r.train_time else float("nan")
    fpt = model.flops_per_token()
    return {
        "name": spec.name,
        "config": {"model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(cfg)},
        "spec": r.spec_now,
        "variant": cfg.variant, "budget": cfg.budget, "seed": cfg.seed, "lr": cfg.lr, "data": data.info,
        "N": model.n_params(), "N_total": model.n_params(embeddings=True),
        "N_all_experts": model.n_params(active=False), "moe": moe_summary(model),
        "D": tokens_seen, "unique_tokens": data.unique_tokens, "epochs": tokens_seen / data.unique_tokens,
        "C": 6 * model.n_params() * tokens_seen, "flops_per_token": fpt,
        "curves": curves, "final_train_loss": curves["train"][-1][1],
        "train_eval_loss": train_eval["loss"], "val_loss": val["loss"], "val_ppl": val["ppl"], "ece": val["ece"],
        "train_val_gap": val["loss"] - train_eval["loss"],
        "memorized_share": memorized_share(model, data, cfg, r.device),
        "train_loss_by_source": loss_by_source(model, data, r.device, seed=cfg.seed),
        "tokens_per_s": tps, "flops_per_s": fpt * tps, "peak_flops": r.peak, "mfu": fpt * tps / r.peak,
        "device": r.device, "wall_time": r.train_time, "steps": r.step, "processes": r.world,
    }
