"""The token shard format: what a shard folder holds, and how to write and read it.

Layout of a shard folder (everything written atomically; `manifest.json` last):

    tokenizer.json                      byte-level BPE (trained here, or the one given)
    validation/shard-00000.arrow        held out of every budget of every variant
    <variant>/shard-NNNNN.arrow         a variant's one shard sequence; its nested budgets are
                                        prefixes of it (stored once: the manifest names each
                                        budget's shards and its token count, which ends inside
                                        the last one)
    <mix>/<budget>/shard-NNNNN.arrow    a mix's budgets are drawn apart, so each has its own
    manifest.json                       every shard: tokens, documents, sha256; tokenizer hash;
                                        the source run's config hash; budgets and variants

A shard is an Arrow IPC stream (readable by pyarrow and `datasets.Dataset.from_file`) of rows
`doc_id, doc_offset, tokens`: the pieces of documents it holds, in order, each document followed
by EOS. Every shard holds exactly `tokens_per_shard` tokens but the last of a set. A reader of a
budget reads its shards in order and stops at the budget's `tokens`.

Its own module so that the trainer, the card and the tests read shards without the builder
(pipeline.shards) and its tokenizer training, n-gram grouping and mixes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from pipeline import atomic
from pipeline.errors import ConfigError
from pipeline.text import sha256_file

EOS = "<|endoftext|>"
SHARD_SCHEMA_16 = pa.schema([("doc_id", pa.string()), ("doc_offset", pa.int64()), ("tokens", pa.list_(pa.uint16()))])
SHARD_SCHEMA_32 = pa.schema([("doc_id", pa.string()), ("doc_offset", pa.int64()), ("tokens", pa.list_(pa.uint32()))])


def parse_tokens(text: str | int) -> int:
    """'1M' -> 1_000_000, '500K' -> 500_000, '2.5M', '1000'."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMbBgG]?)\s*", str(text))
    if not m:
        raise ConfigError(f"token count {text!r}: expected a number with an optional K, M or B suffix")
    mult = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000, "g": 1_000_000_000}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def budget_name(n: int) -> str:
    """1_000_000 -> '1M', 250_000 -> '250K' (folder names and manifest keys)."""
    for suffix, unit in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= unit:
            return f"{n / unit:g}{suffix}"
    return str(n)


# --- writing ------------------------------------------------------------------------------------
def write_shards(folder: Path, docs: list[tuple[str, np.ndarray]], tokens_per_shard: int,
                 dtype: Any) -> list[dict[str, Any]]:
    """Cut the documents' token stream into shards of exactly tokens_per_shard (last may be short)."""
    schema = SHARD_SCHEMA_16 if dtype == np.uint16 else SHARD_SCHEMA_32
    shards: list[dict[str, Any]] = []
    rows: dict[str, list] = {"doc_id": [], "doc_offset": [], "tokens": []}
    filled = 0

    def flush() -> None:
        nonlocal rows, filled
        path = folder / f"shard-{len(shards):05d}.arrow"
        flat = np.concatenate(rows["tokens"]).astype(dtype) if rows["tokens"] else np.empty(0, dtype)
        offsets = np.concatenate([[0], np.cumsum([len(t) for t in rows["tokens"]])]).astype(np.int32)
        tokens = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
        table = pa.table({"doc_id": pa.array(rows["doc_id"], pa.string()),
                          "doc_offset": pa.array(rows["doc_offset"], pa.int64()), "tokens": tokens}, schema=schema)
        with atomic.atomic_path(path) as tmp:
            with pa.OSFile(str(tmp), "wb") as f, pa.ipc.new_stream(f, schema) as w:
                w.write_table(table)
        shards.append({"path": str(path), "tokens": int(len(flat)), "docs": len(set(rows["doc_id"])),
                       "sha256": sha256_file(path)})
        rows, filled = {"doc_id": [], "doc_offset": [], "tokens": []}, 0

    for doc_id, toks in docs:
        pos = 0
        while pos < len(toks):
            take = min(len(toks) - pos, tokens_per_shard - filled)
            rows["doc_id"].append(doc_id)
            rows["doc_offset"].append(pos)
            rows["tokens"].append(toks[pos:pos + take])
            pos += take
            filled += take
            if filled == tokens_per_shard:
                flush()
    if filled or not shards:
        flush()
    return shards


def read_shard(path: str | Path) -> pa.Table:
    """A shard, memory-mapped (zero copy)."""
    with pa.memory_map(str(path)) as m:
        return pa.ipc.open_stream(m).read_all()


def shard_tokens(path: str | Path) -> np.ndarray:
    return read_shard(path)["tokens"].combine_chunks().flatten().to_numpy()


def budget_rows(folder: str | Path, budget: dict[str, Any]) -> Iterator[tuple[str, np.ndarray]]:
    """(doc_id, tokens) of each document piece of a budget (or the validation split) as the
    manifest describes it: its shards in order, stopping at its `tokens`."""
    left = budget["tokens"]
    for s in budget["shards"]:
        t = read_shard(Path(folder) / s["path"])
        col = t["tokens"].combine_chunks()
        flat, offs = col.flatten().to_numpy(), col.offsets.to_numpy()
        offs = offs - offs[0]
        for k, doc_id in enumerate(t["doc_id"].to_pylist()):
            if left <= 0:
                return
            toks = flat[offs[k]:offs[k + 1]][:left]
            left -= len(toks)
            yield doc_id, toks


def verify_shards(folder: str | Path) -> list[str]:
    """Re-check every shard's sha256 and token count against the manifest; returns problems."""
    folder = Path(folder)
    man_path = folder / "manifest.json"
    if not man_path.exists():
        return [f"{man_path} not found"]
    man = json.loads(man_path.read_text())
    problems = []
    tok = folder / man["tokenizer"]["path"]
    if not tok.exists() or sha256_file(tok) != man["tokenizer"]["sha256"]:
        problems.append(f"{tok}: missing or sha256 differs from the manifest")
    for s in iter_manifest_shards(man):
        p = folder / s["path"]
        if not p.exists():
            problems.append(f"{p}: missing")
            continue
        if sha256_file(p) != s["sha256"]:
            problems.append(f"{p}: sha256 differs from the manifest")
            continue
        n = len(shard_tokens(p))
        if n != s["tokens"]:
            problems.append(f"{p}: {n} tokens, manifest says {s['tokens']}")
    return problems


def iter_manifest_shards(man: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every shard file of a manifest once (nested budgets share their variant's files)."""
    seen: set[str] = set()
    for s in [*man["validation"]["shards"], *(s for v in man["variants"].values()
                                             for b in v["budgets"].values() for s in b["shards"])]:
        if s["path"] not in seen:
            seen.add(s["path"])
            yield s
