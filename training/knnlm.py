"""kNN-LM (Khandelwal et al. 2020): the training tokens as a memory beside a trained model.

A datastore maps each training position's final hidden state (`GPT.features`) to the token that
followed it. At a validation position the k nearest stored states vote for their next tokens,
weighted by softmax(-squared distance / T), and p = λ p_kNN + (1 - λ) p_LM. λ and T are tuned on
one half of the queried validation windows (alternate windows) and the perplexity is measured
on the other half, beside the model's own perplexity on that same half.

Datastores for nested budgets are built in one pass: a budget that is a prefix of the next
(nested budgets are, see pipeline.shard_format) is measured when the index holds exactly its
keys, then the index grows. The index is faiss's exact search below `exact_below` keys and
IVF-PQ above (keys then held compressed). Dense runs of the same size on larger budgets can be
evaluated on the same half (`references`), so the report can ask what a token in the datastore
is worth against a token of training.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from pipeline import atomic
from pipeline.errors import ConfigError
from pipeline.shard_format import Manifest
from training.config import ModelConfig
from training.data import TokenData
from training.model import GPT

LAMBDAS = tuple(round(x, 2) for x in np.arange(0.0, 1.0, 0.05))
TEMPERATURES = (0.03, 0.1, 0.3, 1.0, 3.0)  # x the median neighbour distance of the tuning half


@dataclass(frozen=True)
class KnnLMConfig:
    datastores: tuple[str, ...] = field(default=(),
        metadata={"help": "budgets of the run's variant to store (default: the run's own)"})
    k: int = field(default=64, metadata={"help": "neighbours a query"})
    lam: float = field(default=-1.0, metadata={"help": "interpolation weight; < 0: tuned on the held-out half"})
    query_tokens: int = field(default=16384, metadata={"help": "tokens queried (half tune, half measure)"})
    query: str = field(default="validation",
        metadata={"help": "the validation split, or a budget of the run's variant"})
    exact_below: int = field(default=2_000_000, metadata={"help": "keys; IVF-PQ at and above"})
    nprobe: int = field(default=16, metadata={"help": "IVF lists searched a query"})
    batch: int = field(default=32, metadata={"help": "windows a forward pass"})

    def __post_init__(self) -> None:
        if self.k < 1 or self.query_tokens < 2 or self.batch < 1 or self.lam >= 1:
            raise ConfigError("knnlm: k, batch >= 1, query_tokens >= 2 and lambda < 1 (negative: tuned)")


def load_run(folder: str | Path, device: str = "cpu") -> tuple[GPT, dict[str, Any]]:
    """A finished run's model (from checkpoint.pt) and its result.json."""
    from pipeline.settings import build

    folder = Path(folder)
    res_path, ckpt = folder / "result.json", folder / "checkpoint.pt"
    if not res_path.is_file() or not ckpt.is_file():
        raise ConfigError(f"{folder} is not a finished training run (needs result.json and checkpoint.pt)")
    res = json.loads(res_path.read_text())
    model = GPT(build(ModelConfig, res["config"]["model"], "model"))
    model.load_state_dict(torch.load(ckpt, weights_only=True, map_location=device)["model"])
    return model.to(device).eval(), res


@torch.no_grad()
def encode(model: GPT, tokens: Any, max_tokens: int, batch: int, device: str = "cpu"
           ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(keys, next tokens, LM log-probability of the next token) per batch of non-overlapping
    windows over the first `max_tokens` tokens."""
    ctx = model.cfg.context
    n = min(len(tokens) - 1, max_tokens) // ctx
    for i in range(0, n, batch):
        w = torch.from_numpy(np.asarray(tokens[i * ctx:min(n, i + batch) * ctx + 1]).astype(np.int64))
        x = torch.stack([w[j * ctx:j * ctx + ctx + 1] for j in range(len(w) // ctx)]).to(device)
        h = model.features(x[:, :-1])
        lp = model.head(h).float().log_softmax(-1).gather(-1, x[:, 1:, None]).squeeze(-1)
        yield (h.reshape(-1, h.size(-1)).float().cpu().numpy(), x[:, 1:].reshape(-1).cpu().numpy(),
               lp.reshape(-1).cpu().numpy())


def faiss_problem() -> str | None:
    """Why kNN-LM cannot run here (faiss missing), or None: checked before any training, so a
    sweep or the demo never stops after minutes of it for want of an optional engine."""
    try:
        import faiss  # noqa: F401
    except ImportError as e:
        return f"faiss cannot be imported ({e}): pip install 'corpusprep[knn]' (faiss-cpu)"
    return None


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ConfigError("kNN-LM needs faiss: pip install 'corpusprep[knn]' (faiss-cpu)") from None
    faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
    return faiss


def _lists(total: int) -> int:
    return int(min(65536, max(16, 4 * math.sqrt(total))))


def training_keys(total: int, cfg: KnnLMConfig) -> int:
    """Keys an index must see before it can take keys: none for exact search; for IVF-PQ
    40 a list (faiss's k-means asks for 39) and at least 10,000 (PQ's 256 centroids a part)."""
    return 0 if total < cfg.exact_below else max(40 * _lists(total), 10_000)


def make_index(d: int, total: int, sample: np.ndarray, cfg: KnnLMConfig) -> tuple[Any, str]:
    """Exact search for small datastores; IVF-PQ (trained on `sample`) for large ones."""
    faiss = _faiss()
    if total < cfg.exact_below:
        return faiss.IndexFlatL2(d), "exact (Flat L2)"
    nlist = _lists(total)
    m = max(x for x in range(1, d + 1) if d % x == 0 and x <= max(1, d // 4))  # sub-quantizers of >= 4 dims
    index = faiss.index_factory(d, f"IVF{nlist},PQ{m}")
    # Polysemous training (on by default here) orders PQ codes for Hamming-distance filtering,
    # which search never uses (polysemous_ht = 0): it took 58 of 63 s of training on 8,128 keys.
    index.do_polysemous_training = False
    index.train(sample[:training_keys(total, cfg)])
    index.nprobe = cfg.nprobe
    return index, f"IVF{nlist},PQ{m} (nprobe {cfg.nprobe})"


def knn_logprob(dist: np.ndarray, hits: np.ndarray, temperature: float) -> np.ndarray:
    """log p_kNN(target): softmax(-distance / T) mass on the neighbours whose next token is it."""
    z = -dist / temperature
    z -= z.max(1, keepdims=True)
    w = np.exp(z)
    p = (w * hits).sum(1) / w.sum(1)
    with np.errstate(divide="ignore"):
        return np.log(p)


def interpolate(lm: np.ndarray, knn: np.ndarray, lam: float) -> np.ndarray:
    """log(λ p_kNN + (1 - λ) p_LM), per position."""
    if lam <= 0:
        return lm
    return np.logaddexp(math.log(lam) + knn, math.log1p(-lam) + lm)


def tune_and_measure(lm: np.ndarray, dist: np.ndarray, hits: np.ndarray, tune: np.ndarray,
                     cfg: KnnLMConfig) -> dict[str, float]:
    """λ and T with the lowest loss on the tuning positions; loss on the others."""
    scale = float(np.median(dist[tune])) or 1.0
    best = (math.inf, 0.0, 1.0)
    for t in TEMPERATURES:
        knn = knn_logprob(dist[tune], hits[tune], t * scale)
        for lam in ([cfg.lam] if cfg.lam >= 0 else LAMBDAS):
            loss = -float(interpolate(lm[tune], knn, lam).mean())
            if loss < best[0]:
                best = (loss, lam, t * scale)
    _, lam, t = best
    measure = ~tune
    loss = -float(interpolate(lm[measure], knn_logprob(dist[measure], hits[measure], t), lam).mean())
    return {"loss": loss, "ppl": math.exp(min(loss, 50)), "lambda": float(lam), "temperature": float(t),
            "tune_loss": best[0]}


def _prefix_order(man: Manifest, variant: str, budgets: list[str]) -> list[str]:
    """Budgets by size, after checking each is a prefix of the next (same shard sequence)."""
    entries = man.variants[variant].budgets
    order = sorted(budgets, key=lambda b: entries[b].tokens)
    for a, b in zip(order, order[1:]):
        pa_, pb = [s.path for s in entries[a].shards], [s.path for s in entries[b].shards]
        if pb[:len(pa_)] != pa_:
            raise ConfigError(f"datastore budgets {a} and {b} of {variant!r} are not nested (one a prefix of the "
                              "other); give nested budgets, or run one budget at a time")
    return order


def _measure(budget: str, index: Any, kind: str, vals: np.ndarray, stored: int, build_s: float, qk: np.ndarray,
             qv: np.ndarray, qlp: np.ndarray, tune: np.ndarray, cfg: KnnLMConfig, say, out: dict[str, Any]
             ) -> dict[str, Any]:
    """Search the queries against the index as it stands, then tune and measure."""
    t0 = time.perf_counter()
    dist, ids = index.search(qk, min(cfg.k, stored))
    search_s = time.perf_counter() - t0
    hits = (vals[np.maximum(ids, 0)] == qv[:, None]) & (ids >= 0)
    m = tune_and_measure(qlp, dist, hits, tune, cfg)
    say(f"datastore {budget} ({stored:,} keys, {kind}): perplexity {m['ppl']:.2f} with retrieval, "
        f"{out['lm']['ppl']:.2f} without (lambda {m['lambda']:g})")
    return {"budget": budget, "tokens": stored, "index": kind, **m, "build_s": build_s,
            "keys_per_s": stored / build_s if build_s else math.nan,
            "query_tokens_per_s": len(qv) / search_s if search_s else math.nan}


def run_knnlm(run: str | Path, cfg: KnnLMConfig, shards: str | Path | None = None,
              references: dict[str, str | Path] | None = None, say=print) -> dict[str, Any]:
    """kNN-LM over a finished run's training budgets; writes and returns RUN/knnlm.json.
    `references`: budget -> dense run folder, each evaluated (LM alone) on the same positions."""
    model, res = load_run(run)
    train_cfg = res["config"]["train"]
    folder, variant = shards or train_cfg["shards"], train_cfg["variant"]
    stores = list(cfg.datastores or (train_cfg["budget"],))
    data = TokenData(folder, variant, stores[0])
    order = _prefix_order(data.manifest, variant, stores)
    big = TokenData(folder, variant, order[-1])
    ctx = model.cfg.context

    asked = data.val if cfg.query == "validation" else TokenData(folder, variant, cfg.query).train
    queries = list(encode(model, asked, cfg.query_tokens, cfg.batch))
    if not queries:
        raise ConfigError(f"the {cfg.query} tokens of {folder} are fewer than {ctx + 1}: nothing to query")
    qk, qv, qlp = (np.concatenate(x) for x in zip(*queries))
    tune = (np.arange(len(qv)) // ctx) % 2 == 0  # alternate windows: tune, measure
    lm_loss = -float(qlp[~tune].mean())
    out: dict[str, Any] = {
        "run": str(run), "name": res.get("name"), "variant": variant, "trained_on": res.get("budget"),
        "trained_tokens": res.get("unique_tokens"), "N": res["N"], "seed": res.get("seed"),
        "settings": dataclasses.asdict(cfg), "spec": res.get("spec"), "query_positions": int(len(qv)),
        "measure_positions": int((~tune).sum()), "lm": {"loss": lm_loss, "ppl": math.exp(min(lm_loss, 50))},
        "datastores": [], "references": []}
    # keys a budget holds: its non-overlapping windows, as `encode` cuts them
    need = {b: (big.manifest.budget(variant, b).tokens - 1) // ctx * ctx for b in order}
    batches = ((k, n) for k, n, _ in encode(model, big.train, need[order[-1]] + 1, cfg.batch))
    t_build = time.perf_counter()
    first, seen = [], 0  # an IVF index trains on the first keys before any is added
    for keys, nxt in batches:
        first.append((keys, nxt))
        seen += len(keys)
        if seen >= training_keys(need[order[-1]], cfg):
            break
    index, kind = make_index(first[0][0].shape[1], need[order[-1]], np.concatenate([k for k, _ in first]), cfg)
    vals, stored = [], 0
    for keys, nxt in itertools.chain(first, batches):
        while len(keys) and order:
            take = min(len(keys), need[order[0]] - stored)
            index.add(keys[:take])
            vals.append(nxt[:take])
            stored += take
            keys, nxt = keys[take:], nxt[take:]
            if stored == need[order[0]]:
                out["datastores"].append(_measure(order.pop(0), index, kind, np.concatenate(vals), stored,
                                                  time.perf_counter() - t_build, qk, qv, qlp, tune, cfg, say, out))
    for budget, ref in (references or {}).items():
        rm, rres = load_run(ref)
        lp = np.concatenate([x[2] for x in encode(rm, asked, cfg.query_tokens, cfg.batch)])
        loss = -float(lp[~tune].mean())
        out["references"].append({"run": str(ref), "budget": budget, "tokens": rres.get("unique_tokens"),
                                  "N": rres["N"], "loss": loss, "ppl": math.exp(min(loss, 50))})
    atomic.write_json(Path(run) / "knnlm.json", out)
    return out
