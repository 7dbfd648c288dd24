"""Model, training and sweep settings as frozen dataclasses, read by the pipeline's strict loader.

Model sizes are data (`ModelConfig` fields), not code; budgets are in tokens, not iterations.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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

    experts: int = field(default=0, metadata={"help": "experts per routed MLP (0: dense)"})
    every: int = field(default=1, metadata={"help": "every k-th block's MLP is routed (1: all, 2: blocks 2, 4, ...)"})
    top_k: int = field(default=1, metadata={"help": "experts a token goes to (1: Switch; 2: GShard-style)"})
    capacity_factor: float = field(default=1.25,
        metadata={"help": "slots per expert = ceil(factor x tokens x top_k / experts)"})
    aux_loss: float = field(default=0.01,
        metadata={"help": "weight of the load-balancing loss (1.0 at a balanced router)"})

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
    n_layer: int = field(default=2, metadata={"help": "transformer blocks"})
    d_model: int = field(default=64, metadata={"help": "width of the residual stream"})
    n_head: int = field(default=2, metadata={"help": "attention heads (d_model must be a multiple)"})
    d_ff: int = field(default=0, metadata={"help": "MLP width; 0: 4 x d_model (8/3 x d_model for swiglu)"})
    context: int = field(default=128, metadata={"help": "tokens a model sees at once (training windows)"})
    vocab_size: int = field(default=0, metadata={"help": "0: from the tokenizer in the shards' manifest"})
    activation: str = field(default="gelu", metadata={"help": "MLP activation: gelu, relu or swiglu"})
    norm: str = field(default="layernorm", metadata={"help": "layernorm or rmsnorm"})
    positions: str = field(default="learned", metadata={"help": "learned position embeddings or rotary"})
    dropout: float = field(default=0.0, metadata={"help": "dropout probability, in [0, 1)"})
    tie_weights: bool = field(default=True, metadata={"help": "share the input embedding with the output layer"})
    init: str = field(default="normal", metadata={"help": "weight initialisation: normal, xavier or kaiming"})
    init_std: float = field(default=0.02, metadata={"help": "standard deviation of the normal initialisation"})
    moe: MoEConfig = field(default=MoEConfig(),
        metadata={"help": "sparse experts (see model.moe.*); experts = 0 is a dense model"})

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
    shards: str = field(default="", metadata={"help": "shard folder (holds manifest.json)"})
    variant: str = field(default="", metadata={"help": "which variant's budget to train on"})
    budget: str = field(default="", metadata={"help": "which budget (e.g. 100K)"})
    tokens: int = field(default=0, metadata={"help": "tokens to train on (0: one epoch over the budget, or `epochs`)"})
    epochs: float = field(default=0.0, metadata={"help": "or a number of epochs over the budget (repeated data)"})
    batch_size: int = field(default=8,
        metadata={"help": "windows per micro-batch (split across processes under torchrun)"})
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimizer step"})
    optimizer: str = field(default="adamw", metadata={"help": "adamw, sgd, rmsprop or adagrad"})
    lr: float = field(default=3e-3, metadata={"help": "peak learning rate"})
    min_lr_ratio: float = field(default=0.1,
        metadata={"help": "final learning rate as a share of the peak (cosine, linear)"})
    beta1: float = field(default=0.9, metadata={"help": "AdamW beta1"})
    beta2: float = field(default=0.95, metadata={"help": "AdamW beta2"})
    eps: float = field(default=1e-8, metadata={"help": "AdamW / RMSprop / Adagrad epsilon"})
    weight_decay: float = field(default=0.1, metadata={"help": "decoupled weight decay (matrices only)"})
    momentum: float = field(default=0.9, metadata={"help": "SGD and RMSprop momentum"})
    nesterov: bool = field(default=False, metadata={"help": "Nesterov momentum for SGD"})
    schedule: str = field(default="cosine",
        metadata={"help": "learning-rate schedule: cosine, linear, constant or inverse_sqrt"})
    warmup_steps: int = field(default=10, metadata={"help": "linear warm-up steps"})
    grad_clip: float = field(default=1.0, metadata={"help": "clip the gradient norm to this (0: no clipping)"})
    l1: float = field(default=0.0, metadata={"help": "L1 penalty on weight matrices"})
    l2: float = field(default=0.0, metadata={"help": "L2 penalty on weight matrices (beside weight decay)"})
    loss: str = field(default="cross_entropy", metadata={"help": "cross_entropy or focal"})
    label_smoothing: float = field(default=0.0, metadata={"help": "label smoothing, in [0, 1)"})
    temperature: float = field(default=1.0, metadata={"help": "logit temperature during training"})
    focal_alpha: float = field(default=1.0, metadata={"help": "focal loss alpha"})
    focal_gamma: float = field(default=2.0, metadata={"help": "focal loss gamma"})
    eval_every: int = field(default=50, metadata={"help": "validation every this many steps (and at the end)"})
    eval_tokens: int = field(default=16384, metadata={"help": "validation tokens per evaluation"})
    seed: int = field(default=0, metadata={"help": "seed of initialisation and data order"})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda"})
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast where the device supports it"})
    compile: bool = field(default=False, metadata={"help": "torch.compile the model"})
    checkpoint_every: int = field(default=0, metadata={"help": "checkpoint every this many steps (0: only at the end)"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})
    memorization_windows: int = field(default=32,
        metadata={"help": "training windows probed for exact greedy reproduction"})
    memorization_prefix: int = field(default=32, metadata={"help": "tokens of prefix given when probing memorization"})

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

    from pipeline.settings import apply_overrides, build, read_toml, resolve_path

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
