"""Token shards at controlled token counts: nested budgets, quality variants, one validation split.

Layout of a shard folder (everything written atomically; `manifest.json` last):

    tokenizer.json                      byte-level BPE (trained here, or the one given)
    validation/shard-00000.arrow        held out of every budget of every variant
    <variant>/<budget>/shard-NNNNN.arrow
    manifest.json                       every shard: tokens, documents, sha256; tokenizer hash;
                                        the source run's config hash; budgets and variants

A shard is an Arrow IPC stream (readable by pyarrow and `datasets.Dataset.from_file`) of rows
`doc_id, doc_offset, tokens`: the pieces of documents it holds, in order, each document followed
by EOS. Every shard holds exactly `tokens_per_shard` tokens but the last of a set.

Budgets: the documents of a variant, in one seeded shuffle of their ids, minus the validation
documents and their near copies (Jaccard >= 0.5 under other ids); a budget is the shortest prefix with at least that many tokens (so it is within one
document of its target, and budgets are nested). Validation: a prefix of the same shuffle of the
cleanest variant (the last one given), of `validation_tokens`.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import atomic
from pipeline.stage import ConfigError
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


@dataclass(frozen=True)
class ShardsConfig:
    budgets: tuple[str, ...] = field(default=("1M", "2M", "4M"), metadata={"help": "nested token budgets"})
    variants: dict[str, str] = field(default_factory=dict, metadata={
        "help": "variant name -> stage whose output it is (in a run) or a folder (CLI); the last is the cleanest"})
    tokens_per_shard: int = field(default=1 << 20, metadata={"help": "tokens in every shard but the last"})
    validation_tokens: str = field(default="100K", metadata={"help": "size of the shared validation split"})
    vocab_size: int = field(default=8192, metadata={"help": "BPE vocabulary when training a tokenizer"})
    tokenizer: str = field(default="", metadata={"help": "a local tokenizer.json to use instead of training", "path": True})
    seed: int = field(default=0, metadata={"help": "seed of the document shuffle"})
    batch_docs: int = field(default=1024, metadata={"help": "documents per encode_batch call"})
    train_chars: int = field(default=50_000_000, metadata={"help": "at most this much text trains the tokenizer"})
    hold_out_near_copies: bool = field(default=True, metadata={
        "help": "also hold out documents with word 5-gram Jaccard >= 0.5 to a validation document"})

    def __post_init__(self) -> None:
        b = [parse_tokens(x) for x in self.budgets]
        if not b or b != sorted(b) or len(set(b)) != len(b) or b[0] <= 0:
            raise ConfigError(f"shards.budgets = {list(self.budgets)}: need increasing positive token counts")
        if self.tokens_per_shard < 1 or self.vocab_size < 260 or parse_tokens(self.validation_tokens) < 1:
            raise ConfigError("shards: tokens_per_shard >= 1, vocab_size >= 260, validation_tokens >= 1")


# --- tokenizer ----------------------------------------------------------------------------------
def train_tokenizer(texts: Iterator[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def load_tokenizer(path: str | Path):
    from tokenizers import Tokenizer

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"tokenizer {path} not found")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as e:  # noqa: BLE001 - tokenizers raises plain Exceptions
        raise ConfigError(f"tokenizer {path} cannot be loaded ({e})") from None
    if tok.token_to_id(EOS) is None:
        raise ConfigError(f"tokenizer {path} has no {EOS} token")
    return tok


# --- documents of a variant ---------------------------------------------------------------------
def read_texts(stage_dir: Path) -> tuple[list[str], list[str]]:
    """ids and texts of a stage's kept documents, in run order."""
    ids: list[str] = []
    texts: list[str] = []
    parts = sorted(Path(stage_dir).glob("part-*.parquet"))
    if not parts:
        raise ConfigError(f"{stage_dir}: no part-*.parquet files (is it a stage output folder?)")
    for p in parts:
        t = pq.read_table(p, columns=["id", "text"])
        ids += t["id"].to_pylist()
        texts += t["text"].to_pylist()
    return ids, texts


def shuffled(ids: list[str], seed: int) -> list[str]:
    """One seeded order of document ids, the same whichever variant they come from."""
    order = sorted(ids, key=lambda i: hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest())
    return order


def encode(tok, texts: list[str], batch: int) -> list[np.ndarray]:
    eos = tok.token_to_id(EOS)
    out: list[np.ndarray] = []
    for i in range(0, len(texts), batch):
        for enc in tok.encode_batch(texts[i:i + batch], add_special_tokens=False):
            ids = enc.ids
            arr = np.empty(len(ids) + 1, dtype=np.uint32)
            arr[:-1] = ids
            arr[-1] = eos
            out.append(arr)
    return out


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


# --- the whole step -----------------------------------------------------------------------------
def build_shards(variants: dict[str, Path], out: Path, cfg: ShardsConfig, config_hash: str = "",
                 progress: bool = True) -> dict[str, Any]:
    """Encode every variant once, draw validation and budgets, write shards and the manifest."""
    import time

    from tqdm import tqdm

    if not variants:
        raise ConfigError("shards: no variants given")
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data = {name: read_texts(path) for name, path in variants.items()}
    cleanest = list(variants)[-1]
    if cfg.tokenizer:
        tok = load_tokenizer(cfg.tokenizer)
    else:
        ids, texts = data[cleanest]
        sample, total = [], 0
        for t in texts:  # deterministic: run order, up to train_chars
            if total >= cfg.train_chars:
                break
            sample.append(t)
            total += len(t)
        tok = train_tokenizer(iter(sample), cfg.vocab_size)
    tok_path = out / "tokenizer.json"
    atomic.write_text(tok_path, tok.to_str())
    vocab = tok.get_vocab_size()
    dtype = np.uint16 if vocab <= 65535 else np.uint32
    encoded: dict[str, dict[str, np.ndarray]] = {}
    t_enc = time.perf_counter()
    n_tokens = 0
    for name, (ids, texts) in tqdm(data.items(), desc="encode", disable=not progress, leave=False):
        arrays = encode(tok, texts, cfg.batch_docs)
        encoded[name] = dict(zip(ids, arrays))
        n_tokens += sum(len(a) for a in arrays)
    enc_s = time.perf_counter() - t_enc
    # validation: a prefix of the cleanest variant's shuffle
    val_target = parse_tokens(cfg.validation_tokens)
    val_ids: list[str] = []
    got = 0
    for i in shuffled(list(encoded[cleanest]), cfg.seed):
        if got >= val_target:
            break
        val_ids.append(i)
        got += len(encoded[cleanest][i])
    held = set(val_ids)
    # Hold out near copies of validation documents too (other ids, same text): otherwise a less
    # deduplicated variant trains on its own validation set and looks better than it is.
    from pipeline.stages.minhash import similar_pairs
    val_texts = [t for i, t in zip(*data[cleanest]) if i in held]
    copies: dict[str, int] = {}
    for name, (ids, texts) in data.items():
        near = {i for i, _ in similar_pairs(texts, val_texts)} if val_texts and cfg.hold_out_near_copies else set()
        extra = {ids[k] for k in near} - held
        copies[name] = len(extra)
        encoded[name] = {i: a for i, a in encoded[name].items() if i not in extra}
    manifest: dict[str, Any] = {
        "format": "corpusprep-shards/1",
        "tokenizer": {"path": "tokenizer.json", "sha256": sha256_file(tok_path), "vocab_size": vocab,
                      "eos_id": tok.token_to_id(EOS), "trained": not cfg.tokenizer},
        "dtype": np.dtype(dtype).name,
        "tokens_per_shard": cfg.tokens_per_shard,
        "source_config_hash": config_hash,
        "seed": cfg.seed,
        "validation": {"variant": cleanest, "target": val_target, "tokens": got, "docs": len(val_ids),
                       "near_copies_held_out": copies,
                       "doc_ids_sha256": hashlib.sha256("\n".join(sorted(val_ids)).encode()).hexdigest(),
                       "shards": _rel(write_shards(out / "validation", [(i, encoded[cleanest][i]) for i in val_ids],
                                                   cfg.tokens_per_shard, dtype), out)},
        "variants": {},
    }
    budgets = [parse_tokens(b) for b in cfg.budgets]
    for name in variants:
        order = [i for i in shuffled(list(encoded[name]), cfg.seed) if i not in held]
        avail = sum(len(encoded[name][i]) for i in order)
        if budgets[-1] > avail:
            raise ConfigError(f"shards: variant {name!r} has {avail:,} tokens outside the validation split, "
                              f"fewer than the largest budget {budgets[-1]:,}; lower the budgets or add data")
        cum = np.cumsum([len(encoded[name][i]) for i in order])
        vb = {}
        for b in budgets:
            k = int(np.searchsorted(cum, b)) + 1  # shortest prefix with >= b tokens
            docs = [(i, encoded[name][i]) for i in order[:k]]
            shards = write_shards(out / name / budget_name(b), docs, cfg.tokens_per_shard, dtype)
            vb[budget_name(b)] = {"target": b, "tokens": int(cum[k - 1]), "docs": k,
                                  "doc_ids_sha256": hashlib.sha256("\n".join(sorted(order[:k])).encode()).hexdigest(),
                                  "shards": _rel(shards, out)}
        manifest["variants"][name] = {"source": str(variants[name]), "docs": len(encoded[name]),
                                      "tokens": int(sum(len(a) for a in encoded[name].values())), "budgets": vb}
    manifest["seconds"] = {"total": round(time.perf_counter() - t0, 3), "encode": round(enc_s, 3),
                           "tokens_encoded": n_tokens}
    atomic.write_json(out / "manifest.json", manifest)
    return manifest


def _rel(shards: list[dict[str, Any]], root: Path) -> list[dict[str, Any]]:
    return [dict(s, path=str(Path(s["path"]).relative_to(root))) for s in shards]


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
    yield from man["validation"]["shards"]
    for v in man["variants"].values():
        for b in v["budgets"].values():
            yield from b["shards"]
