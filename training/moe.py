"""A routed mixture of expert MLPs (Switch Transformers, Fedus et al. 2021).

Each token's router probabilities pick its top-k experts; an expert takes at most
`capacity = ceil(capacity_factor x tokens x top_k / experts)` assignments of a batch, first
choices before second ones, in token order, and an assignment past the capacity is dropped (the
token passes on through the residual connection alone, as in Switch). The output is the chosen
experts' outputs weighted by their router probabilities (renormalised over the two for top-2),
which is how the router learns. The load-balancing loss is Switch's `E x sum_e f_e x P_e`
(f: share of first choices, P: mean probability), 1.0 when routing is balanced and E when all
tokens go to one expert.

Routing counts (assignments kept per expert, assignments dropped) are buffers, so they are saved
in checkpoints and a resumed run reports the same statistics as an uninterrupted one.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.config import ModelConfig


def capacity(tokens: int, experts: int, top_k: int, factor: float) -> int:
    """Assignments an expert takes in a batch of `tokens` tokens."""
    return max(1, math.ceil(factor * tokens * top_k / experts))


def route(probs: torch.Tensor, top_k: int, cap: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Assignments of tokens to experts under the capacity, choice-major (every token's first
    choice is placed before any second choice). Returns flat (token, expert, gate, kept) over the
    n x top_k assignments."""
    n, experts = probs.shape
    gate, choice = probs.topk(top_k, dim=-1)
    if top_k > 1:
        gate = gate / gate.sum(-1, keepdim=True)
    expert = choice.t().reshape(-1)  # choice-major: [first choices of all tokens, then seconds]
    onehot = F.one_hot(expert, experts)
    slot = ((onehot.cumsum(0) - 1) * onehot).sum(-1)  # position in its expert's queue
    token = torch.arange(n, device=probs.device).repeat(top_k)
    return token, expert, gate.t().reshape(-1), slot < cap


def balance_loss(probs: torch.Tensor, first_choice: torch.Tensor) -> torch.Tensor:
    """Switch's auxiliary loss E x sum_e f_e P_e: 1.0 when balanced, E when collapsed."""
    experts = probs.size(-1)
    f = F.one_hot(first_choice, experts).float().mean(0)
    return experts * (f * probs.mean(0)).sum()


class SwitchMLP(nn.Module):
    """`experts` copies of the dense MLP behind a linear router."""

    def __init__(self, cfg: ModelConfig, make_mlp: type[nn.Module]):
        super().__init__()
        self.moe = cfg.moe
        self.router = nn.Linear(cfg.d_model, cfg.moe.experts, bias=False)
        self.experts = nn.ModuleList(make_mlp(cfg) for _ in range(cfg.moe.experts))
        self.register_buffer("load", torch.zeros(cfg.moe.experts, dtype=torch.float64))  # kept assignments
        self.register_buffer("dropped", torch.zeros((), dtype=torch.float64))           # dropped assignments
        self.aux = torch.zeros(())  # this forward's balance loss, added to the training loss

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        h = x.reshape(-1, C)
        probs = self.router(h).float().softmax(-1)
        cap = capacity(h.size(0), self.moe.experts, self.moe.top_k, self.moe.capacity_factor)
        token, expert, gate, kept = route(probs, self.moe.top_k, cap)
        self.aux = balance_loss(probs, expert[:h.size(0)])
        out = torch.zeros_like(h)
        for e, mlp in enumerate(self.experts):
            sel = torch.nonzero((expert == e) & kept).squeeze(1)
            if sel.numel():
                tok = token[sel]
                out.index_add_(0, tok, mlp(h[tok]) * gate[sel, None].to(h.dtype))
        if self.training:
            with torch.no_grad():
                self.load += torch.bincount(expert[kept], minlength=self.moe.experts).double()
                self.dropped += (~kept).sum().double()
        return out.view(B, T, C)

    def stats(self) -> dict[str, object]:
        """Share of kept assignments per expert and share of assignments dropped, over training."""
        total = float(self.load.sum() + self.dropped)
        return {"load_share": [round(float(v) / total, 4) if total else 0.0 for v in self.load],
                "dropped_share": float(self.dropped) / total if total else 0.0}
