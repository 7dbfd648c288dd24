"""A decoder-only Transformer (nanoGPT-shaped): `forward(idx, targets) -> (logits, loss)`.

Pre-norm blocks; the choices a scaling study varies (activation, norm, positions, init, tying)
come from `ModelConfig`. Parameter counts exclude embeddings where Kaplan et al. do, and FLOPs per
token are 6N plus the attention term 6 * n_layer * context * d_model (PaLM's accounting). With
sparse experts (`model.moe`, see training.moe) N is the parameters a token meets (active), and
`n_params(active=False)` counts every expert.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.config import ModelConfig
from training.moe import SwitchMLP


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def norm(cfg: ModelConfig) -> nn.Module:
    return RMSNorm(cfg.d_model) if cfg.norm == "rmsnorm" else nn.LayerNorm(cfg.d_model)


def rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x[..., ::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.proj.residual = True  # type: ignore[attr-defined]
        self.drop = cfg.dropout

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        B, T, C = x.shape  # batch, time (tokens), channels (d_model)
        h = self.cfg.n_head
        # (B, T, 3C) -> (B, T, 3, h, C/h) -> (B, h, 3, T, C/h) -> q, k, v: each (B, h, T, C/h)
        q, k, v = self.qkv(x).view(B, T, 3, h, C // h).transpose(1, 3).unbind(2)
        if rope is not None:
            q, k = rotary(q, *rope), rotary(k, *rope)  # rotates pairs of channels by position; shapes unchanged
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.drop if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, h, T, C/h) -> (B, T, h, C/h) -> (B, T, C)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.act = cfg.activation
        self.up = nn.Linear(cfg.d_model, cfg.ff * (2 if self.act == "swiglu" else 1), bias=False)
        self.down = nn.Linear(cfg.ff, cfg.d_model, bias=False)
        self.down.residual = True  # type: ignore[attr-defined]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.up(x)
        if self.act == "swiglu":
            a, b = h.chunk(2, dim=-1)
            h = F.silu(a) * b
        else:
            h = F.gelu(h) if self.act == "gelu" else F.relu(h)
        return self.down(h)


class TransformerBlock(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int):
        super().__init__()
        self.n1, self.attn, self.n2 = norm(cfg), Attention(cfg), norm(cfg)
        self.mlp = SwitchMLP(cfg, MLP) if cfg.moe.routed(layer) else MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, rope) -> torch.Tensor:
        x = x + self.drop(self.attn(self.n1(x), rope))
        return x + self.drop(self.mlp(self.n2(x)))


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.vocab_size > 0, "vocab_size must be set (from the tokenizer)"
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.context, cfg.d_model) if cfg.positions == "learned" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(cfg, i) for i in range(cfg.n_layer))
        self.norm_f = norm(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.head.weight = self.wte.weight
        if cfg.positions == "rotary":
            hd = cfg.d_model // cfg.n_head
            freq = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
            ang = torch.outer(torch.arange(cfg.context).float(), freq)
            self.register_buffer("rope_cos", ang.cos(), persistent=False)
            self.register_buffer("rope_sin", ang.sin(), persistent=False)
        self.apply(self._init)

    def _init(self, m: nn.Module) -> None:
        cfg = self.cfg
        if isinstance(m, (nn.Linear, nn.Embedding)):
            if cfg.init == "xavier":
                nn.init.xavier_uniform_(m.weight)
            elif cfg.init == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:  # GPT-2: normal(0.02), residual projections scaled by 1/sqrt(2 * n_layer)
                std = cfg.init_std / math.sqrt(2 * cfg.n_layer) if getattr(m, "residual", False) else cfg.init_std
                nn.init.normal_(m.weight, 0.0, std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """The final hidden states (after the last norm): what the output layer reads, and the
        keys of a kNN-LM datastore."""
        B, T = idx.shape
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))
        rope = (self.rope_cos[:T], self.rope_sin[:T]) if self.cfg.positions == "rotary" else None
        x = self.drop(x)
        for blk in self.blocks:
            x = blk(x, rope)
        return self.norm_f(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.head(self.features(idx))
        loss = (None if targets is None
                else F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1)))
        return logits, loss

    def routed(self) -> list[SwitchMLP]:
        return [b.mlp for b in self.blocks if isinstance(b.mlp, SwitchMLP)]

    def aux_loss(self) -> torch.Tensor | float:
        """The last forward's load-balancing loss over routed layers, weighted (0 when dense)."""
        return self.cfg.moe.aux_loss * sum(m.aux for m in self.routed()) if self.routed() else 0.0

    def n_params(self, embeddings: bool = False, active: bool = True) -> int:
        """Parameters; without embeddings (token and position) unless asked, as Kaplan et al.;
        with experts, those a token meets (router + top_k experts a layer) unless `active=False`."""
        n = sum(p.numel() for p in self.parameters())
        if active:
            for m in self.routed():
                n -= (len(m.experts) - self.cfg.moe.top_k) * sum(p.numel() for p in m.experts[0].parameters())
        if not embeddings:
            n -= self.wte.weight.numel()
            if self.wpe is not None:
                n -= self.wpe.weight.numel()
            if not self.cfg.tie_weights:
                n -= self.head.weight.numel()
        return n

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6N + 6 n_layer n_ctx d_model, with N the active non-embedding
        parameters plus the output layer. Kaplan et al. 2020 (Scaling Laws for Neural Language
        Models, Table 1): a forward pass costs 2N + 2 n_layer n_ctx d_attn per token, and training
        three forward passes (the backward pass is two). MFU divides the FLOP/s this gives by the
        device's peak (Chowdhery et al. 2022, PaLM, Appendix B), which measure_peak_flops measures."""
        c = self.cfg
        return 6 * (self.n_params() + c.d_model * c.vocab_size) + 6 * c.n_layer * c.context * c.d_model

    @torch.no_grad()
    def generate_greedy(self, idx: torch.Tensor, n: int) -> torch.Tensor:
        for _ in range(n):
            logits, _ = self(idx[:, -self.cfg.context:])
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return idx
