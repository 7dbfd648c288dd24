"""Model, training and sweep settings as frozen dataclasses, read by the pipeline's strict loader.

Model sizes are data (`ModelConfig` fields), not code; budgets are in tokens, not iterations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError

ACTIVATIONS = ("gelu", "relu", "swiglu")
NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "rotary")
INITS = ("normal", "xavier", "kaiming")
OPTIMIZERS = ("adamw", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("cosine", "linear", "constant", "inverse_sqrt")
LOSSES = ("cross_entropy", "focal")


@dataclass(frozen=True)
class MoEConfig:
    """Switch-style sparse experts (Fedus et al. 2021); `experts = 0` is a dense model."""

    experts: int = 0              # experts per routed MLP (0: dense)
    every: int = 1                # every k-th block's MLP is routed (1: all, 2: blocks 2, 4, ...)
    top_k: int = 1                # experts a token goes to (1: Switch; 2: GShard-style)
    capacity_factor: float = 1.25  # slots per expert = ceil(factor x tokens x top_k / experts)
    aux_loss: float = 0.01        # weight of the load-balancing loss (1.0 at a balanced router)

    def __post_init__(self) -> None:
        if self.experts == 0:
            return
        if self.experts < 2 or self.every < 1 or self.top_k not in (1, 2) or self.top_k > self.experts:
            raise ConfigError(f"model.moe: experts >= 2 (0: dense), every >= 1, top_k 1 or 2 and at most experts; "
                              f"got experts = {self.experts}, every = {self.every}, top_k = {self.top_k}")
        if self.capacity_factor <= 0 or self.aux_loss < 0:
            raise ConfigError("model.moe: capacity_factor > 0 and aux_loss >= 0")

    def routed(self, layer: int) -> bool:
        """Whether block `layer` (0-based) has a routed MLP."""
        return self.experts > 0 and layer % self.every == self.every - 1


@dataclass(frozen=True)
class ModelConfig:
    n_layer: int = 2
    d_model: int = 64
    n_head: int = 2
    d_ff: int = 0                 # 0: 4 x d_model (8/3 x d_model for swiglu)
    context: int = 128
    vocab_size: int = 0           # 0: from the tokenizer in the manifest
    activation: str = "gelu"
    norm: str = "layernorm"
    positions: str = "learned"
    dropout: float = 0.0
    tie_weights: bool = True
    init: str = "normal"
    init_std: float = 0.02
    moe: MoEConfig = MoEConfig()  # sparse experts; see MoEConfig

    def __post_init__(self) -> None:
        for name, allowed in (("activation", ACTIVATIONS), ("norm", NORMS), ("positions", POSITIONS), ("init", INITS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"model.{name} = {getattr(self, name)!r}; available: {', '.join(allowed)}")
        if self.d_model % self.n_head:
            raise ConfigError(f"model.d_model = {self.d_model} must be a multiple of n_head = {self.n_head}")
        if self.positions == "rotary" and (self.d_model // self.n_head) % 2:
            raise ConfigError("model: rotary positions need an even head size")
        if min(self.n_layer, self.d_model, self.n_head, self.context) < 1 or not 0 <= self.dropout < 1:
            raise ConfigError("model: n_layer, d_model, n_head, context >= 1 and dropout in [0, 1)")
        if self.moe.experts and not any(self.moe.routed(i) for i in range(self.n_layer)):
            raise ConfigError(f"model.moe.every = {self.moe.every} routes none of the {self.n_layer} blocks")

    @property
    def ff(self) -> int:
        if self.d_ff:
            return self.d_ff
        return int(8 * self.d_model / 3) if self.activation == "swiglu" else 4 * self.d_model


@dataclass(frozen=True)
class TrainConfig:
    shards: str = ""              # shard folder (holds manifest.json)
    variant: str = ""             # which variant's budget to train on
    budget: str = ""              # which budget (e.g. "100K")
    tokens: int = 0               # tokens to train on (0: one epoch over the budget)
    epochs: float = 0.0           # or a number of epochs over the budget (repeated data)
    batch_size: int = 8
    grad_accum: int = 1
    optimizer: str = "adamw"
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    schedule: str = "cosine"
    warmup_steps: int = 10
    grad_clip: float = 1.0
    l1: float = 0.0
    l2: float = 0.0
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    temperature: float = 1.0
    focal_alpha: float = 1.0
    focal_gamma: float = 2.0
    eval_every: int = 50          # steps
    eval_tokens: int = 16384      # validation tokens per evaluation
    seed: int = 0
    device: str = "auto"          # auto | cpu | cuda
    bf16: bool = True             # autocast where the device supports it
    compile: bool = False
    checkpoint_every: int = 0     # steps; 0: only at the end
    threads: int = 0              # torch CPU threads; 0: torch's default
    memorization_windows: int = 32  # training windows probed for exact greedy reproduction
    memorization_prefix: int = 32

    def __post_init__(self) -> None:
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("loss", LOSSES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"train.{name} = {getattr(self, name)!r}; available: {', '.join(allowed)}")
        if self.batch_size < 1 or self.grad_accum < 1 or self.lr <= 0 or self.temperature <= 0:
            raise ConfigError("train: batch_size, grad_accum >= 1; lr, temperature > 0")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("train.label_smoothing must be within [0, 1)")


@dataclass(frozen=True)
class RunSpec:
    """One training run: a model and its training settings."""

    model: ModelConfig
    train: TrainConfig
    name: str = "run"


def load_run_spec(path: str, overrides: list[str] | tuple[str, ...] = ()) -> RunSpec:
    """`[model]`, `[train]` and an optional `name` from a TOML file."""
    from pathlib import Path

    from pipeline.config import apply_overrides, build, read_toml, resolve_path

    p = Path(path)
    doc: dict[str, Any] = apply_overrides(read_toml(p), list(overrides))
    unknown = set(doc) - {"model", "train", "name"}
    if unknown:
        raise ConfigError(f"{p}: unknown section(s) {', '.join(sorted(unknown))}; available: model, train, name")
    train = dict(doc.get("train", {}))
    if train.get("shards"):
        train["shards"] = resolve_path(p.resolve().parent, train["shards"])
    return RunSpec(build(ModelConfig, doc.get("model", {}), "model"), build(TrainConfig, train, "train"),
                   doc.get("name", p.stem))
