"""Token shards at controlled token counts: nested budgets, quality variants, one validation split.

The run's last step (not a stage: it reads the outputs of several stages at once). The folder
it writes and the shard format are described in pipeline.shard_format.

Validation: whole groups of documents (`pipeline.splits`: documents sharing a rare word 13-gram
are one group, so near copies and shared paragraphs stay on one side), drawn in a seeded order
of groups until `validation_tokens`; its documents come from the cleanest variant (the last
given), and every other member of a drawn group is held out of every budget of every variant.
Budgets: the remaining documents of a variant in one seeded shuffle of their ids; a budget is the
shortest prefix with at least that many tokens (within one document of its target; nested).
A document is encoded from each variant's own text (safety masks PII and quality drops lines, so
the same id has a different text in a later variant); equal texts of one id are encoded once.
Mixes (the quality dose-response): a base variant's clean prefix plus documents the pipeline
dropped (`drops.parquet` of named stages), cut to exact token shares of each budget.
"""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import atomic, stage_folder
from pipeline.errors import ConfigError
from pipeline.shard_format import EOS, ManifestBuilder, TokenizerEntry, budget_name, parse_tokens, write_shards
from pipeline.shards_settings import ShardsConfig
from pipeline.splits import Postings, distinct, groups, ngram_sets, overlap_of, repeated_share_of
from pipeline.text import sha256_file
from pipeline.tokenizer import encode, load_tokenizer, train_tokenizer


# --- documents of a variant ---------------------------------------------------------------------
def read_texts(stage_dir: Path) -> tuple[list[str], list[str]]:
    """ids and texts of a stage's kept documents, in run order."""
    ids: list[str] = []
    texts: list[str] = []
    parts = stage_folder.part_files(Path(stage_dir))
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


def read_drops(drops: dict[str, Path], stages: set[str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """From stages' drops.parquet: the stage that dropped each id, and the dropped texts of `stages`."""
    fate: dict[str, str] = {}
    texts: dict[str, str] = {}
    for stage, path in drops.items():
        if not Path(path).is_file():
            continue
        want = stages is not None and stage in stages
        t = pq.read_table(path, columns=["id", "text"] if want else ["id"])
        for i in t["id"].to_pylist():
            fate.setdefault(i, stage)
        if want:
            for i, x in zip(t["id"].to_pylist(), t["text"].to_pylist()):
                if x:
                    texts.setdefault(i, x)
    return fate, texts


def _cut(order: list[str], tokens: dict[str, np.ndarray], n: int) -> list[tuple[str, np.ndarray]]:
    """Documents in order until exactly n tokens, the last one cut short."""
    out, got = [], 0
    for i in order:
        if got >= n:
            break
        t = tokens[i][:n - got]
        out.append((i, t))
        got += len(t)
    if got < n:
        raise ConfigError(f"shards: {got:,} tokens available where {n:,} are needed")
    return out


def _postings_and_groups(texts: _Texts, max_df: int) -> tuple[Postings, np.ndarray]:
    """The texts' 13-gram postings, and the group label of each document (see pipeline.splits)."""
    postings = Postings(ngram_sets(texts.texts))
    if len(texts.of_id) == len(texts.texts):  # one text a document
        return postings, groups(postings, max_df)
    # the split groups documents: an n-gram's count is of documents, not of one document's texts
    return postings, groups(postings.merged(texts.owners(), len(texts.of_id)), max_df)


def _validation(union: list[str], label: np.ndarray, clean: dict[str, np.ndarray],
                cfg: ShardsConfig) -> tuple[list[str], set[str], dict[str, Any]]:
    """Whole groups of documents (`union`, labelled by `label`) in a seeded order until the target;
    returns validation ids (cleanest variant), every id held out of training, and what the split
    did."""
    members: dict[int, list[str]] = {}
    for i, g in zip(union, label):
        members.setdefault(int(g), []).append(i)
    target = parse_tokens(cfg.validation_tokens)
    largest = max(1, target // 5)  # a group of several documents larger than this stays in training
    val, held, got, skipped = [], set(), 0, 0
    for g in sorted(members, key=lambda g: hashlib.blake2b(f"{cfg.seed}:{union[g]}".encode(), digest_size=8).digest()):
        if got >= target:
            break
        ids = [i for i in members[g] if i in clean]
        size = sum(len(clean[i]) for i in ids)
        if not ids or (size > largest and len(members[g]) > 1):
            skipped += bool(ids)
            continue
        val += shuffled(ids, cfg.seed)
        held.update(members[g])
        got += size
    sizes = sorted((len(m) for m in members.values()), reverse=True)
    info = {"groups": len(members), "largest_group_docs": sizes[0] if sizes else 0,
            "groups_too_large_for_validation": skipped, "group_max_df": cfg.group_max_df,
            "docs_held_out": len(held), "docs_held_out_beyond_validation": len(held) - len(val)}
    return val, held, info


def build_shards(variants: dict[str, Path], out: Path, cfg: ShardsConfig, config_hash: str = "",
                 progress: bool = True, drops: dict[str, Path] | None = None) -> dict[str, Any]:
    """Encode every distinct document once, split validation by groups, write budgets, mixes and
    the manifest. `drops` (stage name -> drops.parquet) gives mixes their dropped text and each
    budget its composition by the stage that would have dropped each document."""
    import time

    if not variants:
        raise ConfigError("shards: no variants given")
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data = {name: read_texts(path) for name, path in variants.items()}
    cleanest = list(variants)[-1]
    fate, pool = _fates_and_pool(cfg, drops or {})
    tok = load_tokenizer(cfg.tokenizer) if cfg.tokenizer else _train_on(data[cleanest][1], cfg)
    atomic.write_text(out / "tokenizer.json", tok.to_str())
    texts = _Texts.of(data, pool)
    t_enc = time.perf_counter()
    arrays, postings, label = _encode_and_group(tok, texts, cfg, progress)
    enc_s = time.perf_counter() - t_enc
    tokens = {name: {i: arrays[k] for i, k in slots.items()} for name, slots in texts.slot.items()}
    w = _Writer(out, cfg, tok.get_vocab_size(), fate, postings, len(arrays))
    clean = tokens[cleanest]
    val_ids, held, split = _validation(list(texts.of_id), label, clean, cfg)
    w.start_manifest(tok, cleanest, config_hash, val_ids, clean, split, texts.slot[cleanest])
    budgets = [parse_tokens(b) for b in cfg.budgets]
    orders = {name: [i for i in shuffled(ids, cfg.seed) if i not in held] for name, (ids, _) in data.items()}
    for name, order in orders.items():
        per, extra = _variant_budgets(name, order, tokens[name], budgets)
        w.emit(name, per, {"source": str(variants[name]), **extra}, texts.slot[name])
    dropped_slot = texts.dropped_or_variant()
    dropped = {i: arrays[k] for i, k in dropped_slot.items()}
    for name, m in cfg.mixes.items():
        per, extra = _mix_budgets(name, m, orders[m["base"]], fate, tokens[m["base"]], dropped, held, cfg)
        w.emit(name, per, extra, {**dropped_slot, **texts.slot[m["base"]]}, nested=False)
    w.write_fates()
    w.manifest.seconds({"total": round(time.perf_counter() - t0, 3), "encode": round(enc_s, 3),
                        "tokens_encoded": sum(len(a) for a in arrays)})
    return w.manifest.write(out).raw


def _fates_and_pool(cfg: ShardsConfig, drops: dict[str, Path]) -> tuple[dict[str, str], dict[str, str]]:
    """Which stage dropped each id, and the dropped texts the mixes draw from."""
    pool_stages = {s for m in cfg.mixes.values() for s in m["dropped"]}
    missing = pool_stages - set(drops)
    if missing:
        raise ConfigError(f"shards.mixes name stage(s) {', '.join(sorted(missing))} with no drops.parquet "
                          f"here; available: {', '.join(sorted(drops)) or 'none'}")
    return read_drops(drops, pool_stages)


def _train_on(texts: list[str], cfg: ShardsConfig):
    """A tokenizer trained on the cleanest variant: its texts in run order, up to train_chars."""
    sample, total = [], 0
    for t in texts:
        if total >= cfg.train_chars:
            break
        sample.append(t)
        total += len(t)
    return train_tokenizer(iter(sample), cfg.vocab_size)


@dataclass
class _Texts:
    """Every distinct text of the run's documents once, and which text each variant has of each
    document. Why by (variant, id) and not by id: stages change texts (safety masks PII, quality
    drops lines, decontamination redacts), so a document's text in the cleanest variant is not
    its text in the raw one; variants still share most texts, and those are encoded once."""

    texts: list[str] = field(default_factory=list)
    slot: dict[str, dict[str, int]] = field(default_factory=dict)  # variant -> id -> text index
    dropped: dict[str, int] = field(default_factory=dict)  # id -> its text as the stage that dropped it saw it
    of_id: dict[str, list[int]] = field(default_factory=dict)  # id -> its texts; ids in order of first appearance

    @classmethod
    def of(cls, data: dict[str, tuple[list[str], list[str]]], pool: dict[str, str]) -> "_Texts":
        t = cls()
        t.slot = {name: {i: t.add(i, x) for i, x in zip(ids, texts)} for name, (ids, texts) in data.items()}
        t.dropped = {i: t.add(i, x) for i, x in pool.items()}
        return t

    def add(self, i: str, text: str) -> int:
        """The index of document i's `text`, added if this document had no such text yet."""
        mine = self.of_id.setdefault(i, [])
        for k in mine:
            if self.texts[k] == text:
                return k
        mine.append(len(self.texts))
        self.texts.append(text)
        return mine[-1]

    def owners(self) -> np.ndarray:
        """Per text, its document's index in `of_id`'s order."""
        owner = np.empty(len(self.texts), np.int64)
        for d, mine in enumerate(self.of_id.values()):
            owner[mine] = d
        return owner

    def dropped_or_variant(self) -> dict[str, int]:
        """The text a mix takes of each document: as the stage that dropped it saw it, or, where
        the run kept no dropped text (`keep_dropped_text = false`), the first variant's."""
        out = dict(self.dropped)
        for slots in self.slot.values():
            for i, k in slots.items():
                out.setdefault(i, k)
        return out


def _encode_and_group(tok, texts: _Texts, cfg: ShardsConfig, progress: bool
                      ) -> tuple[list[np.ndarray], Postings, np.ndarray]:
    """Tokens of every distinct text, its 13-gram postings and the documents' groups, computed in
    a thread while the tokenizer encodes: both run outside the GIL for most of their time (Rust,
    compiled kernels, numpy sorts)."""
    from tqdm import tqdm

    arrays: list[np.ndarray] = []
    every = texts.texts
    with ThreadPoolExecutor(1) as pool:
        grouping = pool.submit(_postings_and_groups, texts, cfg.group_max_df)
        for k in tqdm(range(0, len(every), cfg.batch_docs), desc="encode", disable=not progress, leave=False):
            arrays += encode(tok, every[k:k + cfg.batch_docs], cfg.batch_docs)
        postings, label = grouping.result()
    return arrays, postings, label


def _variant_budgets(name: str, order: list[str], tokens: dict[str, np.ndarray], budgets: list[int]
                     ) -> tuple[dict[int, list[tuple[str, np.ndarray]]], dict[str, Any]]:
    """A variant's nested budgets: the shortest prefixes of its seeded order that reach each."""
    avail = sum(len(tokens[i]) for i in order)
    if budgets[-1] > avail:
        raise ConfigError(f"shards: variant {name!r} has {avail:,} tokens outside the validation groups, "
                          f"fewer than the largest budget {budgets[-1]:,}; lower the budgets or add data")
    cum = np.cumsum([len(tokens[i]) for i in order])
    per = {b: [(i, tokens[i]) for i in order[:int(np.searchsorted(cum, b)) + 1]] for b in budgets}
    return per, {"docs": len(order), "tokens": int(cum[-1]) if len(cum) else 0}


def _mix_budgets(name: str, m: dict[str, Any], base_order: list[str], fate: dict[str, str],
                 tokens: dict[str, np.ndarray], dropped_tokens: dict[str, np.ndarray], held: set[str],
                 cfg: ShardsConfig) -> tuple[dict[int, list[tuple[str, np.ndarray]]], dict[str, Any]]:
    """A mix's budgets: the base's clean prefix (`tokens`, the base's) and dropped documents
    (`dropped_tokens`) at the mix's exact token share."""
    in_base = set(base_order)
    dropped = [i for i in shuffled([i for i, s in fate.items() if s in m["dropped"] and i in dropped_tokens],
                                   cfg.seed) if i not in held and i not in in_base]
    per = {}
    for b in (parse_tokens(x) for x in m.get("budgets", cfg.budgets)):
        n_drop = int(round(m["share"] * b))
        try:
            docs = _cut(base_order, tokens, b - n_drop) + _cut(dropped, dropped_tokens, n_drop)
        except ConfigError as e:
            raise ConfigError(f"shards.mixes.{name} at {budget_name(b)}: {e}; lower the share or "
                              f"the budget") from None
        order = {i: k for k, i in enumerate(shuffled([i for i, _ in docs], cfg.seed))}
        per[b] = sorted(docs, key=lambda d: order[d[0]])
    return per, {"source": f"mix of {m['base']} and drops of {', '.join(m['dropped'])}",
                 "mix": {"base": m["base"], "dropped": list(m["dropped"]), "share": float(m["share"]),
                         "dropped_docs_available": len(dropped)}}


class _Writer:
    """Writes the shard sets of one folder and collects its manifest."""

    def __init__(self, out: Path, cfg: ShardsConfig, vocab: int, fate: dict[str, str], postings: Postings,
                 n_texts: int):
        self.out, self.cfg, self.fate, self.postings, self.n_texts = out, cfg, fate, postings, n_texts
        self.dtype = np.uint16 if vocab <= 65535 else np.uint32
        self.per_ids: list[set[str]] = []
        self.val_grams = np.empty(0, np.uint64)  # the validation's distinct 13-grams
        self.manifest: ManifestBuilder

    def start_manifest(self, tok, cleanest: str, config_hash: str, val_ids: list[str],
                       clean: dict[str, np.ndarray], split: dict[str, Any], slot: dict[str, int]) -> None:
        """The manifest's head and the validation split's shards (`slot`: the cleanest variant's
        text of each id)."""
        cfg, out = self.cfg, self.out
        self.val_grams = distinct(self.postings.of(self.members(slot[i] for i in val_ids)))
        tokenizer = TokenizerEntry("tokenizer.json", sha256_file(out / "tokenizer.json"), tok.get_vocab_size(),
                                   tok.token_to_id(EOS), not cfg.tokenizer, cleanest)
        self.manifest = ManifestBuilder(tokenizer, np.dtype(self.dtype).name, cfg.tokens_per_shard, config_hash,
                                        cfg.seed, {
            "variant": cleanest, "target": parse_tokens(cfg.validation_tokens),
            "tokens": sum(len(clean[i]) for i in val_ids), "docs": len(val_ids), "split": split,
            "doc_ids_sha256": hashlib.sha256("\n".join(sorted(val_ids)).encode()).hexdigest(),
            "shards": _rel(write_shards(out / "validation", [(i, clean[i]) for i in val_ids],
                                        cfg.tokens_per_shard, self.dtype), out)})

    def members(self, slots) -> np.ndarray:
        """A flag per distinct text of the run: is it among `slots`."""
        flags = np.zeros(self.n_texts, bool)
        flags[list(slots)] = True
        return flags

    def describe(self, docs: list[tuple[str, np.ndarray]], grams: np.ndarray) -> dict[str, Any]:
        """A budget's manifest entry (`grams`: its documents' sorted 13-gram hashes)."""
        comp: dict[str, int] = {}
        for i, t in docs:
            comp[self.fate.get(i, "kept")] = comp.get(self.fate.get(i, "kept"), 0) + len(t)
        return {"tokens": int(sum(len(t) for _, t in docs)), "docs": len(docs),
                "doc_ids_sha256": hashlib.sha256("\n".join(sorted(i for i, _ in docs)).encode()).hexdigest(),
                "composition": dict(sorted(comp.items())),
                "repeated_13gram_share": round(repeated_share_of(grams), 4)}

    def emit(self, name: str, per_budget: dict[int, list[tuple[str, np.ndarray]]], extra: dict[str, Any],
             slot: dict[str, int], nested: bool = True) -> None:
        """Write a variant's budgets (`slot`: which text of each id they hold). Nested budgets are
        prefixes of one shard sequence, stored once: a budget names the first shards of the largest
        budget's sequence and takes of the last only up to its own token count (`tokens`). A mix's
        budgets are drawn apart (not prefixes of each other), so each is a sequence of its own."""
        out, cfg = self.out, self.cfg
        vb = {}
        self.per_ids.append({i for docs in per_budget.values() for i, _ in docs})
        largest = max(per_budget)
        sequence = write_shards(out / name, per_budget[largest], cfg.tokens_per_shard, self.dtype) if nested else []
        for b, docs in per_budget.items():
            grams = self.postings.of(self.members(slot[i] for i, _ in docs))
            if b == largest:
                train = grams  # the validation overlap is measured against the largest budget
            info = self.describe(docs, grams)
            if nested:
                ends = np.cumsum([x["tokens"] for x in sequence])
                shards = sequence[:int(np.searchsorted(ends, info["tokens"])) + 1]
            else:
                shards = write_shards(out / name / budget_name(b), docs, cfg.tokens_per_shard, self.dtype)
            vb[budget_name(b)] = {"target": b, **info, "shards": _rel(shards, out)}
        self.manifest.variant(name, vb, extra, round(overlap_of(self.val_grams, train), 5))

    def write_fates(self) -> None:
        """Which stage dropped each document of the budgets (the rest were kept by all)."""
        if not self.fate:
            return
        fate = self.fate
        in_budgets = sorted({i for x in self.per_ids for i in x})
        fate_path = self.out / "fates.parquet"
        with atomic.atomic_path(fate_path) as tmp:
            pq.write_table(pa.table({"id": [i for i in in_budgets if i in fate],
                                     "stage": [fate[i] for i in in_budgets if i in fate]}), tmp)
        self.manifest.fates("fates.parquet", sha256_file(fate_path))


def _rel(shards: list[dict[str, Any]], root: Path) -> list[dict[str, Any]]:
    return [dict(s, path=str(Path(s["path"]).relative_to(root))) for s in shards]
