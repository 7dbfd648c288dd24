"""What a trained model is measured on beyond its loss curve: held-out loss, perplexity and
calibration, memorisation of training text, loss by the stage that dropped a document, and the
router's load (MoE). Each leaves the model in training mode."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from training.config import TrainConfig
from training.data import TokenData
from training.model import GPT


@torch.no_grad()
def evaluate(model: GPT, tokens: np.ndarray, context: int, max_tokens: int, device: str,
             batch: int = 16, bins: int = 15) -> dict[str, float]:
    """Plain cross-entropy, perplexity and expected calibration error of next-token predictions."""
    model.eval()
    wins = TokenData.windows(tokens, context, max_tokens)
    if not wins:
        model.train()
        return {"loss": float("nan"), "ppl": float("nan"), "ece": float("nan")}
    total, count = 0.0, 0
    conf_sum, acc_sum, n_bin = np.zeros(bins), np.zeros(bins), np.zeros(bins)
    for i in range(0, len(wins), batch):
        w = torch.from_numpy(np.stack(wins[i:i + batch])).to(device)
        logits, _ = model(w[:, :-1])
        logits = logits.float()
        y = w[:, 1:]
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
        count += y.numel()
        p = logits.softmax(-1)
        conf, pred = p.max(-1)
        conf, correct = conf.reshape(-1).cpu().numpy(), (pred == y).reshape(-1).cpu().numpy()
        idx = np.minimum((conf * bins).astype(int), bins - 1)
        np.add.at(conf_sum, idx, conf)
        np.add.at(acc_sum, idx, correct)
        np.add.at(n_bin, idx, 1)
    model.train()
    loss = total / count
    ece = float(np.sum(np.abs(acc_sum - conf_sum)) / count)
    return {"loss": loss, "ppl": math.exp(min(loss, 50)), "ece": ece}


@torch.no_grad()
def memorized_share(model: GPT, data: TokenData, cfg: TrainConfig, device: str, suffix: int = 16) -> float:
    """Share of training windows whose next `suffix` tokens greedy decoding reproduces exactly."""
    ctx = model.cfg.context
    need = cfg.memorization_prefix + suffix
    if len(data.train) <= need or cfg.memorization_windows < 1:
        return float("nan")
    rng = np.random.default_rng(cfg.seed + 1)
    starts = rng.integers(0, len(data.train) - need, size=cfg.memorization_windows)
    model.eval()
    hits = 0
    for s in starts:
        w = torch.from_numpy(data.train[s:s + need].astype(np.int64)).to(device)[None]
        prefix = w[:, :min(cfg.memorization_prefix, ctx)]
        out = model.generate_greedy(prefix, suffix)
        hits += bool(torch.equal(out[0, prefix.size(1):], w[0, prefix.size(1):prefix.size(1) + suffix]))
    model.train()
    return hits / len(starts)


@torch.no_grad()
def loss_by_source(model: GPT, data: TokenData, device: str, windows: int = 32, seed: int = 0) -> dict[str, float]:
    """Loss on training tokens, by the stage that dropped their document (`kept`: none did),
    over up to `windows` windows each starting at a random token of that source's documents:
    where a model's low training loss comes from. Only targets from that source count."""
    ctx = model.cfg.context
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    model.eval()
    usable = len(data.train) - ctx - 1
    starts_all, lens_all = data.train.doc_start, data.train.doc_len
    for k, name in enumerate(data.sources):
        docs = np.flatnonzero(data.doc_source == k)
        lens = np.clip(np.minimum(starts_all[docs] + lens_all[docs], max(usable, 0)) - starts_all[docs], 0, None)
        total = int(lens.sum())
        if total < ctx:
            continue
        picks = np.sort(rng.choice(total, size=min(windows, total), replace=False))
        ends = np.cumsum(lens)
        which = np.searchsorted(ends, picks, "right")  # the picked token's document among `docs`
        starts = starts_all[docs][which] + picks - (ends[which] - lens[which])
        w = torch.from_numpy(data.train[starts[:, None] + np.arange(ctx + 1)].astype(np.int64)).to(device)
        logits, _ = model(w[:, :-1])
        nll = F.cross_entropy(logits.float().transpose(1, 2), w[:, 1:], reduction="none")
        targets = starts[:, None] + np.arange(1, ctx + 1)
        mask = torch.from_numpy(data.doc_source[np.searchsorted(starts_all, targets, "right") - 1] == k).to(device)
        out[name] = float((nll * mask).sum() / mask.sum())
    model.train()
    return out


def moe_summary(model: GPT) -> dict[str, Any] | None:
    """Router statistics over training (None for a dense model): per routed layer, each expert's
    share of the kept assignments and the share of assignments dropped at capacity."""
    layers = model.routed()
    if not layers:
        return None
    stats = [m.stats() for m in layers]
    kept = sum(float(m.load.sum()) for m in layers)
    dropped = sum(float(m.dropped) for m in layers)
    return {"settings": dataclasses.asdict(model.cfg.moe), "layers": stats,
            "dropped_share": dropped / (kept + dropped) if kept + dropped else 0.0}
