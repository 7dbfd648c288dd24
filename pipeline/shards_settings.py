"""The shards step's settings, below the builder and the run config that both read them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ConfigError
from pipeline.shard_format import parse_tokens


@dataclass(frozen=True)
class ShardsConfig:
    budgets: tuple[str, ...] = field(default=("1M", "2M", "4M"), metadata={"help": "nested token budgets"})
    variants: dict[str, str] = field(default_factory=dict, metadata={
        "help": "variant name -> stage whose output it is (in a run) or a folder (CLI); the last is the cleanest"})
    tokens_per_shard: int = field(default=1 << 20, metadata={"help": "tokens in every shard but the last"})
    validation_tokens: str = field(default="100K", metadata={"help": "size of the shared validation split"})
    vocab_size: int = field(default=8192, metadata={"help": "BPE vocabulary when training a tokenizer"})
    tokenizer: str = field(default="", metadata={"help": "a local tokenizer.json to use instead of "
                                                         "training", "path": True})
    seed: int = field(default=0, metadata={"help": "seed of the document shuffle"})
    batch_docs: int = field(default=1024, metadata={"help": "documents per encode_batch call"})
    buffer_mb: int = field(default=128, metadata={
        "help": "MB for the 13-gram postings held before they are sorted to disk, and for each hash range read "
                "back: sets the step's memory, whatever the corpus's size"})
    train_chars: int = field(default=50_000_000, metadata={"help": "at most this much text trains the tokenizer"})
    group_max_df: int = field(default=100, metadata={
        "help": "documents sharing a word 13-gram found in 2..this many documents are one group, kept on one "
                "side of the validation split"})
    mixes: dict[str, dict[str, Any]] = field(default_factory=dict, metadata={
        "help": "name -> {base = variant, dropped = [stage names], share = dropped token share, budgets = [...]}: "
                "the base's clean documents mixed with dropped ones at an exact token share"})

    def __post_init__(self) -> None:
        b = [parse_tokens(x) for x in self.budgets]
        if not b or b != sorted(b) or len(set(b)) != len(b) or b[0] <= 0:
            raise ConfigError(f"shards.budgets = {list(self.budgets)}: need increasing positive token counts")
        if self.tokens_per_shard < 1 or self.vocab_size < 260 or parse_tokens(self.validation_tokens) < 1:
            raise ConfigError("shards: tokens_per_shard >= 1, vocab_size >= 260, validation_tokens >= 1")
        if self.buffer_mb < 1:
            raise ConfigError("shards.buffer_mb must be >= 1")
        if self.group_max_df < 2:
            raise ConfigError("shards.group_max_df must be >= 2")
        for name, m in self.mixes.items():
            where = f"shards.mixes.{name}"
            if not isinstance(m, dict) or set(m) - {"base", "dropped", "share", "budgets"}:
                raise ConfigError(f"{where}: expected {{base, dropped, share, budgets}}, got {m!r}")
            if m.get("base") not in self.variants and self.variants:
                raise ConfigError(f"{where}.base = {m.get('base')!r}; variants: {', '.join(self.variants)}")
            if not m.get("dropped") or not isinstance(m["dropped"], list):
                raise ConfigError(f"{where}.dropped: a list of stage names whose drops.parquet gives the dropped text")
            if not isinstance(m.get("share"), (int, float)) or not 0 <= m["share"] < 1:
                raise ConfigError(f"{where}.share = {m.get('share')!r}: the dropped token share, in [0, 1)")
            if not set(m.get("budgets", self.budgets)) <= set(self.budgets):
                raise ConfigError(f"{where}.budgets = {m['budgets']}: each must be one of shards.budgets "
                                  f"{list(self.budgets)}")
