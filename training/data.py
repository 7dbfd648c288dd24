"""Token data for training: a budget of a variant and the shared validation split, from a manifest.

Every shard is checked against the manifest's sha256 and token count before the first step, so a
corrupted shard or a manifest that does not match its shards stops training with a message, not a
silently different model. Shards are memory-mapped Arrow streams; one budget's tokens are joined
into one array for window sampling.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.stage import ConfigError
from pipeline.stages.shards import shard_tokens
from pipeline.text import sha256_file


class DataError(ConfigError):
    """The shards cannot be trusted or found: raised before training starts."""


def load_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise DataError(f"{path} not found: train.shards must be a shard folder made by corpusprep")
    return json.loads(path.read_text())


def _checked_tokens(folder: Path, shards: list[dict[str, Any]]) -> np.ndarray:
    arrays = []
    for s in shards:
        p = folder / s["path"]
        if not p.is_file():
            raise DataError(f"shard {p} listed in the manifest is missing")
        if sha256_file(p) != s["sha256"]:
            raise DataError(f"shard {p} does not match the manifest (sha256 differs): the file is corrupted "
                            "or the manifest belongs to other shards; rebuild with `corpusprep shards`")
        toks = shard_tokens(p)
        if len(toks) != s["tokens"]:
            raise DataError(f"shard {p} holds {len(toks)} tokens, the manifest says {s['tokens']}")
        arrays.append(toks)
    return np.concatenate(arrays) if arrays else np.empty(0, np.uint16)


class TokenData:
    """Training windows from one (variant, budget) and evaluation windows from validation."""

    def __init__(self, folder: str | Path, variant: str, budget: str):
        self.folder = Path(folder)
        man = load_manifest(folder)
        if variant not in man["variants"]:
            raise DataError(f"variant {variant!r} not in {folder}; available: {', '.join(man['variants'])}")
        budgets = man["variants"][variant]["budgets"]
        if budget not in budgets:
            raise DataError(f"budget {budget!r} not in variant {variant!r}; available: {', '.join(budgets)}")
        tok = self.folder / man["tokenizer"]["path"]
        if not tok.is_file() or sha256_file(tok) != man["tokenizer"]["sha256"]:
            raise DataError(f"{tok} is missing or does not match the manifest's tokenizer sha256")
        self.manifest = man
        self.vocab_size = man["tokenizer"]["vocab_size"]
        self.train = _checked_tokens(self.folder, budgets[budget]["shards"])
        self.val = _checked_tokens(self.folder, man["validation"]["shards"])
        self.unique_tokens = int(len(self.train))

    def batch(self, rng: np.random.Generator, batch: int, context: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows of context+1 tokens, from a seeded generator (its state is checkpointed)."""
        if len(self.train) <= context + 1:
            raise DataError(f"the budget has {len(self.train)} tokens, fewer than context + 1 = {context + 1}")
        starts = rng.integers(0, len(self.train) - context - 1, size=batch)
        w = np.stack([self.train[s:s + context + 1] for s in starts]).astype(np.int64)
        t = torch.from_numpy(w).to(device)
        return t[:, :-1], t[:, 1:]

    @staticmethod
    def windows(tokens: np.ndarray, context: int, max_tokens: int) -> list[np.ndarray]:
        """Consecutive non-overlapping windows (deterministic): for evaluation."""
        n = min(len(tokens) - 1, max_tokens) // context
        return [tokens[i * context:i * context + context + 1].astype(np.int64) for i in range(n)]
