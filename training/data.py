"""Token data for training: a budget of a variant and the shared validation split, from a manifest.

Every shard is checked against the manifest's sha256 and token count before the first step, so a
corrupted shard or a manifest that does not match its shards stops training with a message, not a
silently different model. A budget's tokens are read from its shard files on demand
(`TokenStream`), never joined in memory, and cut into non-overlapping windows that `EpochSampler`
draws in exact epochs; the small validation split is held in memory.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from pipeline.errors import ConfigError
from pipeline.shard_format import Manifest, Shard, ShardsError, problem, read_manifest, read_shard
from pipeline.text import sha256_file


class DataError(ConfigError):
    """The shards cannot be trusted or found: raised before training starts."""


def _checked(folder: Path, s: Shard) -> Path:
    """A shard's path, after checking it exists and matches the manifest's sha256."""
    if (wrong := problem(folder, s, count=False)) is not None:
        raise DataError(wrong)
    return folder / s.path


def _checked_tokens(folder: Path, shards: tuple[Shard, ...]) -> np.ndarray:
    """Small token sets (the validation split) in memory, each shard checked against the manifest."""
    arrays = []
    for s in shards:
        if (wrong := problem(folder, s)) is not None:
            raise DataError(wrong)
        arrays.append(read_shard(folder / s.path)["tokens"].combine_chunks().flatten().to_numpy())
    return np.concatenate(arrays) if arrays else np.empty(0, np.uint16)


def _sources(folder: Path, man: Manifest, shards: tuple[Shard, ...]) -> tuple[list[str], np.ndarray]:
    """Per training document, which stage dropped it (`kept` when none did), from the manifest's
    fates file: to see what a model learned from which kind of text."""
    doc_ids = [i for s in shards for i in read_shard(folder / s.path)["doc_id"].to_pylist()]
    fate: dict[str, str] = {}
    if man.fates:
        p = folder / man.fates["path"]
        if not p.is_file() or sha256_file(p) != man.fates["sha256"]:
            raise DataError(f"{p} is missing or does not match the manifest's sha256")
        t = pq.read_table(p)
        fate = dict(zip(t["id"].to_pylist(), t["stage"].to_pylist()))
    names = sorted({fate.get(i, "kept") for i in doc_ids})
    code = {n: k for k, n in enumerate(names)}
    return names, np.array([code[fate.get(i, "kept")] for i in doc_ids], np.uint8)


class TokenStream:
    """A budget's tokens as one stream, read from the shard files on demand: each shard's token
    values lie in one place in its Arrow IPC file, so windows are read with `os.pread` at those
    offsets. Memory stays at the windows being read, whatever the budget's size (a 10 B-token
    budget would otherwise need 20 GB before the first step); the page cache does the rest.

    Supports what the trainer needs of an array: `len`, slices, and integer index arrays of any
    shape. Also holds each document's first token and length (for per-document statistics)."""

    MAX_OPEN = 32  # shard files kept open at once

    def __init__(self, folder: Path, shards: tuple[Shard, ...], limit: int | None = None):
        """The tokens of `shards` in order, up to `limit` (a nested budget ends inside its last shard)."""
        self.paths: list[str] = []
        firsts: list[int] = []
        offsets: list[int] = []
        doc_lens: list[int] = []
        dtype, total = None, 0
        for s in shards:
            p = _checked(folder, s)
            n = 0
            with pa.memory_map(str(p)) as m:
                base, size = m.read_buffer(1).address, m.size()
                m.seek(0)
                table = pa.ipc.open_stream(m).read_all()
                for chunk in table["tokens"].chunks:
                    flat = chunk.flatten()
                    dtype = dtype or np.dtype(flat.type.to_pandas_dtype())
                    start = flat.buffers()[1].address - base + flat.offset * flat.type.byte_width
                    if not 0 <= start <= size - len(flat) * flat.type.byte_width:
                        raise DataError(f"shard {p}: token values are not stored uncompressed in the file; "
                                        "rebuild it with `corpusprep shards`")
                    self.paths.append(str(p))
                    firsts.append(total + n)
                    offsets.append(start)
                    n += len(flat)
                doc_lens += pc.list_value_length(table["tokens"]).to_pylist()
            if n != s.tokens:
                raise DataError(f"shard {p} holds {n} tokens, the manifest says {s.tokens}")
            total += n
        if limit is not None and limit > total:
            raise DataError(f"the manifest's budget needs {limit:,} tokens, its shards hold {total:,}")
        end = total if limit is None else limit
        keep = int(np.searchsorted(np.array(firsts + [total]), end, "left"))  # segments holding tokens < end
        self.dtype = dtype or np.dtype(np.uint16)
        self.first = np.array(firsts[:keep] + [end], dtype=np.int64)
        self.offset = np.array(offsets[:keep], dtype=np.int64)
        starts = np.cumsum(doc_lens, dtype=np.int64) - np.array(doc_lens, dtype=np.int64)
        rows = int(np.searchsorted(starts, end, "left"))  # document pieces that start before the end
        self.doc_start = starts[:rows]
        self.doc_len = np.minimum(np.array(doc_lens[:rows], dtype=np.int64), end - self.doc_start)
        self._open: dict[str, int] = {}

    def __len__(self) -> int:
        return int(self.first[-1])

    def _fd(self, path: str) -> int:
        if path not in self._open:
            if len(self._open) >= self.MAX_OPEN:
                os.close(self._open.pop(next(iter(self._open))))
            self._open[path] = os.open(path, os.O_RDONLY)
        return self._open[path]

    def read(self, start: int, n: int) -> np.ndarray:
        """Tokens start .. start+n-1 of the stream."""
        out = np.empty(max(n, 0), dtype=self.dtype)
        pos, k = start, int(np.searchsorted(self.first, start, "right")) - 1
        while pos < start + n:
            take = min(start + n, int(self.first[k + 1])) - pos
            at = int(self.offset[k]) + (pos - int(self.first[k])) * self.dtype.itemsize
            raw = os.pread(self._fd(self.paths[k]), take * self.dtype.itemsize, at)
            out[pos - start:pos - start + take] = np.frombuffer(raw, dtype=self.dtype)
            pos += take
            k += 1
        return out

    def __getitem__(self, key: slice | np.ndarray) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise IndexError("TokenStream slices take no step")
            return self.read(start, max(0, stop - start))
        idx = np.asarray(key, dtype=np.int64)
        flat = np.unique(idx)  # each run of consecutive positions read once
        runs = np.split(flat, np.flatnonzero(np.diff(flat) != 1) + 1) if len(flat) else []
        values = np.concatenate([self.read(int(r[0]), len(r)) for r in runs]) if runs else np.empty(0, self.dtype)
        return values[np.searchsorted(flat, idx)]

    def __del__(self) -> None:
        for fd in getattr(self, "_open", {}).values():
            os.close(fd)


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


class TokenData:
    """Training windows from one (variant, budget) and evaluation windows from validation."""

    def __init__(self, folder: str | Path, variant: str, budget: str):
        self.folder = Path(folder)
        try:
            man = read_manifest(folder)
            entry = man.budget(variant, budget)
        except ShardsError as e:
            raise DataError(f"{e} (train.shards = {folder})") from None
        if (wrong := man.tokenizer_problem(self.folder)) is not None:
            raise DataError(wrong)
        self.manifest = man
        self.vocab_size = man.tokenizer.vocab_size
        self.train = TokenStream(self.folder, entry.shards, entry.tokens)
        self.sources, self.doc_source = _sources(self.folder, man, entry.shards)
        self.doc_source = self.doc_source[:len(self.train.doc_len)]  # pieces within the budget
        self.val = _checked_tokens(self.folder, man.validation.shards)
        self.unique_tokens = int(len(self.train))
        # what these tokens are, for results: the budget's manifest entry without its shard list
        self.info = {"tokens": entry.tokens, **entry.facts}
        self.info["mix"] = man.variants[variant].facts.get("mix")
        self.info["validation_overlap_13gram"] = man.validation.get("overlap_13gram", {}).get(variant)
        self.fingerprint = man.identity(variant, budget)

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
