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
    exports.json                        (once `corpusprep export` ran) the exports made from it

A shard is an Arrow IPC stream (readable by pyarrow and `datasets.Dataset.from_file`) of rows
`doc_id, doc_offset, tokens`: the pieces of documents it holds, in order, each document followed
by EOS. Every shard holds exactly `tokens_per_shard` tokens but the last of a set. A reader of a
budget reads its shards in order and stops at the budget's `tokens`.

Its own module so that the trainer, the card and the tests read shards without the builder
(pipeline.shards) and its tokenizer training, n-gram grouping and mixes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
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


def budget_rows(folder: str | Path, budget: "Entry | dict[str, Any]") -> Iterator[tuple[str, np.ndarray]]:
    """(doc_id, tokens) of each document piece of a budget (or the validation split) as the
    manifest describes it (an Entry, or the entry as written): its shards in order, stopping at its
    `tokens`."""
    for doc_id, _, toks in budget_pieces(folder, budget):
        yield doc_id, toks


def budget_pieces(folder: str | Path, budget: "Entry | dict[str, Any]") -> Iterator[tuple[str, int, np.ndarray]]:
    """(doc_id, doc_offset, tokens) of each piece, as `budget_rows`: a piece with doc_offset > 0
    continues the document of the piece before it (cut at a shard boundary)."""
    budget = _entry(budget) if isinstance(budget, dict) else budget
    left = budget.tokens
    for s in budget.shards:
        t = read_shard(Path(folder) / s.path)
        col = t["tokens"].combine_chunks()
        flat, offs = col.flatten().to_numpy(), col.offsets.to_numpy()
        offs = offs - offs[0]
        for k, (doc_id, at) in enumerate(zip(t["doc_id"].to_pylist(), t["doc_offset"].to_pylist())):
            if left <= 0:
                return
            toks = flat[offs[k]:offs[k + 1]][:left]
            left -= len(toks)
            yield doc_id, at, toks


# --- the manifest -----------------------------------------------------------------------------
MANIFEST = "manifest.json"
FORMAT = "corpusprep-shards/2"
EXPORTS = "exports.json"


class ShardsError(ConfigError):
    """A shard folder cannot be trusted or found (missing, or its files differ from its manifest)."""


@dataclass(frozen=True)
class Shard:
    """One shard file as the manifest lists it (`path` relative to the shard folder)."""

    path: str
    tokens: int
    docs: int
    sha256: str


@dataclass(frozen=True)
class Entry:
    """A budget of a variant, or the validation split: its tokens (it may end inside its last
    shard), its shards in order, and the other facts the builder recorded (`target`, `docs`,
    `composition`, `repeated_13gram_share`, ...; for validation `variant`, `split`, `overlap_13gram`)."""

    tokens: int
    shards: tuple[Shard, ...]
    facts: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.facts.get(key, default)


@dataclass(frozen=True)
class Variant:
    name: str
    budgets: dict[str, Entry]
    facts: dict[str, Any]  # source, docs, tokens; a mix's `mix`


@dataclass(frozen=True)
class TokenizerEntry:
    path: str
    sha256: str
    vocab_size: int
    eos_id: int
    trained: bool
    trained_on: str


@dataclass(frozen=True)
class Manifest:
    """A shard folder's manifest, typed: what the trainer, the card, kNN-LM and verify read of it.
    `raw` is the manifest as written (the card and the run report keep it whole)."""

    tokenizer: TokenizerEntry
    dtype: str
    tokens_per_shard: int
    source_config_hash: str
    validation: Entry
    variants: dict[str, Variant]
    fates: dict[str, str] | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "manifest") -> "Manifest":
        try:
            return cls(TokenizerEntry(**d["tokenizer"]), d["dtype"], d["tokens_per_shard"],
                       d.get("source_config_hash", ""), _entry(d["validation"]),
                       {v: Variant(v, {b: _entry(e) for b, e in x["budgets"].items()},
                                   {k: y for k, y in x.items() if k != "budgets"}) for v, x in d["variants"].items()},
                       d.get("fates"), d)
        except (KeyError, TypeError) as e:
            raise ShardsError(f"{where}: not a corpusprep shard manifest ({type(e).__name__}: {e}); rebuild it with "
                              "`corpusprep shards`") from None

    def budget(self, variant: str, budget: str) -> Entry:
        """A variant's budget, or a ShardsError listing what there is."""
        if variant not in self.variants:
            raise ShardsError(f"variant {variant!r} not in the shards; available: {', '.join(self.variants)}")
        budgets = self.variants[variant].budgets
        if budget not in budgets:
            raise ShardsError(f"budget {budget!r} not in variant {variant!r}; available: {', '.join(budgets)}")
        return budgets[budget]

    def shard_files(self) -> Iterator[Shard]:
        """Every shard file once (nested budgets share their variant's files)."""
        seen: set[str] = set()
        for s in [*self.validation.shards, *(s for v in self.variants.values() for e in v.budgets.values()
                                             for s in e.shards)]:
            if s.path not in seen:
                seen.add(s.path)
                yield s

    def identity(self, variant: str, budget: str) -> str:
        """A fingerprint of exactly the tokens a run on (variant, budget) sees: its shards, the
        validation shards and the tokenizer, by sha256. From the manifest alone (no shard is read)."""
        e = self.budget(variant, budget)
        return hashlib.sha256(json.dumps([e.raw["shards"], e.tokens, self.validation.raw["shards"],
                                          self.tokenizer.sha256], sort_keys=True).encode()).hexdigest()

    def tokenizer_problem(self, folder: Path) -> str | None:
        tok = Path(folder) / self.tokenizer.path
        return None if tok.is_file() and sha256_file(tok) == self.tokenizer.sha256 else \
            f"{tok} is missing or does not match the manifest's tokenizer sha256"


def problem(folder: str | Path, shard: Shard, count: bool = True) -> str | None:
    """What is wrong with a shard file against its manifest entry (None: nothing): missing, a
    sha256 that differs, and (with `count`) a token count that differs. The one check the trainer,
    kNN-LM and `card verify` all use."""
    p = Path(folder) / shard.path
    if not p.is_file():
        return f"shard {p} listed in the manifest is missing"
    if sha256_file(p) != shard.sha256:
        return (f"shard {p} does not match the manifest (sha256 differs): the file is corrupted or the manifest "
                "belongs to other shards; rebuild with `corpusprep shards`")
    if count and (n := len(shard_tokens(p))) != shard.tokens:
        return f"shard {p} holds {n} tokens, the manifest says {shard.tokens}"
    return None


def _entry(d: dict[str, Any]) -> Entry:
    return Entry(d["tokens"], tuple(Shard(s["path"], s["tokens"], s["docs"], s["sha256"]) for s in d["shards"]),
                 {k: v for k, v in d.items() if k not in ("tokens", "shards")}, d)


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest of a shard folder, or a ShardsError saying why there is none."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ShardsError(f"{path} not found: give a shard folder made by corpusprep (a run's shards/, or "
                          "`corpusprep shards --output`)")
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (ValueError, UnicodeDecodeError) as e:
        raise ShardsError(f"{path}: not valid JSON ({e})") from None


class ManifestBuilder:
    """The manifest as the builder collects it, key by key in one place: the head, the validation
    split, each variant's budgets, the fates file; written last, after a check that it reads back."""

    def __init__(self, tokenizer: TokenizerEntry, dtype: str, tokens_per_shard: int, config_hash: str, seed: int,
                 validation: dict[str, Any]):
        self.raw: dict[str, Any] = {
            "format": FORMAT, "tokenizer": dataclasses.asdict(tokenizer), "dtype": dtype,
            "tokens_per_shard": tokens_per_shard, "source_config_hash": config_hash, "seed": seed,
            "validation": dict(validation, overlap_13gram={}), "variants": {}}

    def variant(self, name: str, budgets: dict[str, dict[str, Any]], facts: dict[str, Any], overlap: float) -> None:
        self.raw["validation"]["overlap_13gram"][name] = overlap
        self.raw["variants"][name] = {**facts, "budgets": budgets}

    def fates(self, path: str, sha256: str) -> None:
        self.raw["fates"] = {"path": path, "sha256": sha256}

    def seconds(self, timings: dict[str, Any]) -> None:
        self.raw["seconds"] = timings

    def write(self, folder: Path) -> Manifest:
        man = Manifest.from_dict(self.raw)
        atomic.write_json(Path(folder) / MANIFEST, self.raw)
        return man


def exports_of(folder: str | Path) -> list[dict[str, Any]]:
    """The exports made from a shard folder (format, path, variant, budget, tokens, docs), as
    `corpusprep export` lists them; [] when none."""
    p = Path(folder) / EXPORTS
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else []


def verify_shards(folder: str | Path) -> list[str]:
    """Re-check every shard's sha256 and token count, and the tokenizer's, against the manifest."""
    try:
        man = read_manifest(folder)
    except ShardsError as e:
        return [str(e)]
    problems = [man.tokenizer_problem(Path(folder))]
    problems += [problem(folder, s) for s in man.shard_files()]
    return [p for p in problems if p]
