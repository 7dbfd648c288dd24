"""Switch-style experts: capacity, the balance loss, parameter counts, training and exact resume."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from pipeline.errors import ConfigError
from training.config import ModelConfig, MoEConfig, RunSpec, TrainConfig
from training.model import GPT, MLP
from training.moe import SwitchMLP, balance_loss, capacity, route
from training.train import train

DENSE = ModelConfig(n_layer=2, d_model=64, n_head=4, context=32, vocab_size=300)


def moe(experts=4, every=1, top_k=1, capacity_factor=1.25, aux_loss=0.01, base=DENSE) -> ModelConfig:
    return dataclasses.replace(base, moe=MoEConfig(experts, every, top_k, capacity_factor, aux_loss))


def test_routing_respects_capacity_and_places_first_choices_first():
    torch.manual_seed(0)
    n, E = 64, 4
    logits = torch.randn(n, E)
    logits[:, 0] += 3.0  # most tokens want expert 0
    probs = logits.softmax(-1)
    for top_k in (1, 2):
        cap = capacity(n, E, top_k, 1.0)
        token, expert, gate, kept = route(probs, top_k, cap)
        counts = torch.bincount(expert[kept], minlength=E)
        assert counts.max() <= cap and len(token) == n * top_k
        assert int((~kept).sum()) == sum(max(0, int(c) - cap) for c in torch.bincount(expert, minlength=E))
        first = probs.argmax(-1)
        wanted0 = torch.nonzero(first == 0).squeeze(1)
        # expert 0 keeps the earliest tokens that chose it first, and no second choice while first
        # choices were still waiting
        kept0 = token[:n][kept[:n] & (expert[:n] == 0)]
        assert torch.equal(kept0, wanted0[:cap])
        if top_k == 2:
            assert not (kept[n:] & (expert[n:] == 0)).any()
            assert torch.allclose(gate.view(2, n).sum(0), torch.ones(n))
    # a dropped assignment adds nothing: with one slot an expert, all but E tokens pass unchanged
    layer = SwitchMLP(moe(capacity_factor=E / n / 2 + 1e-9), MLP)
    x = torch.randn(1, n, 64)
    out = layer(x)
    assert int((out.abs().sum(-1) > 0).sum()) == E and float(layer.dropped) == n - E


def test_balance_loss_is_minimal_for_a_uniform_router_and_training_on_it_balances():
    E, n = 4, 512
    uniform = torch.full((n, E), 1 / E)
    assert balance_loss(uniform, torch.arange(n) % E).item() == pytest.approx(1.0)
    collapsed = torch.zeros(n, E)
    collapsed[:, 0] = 1
    assert balance_loss(collapsed, torch.zeros(n, dtype=torch.long)).item() == pytest.approx(E)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 64, generator=g)
    lowest = min(balance_loss(p, p.argmax(-1)).item()
                 for p in ((x @ torch.randn(64, E, generator=g) * s).softmax(-1) for s in (0.02, 0.2, 1.0, 5.0)
                           for _ in range(25)))
    print(f"\n[balance loss] uniform 1.000, collapsed {E}, lowest of 100 random routers {lowest:.4f}")
    assert lowest > 1.0 - 2e-3
    # gradient descent on the balance loss alone takes a skewed router to balanced loads
    x[:, 0] = 1.0  # a constant feature: its weights act as the router's per-expert bias
    w = (torch.randn(64, E, generator=g) * 0.2).requires_grad_()
    with torch.no_grad():
        w[0, 0] += 3.0
    opt = torch.optim.SGD([w], lr=0.5)
    start = None
    for _ in range(300):
        p = (x @ w).softmax(-1)
        loss = balance_loss(p, p.argmax(-1))
        start = start if start is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    share = torch.bincount((x @ w).argmax(-1), minlength=E).float() / n
    print(f"[balance loss] {start:.3f} -> {loss.item():.3f}; loads {[round(v, 3) for v in share.tolist()]}")
    assert start > 1.5 and loss.item() < 1.05 and share.max() < 0.35


def test_total_and_active_parameters_match_hand_counts():
    d, ff, L = 64, 256, 2
    attn, mlp, ln = 3 * d * d + d * d, d * ff + ff * d, 2 * d  # layernorm: weight and bias
    dense = L * (attn + mlp + 2 * ln) + ln  # + the final norm; tied head and embeddings excluded
    assert GPT(DENSE).n_params() == dense
    one = GPT(moe(experts=4, every=2))  # block 2 routed: 4 experts + a router
    assert one.n_params(active=False) == dense + 3 * mlp + d * 4
    assert one.n_params() == dense + d * 4
    two = GPT(moe(experts=8, every=1, top_k=2))
    assert two.n_params(active=False) == dense + L * (7 * mlp + d * 8)
    assert two.n_params() == dense + L * (mlp + d * 8)
    assert two.flops_per_token() - GPT(DENSE).flops_per_token() == 6 * L * (mlp + d * 8)
    with pytest.raises(ConfigError, match="routes none"):
        moe(experts=4, every=3)
    with pytest.raises(ConfigError, match="top_k"):
        MoEConfig(experts=2, top_k=3)


def test_moe_at_the_dense_models_active_size_learns_on_the_default_shards(tmp_path, default_shards):
    base = ModelConfig(n_layer=2, d_model=64, n_head=2, context=64)
    cfg = TrainConfig(shards=str(default_shards), variant="raw", budget="100K", batch_size=16, lr=3e-3,
                      warmup_steps=10, eval_every=20, eval_tokens=8192, threads=1, memorization_windows=4)
    r = train(RunSpec(moe(experts=4, base=base), cfg, "moe"), tmp_path / "m")
    val = [v for _, v in r["curves"]["val"]]
    dense_n = GPT(dataclasses.replace(base, vocab_size=1024)).n_params()
    stats = r["moe"]
    print(f"\n[moe on the default corpus] N active {r['N']:,} (dense {dense_n:,}), all experts "
          f"{r['N_all_experts']:,}; validation loss {val[0]:.3f} -> {val[-1]:.3f}; dropped "
          f"{stats['dropped_share']:.3%}; loads {[layer['load_share'] for layer in stats['layers']]}")
    assert r["N"] == dense_n + 2 * 64 * 4 and r["N_all_experts"] > 2.5 * dense_n
    # (measured: 5.90 -> 5.76 over 100K tokens, with a bump while the router settles; dense 5.90 -> 5.61)
    assert val[-1] < val[0] - 0.1 and val[-1] < np.log(1024) - 1.0
    assert 0 < stats["dropped_share"] < 0.3
    assert all(abs(sum(layer["load_share"]) + 0 - (1 - stats["dropped_share"])) < 0.05 for layer in stats["layers"])


def test_moe_resume_is_bit_exact(small_shards, tmp_path):
    s = RunSpec(moe(experts=4, every=1, top_k=2, capacity_factor=1.0),
                TrainConfig(shards=str(small_shards), variant="v", budget="8K", tokens=8 * 32 * 60, batch_size=8,
                            lr=3e-3, warmup_steps=5, eval_every=1000, eval_tokens=1024, threads=1,
                            memorization_windows=2), "m")
    straight = train(s, tmp_path / "a")
    assert train(s, tmp_path / "b", stop_after=25) == {"stopped_at": 25}
    resumed = train(s, tmp_path / "b")
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert straight["moe"] == resumed["moe"] and straight["val_loss"] == resumed["val_loss"]
    assert straight["moe"]["dropped_share"] > 0  # capacity 1.0 with top-2 drops some


def _facts_batch(table: torch.Tensor, batch: int, g: torch.Generator, facts: int = 3) -> torch.Tensor:
    """Sequences of `facts` random facts (a, b, table[a, b]), each symbol set its own token range."""
    n = table.size(0)
    a, b = (torch.randint(0, n, (batch, facts), generator=g) for _ in range(2))
    return torch.stack([a, b + n, table[a, b] + 2 * n], -1).reshape(batch, -1)


def _memorise(cfg: ModelConfig, table: torch.Tensor, steps: int, seed: int) -> tuple[float, GPT]:
    """Train on the facts (loss on the value positions only, plus the balance loss); return the
    loss on 2,048 fresh draws of the same facts."""
    torch.manual_seed(seed)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed + 1)

    def value_loss(x: torch.Tensor) -> torch.Tensor:
        logits, _ = model(x[:, :-1])
        at_b = torch.zeros(x.size(0), x.size(1) - 1, dtype=torch.bool)
        at_b[:, 1::3] = True  # the position of b predicts the value
        return torch.nn.functional.cross_entropy(logits[at_b], x[:, 1:][at_b])

    for _ in range(steps):
        loss = value_loss(_facts_batch(table, 128, g)) + model.aux_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return value_loss(_facts_batch(table, 2048, torch.Generator().manual_seed(99))).item(), model


def test_moe_beats_dense_at_equal_active_size_where_capacity_is_what_limits():
    """A known answer: 5,184 random facts ((a, b) -> value, 72 symbols each) are more than a
    one-block d=32 model's MLP can hold, so four experts at the same active size must reach a
    lower loss, with balanced routing (Switch: few assignments dropped at capacity 1.25). Measured
    (seeds 1 and 2, 1,200 steps): dense 2.06 / 2.86 nats, MoE 0.27 / 0.34, dropped 3.2 / 3.5 %;
    chance is ln 72 = 4.28. So the MoE's loss to dense on the default corpus is the regime (each
    expert trained on a quarter of ~100 steps of text), not a defect of routing, capacity or the
    balance loss."""
    n = 72
    table = torch.randint(0, n, (n, n), generator=torch.Generator().manual_seed(0))
    dense = ModelConfig(n_layer=1, d_model=32, n_head=2, context=8, vocab_size=3 * n)
    d_loss, d_model = _memorise(dense, table, 1200, seed=1)
    m_loss, m_model = _memorise(moe(experts=4, base=dense), table, 1200, seed=1)
    stats = m_model.routed()[0].stats()
    print(f"\n[memorising 5,184 facts] dense {d_loss:.3f} nats ({d_model.n_params():,} parameters), 4 experts "
          f"{m_loss:.3f} ({m_model.n_params():,} active, {m_model.n_params(active=False):,} in all); dropped "
          f"{stats['dropped_share']:.2%}, loads {stats['load_share']}")
    assert m_model.n_params() - d_model.n_params() == 32 * 4  # the router: the same active size
    assert m_loss < d_loss - 1.0 and d_loss < math.log(n) - 0.5
    assert stats["dropped_share"] < 0.05 and max(stats["load_share"]) < 0.4
