"""Token data for training: a budget of a variant and the shared validation split, from a manifest.

Every shard is checked against the manifest's sha256 and token count before the first step, so a
corrupted shard or a manifest that does not match its shards stops training with a message, not a
silently different model. Shards are memory-mapped Arrow streams; one budget's tokens are joined
into one array, cut into non-overlapping windows that `EpochSampler` draws in exact epochs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from pipeline.stage import ConfigError
from pipeline.stages.shards import read_shard
from pipeline.text import sha256_file


class DataError(ConfigError):
    """The shards cannot be trusted or found: raised before training starts."""


def load_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise DataError(f"{path} not found: train.shards must be a shard folder made by corpusprep")
    return json.loads(path.read_text())


def _checked_tokens(folder: Path, shards: list[dict[str, Any]], rows: list | None = None) -> np.ndarray:
    """The shards' tokens, each checked against the manifest; `rows` collects (doc_id, length)."""
    arrays = []
    for s in shards:
        p = folder / s["path"]
        if not p.is_file():
            raise DataError(f"shard {p} listed in the manifest is missing")
        if sha256_file(p) != s["sha256"]:
            raise DataError(f"shard {p} does not match the manifest (sha256 differs): the file is corrupted "
                            "or the manifest belongs to other shards; rebuild with `corpusprep shards`")
        t = read_shard(p)  # one read gives the tokens and the documents they belong to
        toks = t["tokens"].combine_chunks().flatten().to_numpy()
        if rows is not None:
            rows += zip(t["doc_id"].to_pylist(), pc.list_value_length(t["tokens"]).to_pylist())
        if len(toks) != s["tokens"]:
            raise DataError(f"shard {p} holds {len(toks)} tokens, the manifest says {s['tokens']}")
        arrays.append(toks)
    return np.concatenate(arrays) if arrays else np.empty(0, np.uint16)


def _sources(folder: Path, man: dict[str, Any], rows: list[tuple[str, int]]) -> tuple[list[str], np.ndarray]:
    """Per training token, which stage dropped its document (`kept` when none did), from the
    manifest's fates file: to see what a model learned from which kind of text."""
    fate: dict[str, str] = {}
    if man.get("fates"):
        p = folder / man["fates"]["path"]
        if not p.is_file() or sha256_file(p) != man["fates"]["sha256"]:
            raise DataError(f"{p} is missing or does not match the manifest's sha256")
        t = pq.read_table(p)
        fate = dict(zip(t["id"].to_pylist(), t["stage"].to_pylist()))
    names = sorted({fate.get(i, "kept") for i, _ in rows})
    code = {n: k for k, n in enumerate(names)}
    per_row = np.array([code[fate.get(i, "kept")] for i, _ in rows], np.uint8)
    return names, np.repeat(per_row, [n for _, n in rows])


class EpochSampler:
    """Windows in exact epochs: epoch e draws each of the n window indices once, in a permutation
    seeded by (seed, e), and shifts every window by an offset drawn per epoch in [0, context), so
    that a token is not always seen at the same position. Repeated epochs re-permute and re-shift.

    The state is one integer (draws so far), so a resumed run continues exactly without
    checkpointing a generator."""

    def __init__(self, n: int, context: int, seed: int):
        if n < 1:
            raise DataError("no complete training window: the budget is shorter than context + 1 tokens")
        self.n, self.context, self.seed = n, context, seed
        self._epoch, self._perm, self._shift = -1, np.empty(0, np.int64), 0

    def epoch(self, e: int) -> tuple[np.ndarray, int]:
        """Epoch e's permutation of window indices and its offset."""
        if e != self._epoch:
            rng = np.random.default_rng([self.seed, e])
            self._epoch, self._perm, self._shift = e, rng.permutation(self.n), int(rng.integers(self.context))
        return self._perm, self._shift

    def take(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Window indices and offsets of draws start .. start+count-1."""
        idx, shift = np.empty(count, np.int64), np.empty(count, np.int64)
        for k in range(count):  # a batch is small; it crosses an epoch boundary at most once
            e, pos = divmod(start + k, self.n)
            perm, sh = self.epoch(e)
            idx[k], shift[k] = perm[pos], sh
        return idx, shift


def budget_identity(man: dict[str, Any], variant: str, budget: str) -> str:
    """A fingerprint of exactly the tokens a run on (variant, budget) sees: its shards, the
    validation shards and the tokenizer, by sha256. From the manifest alone (no shard is read)."""
    return hashlib.sha256(json.dumps(
        [man["variants"][variant]["budgets"][budget]["shards"], man["validation"]["shards"],
         man["tokenizer"]["sha256"]], sort_keys=True).encode()).hexdigest()


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
        rows: list[tuple[str, int]] = []
        self.train = _checked_tokens(self.folder, budgets[budget]["shards"], rows)
        self.sources, self.source_of = _sources(self.folder, man, rows)
        self.val = _checked_tokens(self.folder, man["validation"]["shards"])
        self.unique_tokens = int(len(self.train))
        # what these tokens are, for results: the budget's manifest entry without its shard list
        self.info = {k: v for k, v in budgets[budget].items() if k != "shards"}
        self.info["mix"] = man["variants"][variant].get("mix")
        self.info["validation_overlap_13gram"] = man["validation"].get("overlap_13gram", {}).get(variant)
        self.fingerprint = budget_identity(man, variant, budget)

    def n_windows(self, context: int) -> int:
        """Non-overlapping training windows of context + 1 tokens (targets shifted by one): one
        epoch predicts every token of the budget once, but for fewer than `context` of them."""
        return (len(self.train) - 1) // context

    def batch(self, sampler: EpochSampler, start: int, batch: int, context: int,
              device: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows of draws start .. start+batch-1: window i of an epoch with offset s covers
        tokens s + i*context .. s + (i+1)*context, read around the end of the budget (the budget
        is one stream of EOS-separated documents, so wrapping joins two documents as any
        window boundary does)."""
        idx, shift = sampler.take(start, batch)
        pos = (idx * context + shift)[:, None] + np.arange(context + 1)
        w = self.train[pos % len(self.train)].astype(np.int64)
        t = torch.from_numpy(w).to(device)
        return t[:, :-1], t[:, 1:]

    @staticmethod
    def windows(tokens: np.ndarray, context: int, max_tokens: int) -> list[np.ndarray]:
        """Consecutive non-overlapping windows (deterministic): for evaluation."""
        n = min(len(tokens) - 1, max_tokens) // context
        return [tokens[i * context:i * context + context + 1].astype(np.int64) for i in range(n)]
