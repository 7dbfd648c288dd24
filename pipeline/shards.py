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

Memory is set by settings, not by the corpus: texts are read a batch at a time, their tokens and
13-gram postings go to a working store on disk (`shard_store`, removed at the end), and the
groups and statistics are computed a hash range of postings at a time (`shards.buffer_mb`).
What stays in memory is a few numbers a document and the ids of the budgets being written.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from pipeline import atomic, shard_store
from pipeline.errors import ConfigError
from pipeline.shard_drops import DroppedTexts, Fates
from pipeline.shard_format import EOS, ManifestBuilder, TokenizerEntry, budget_name, parse_tokens, write_shards
from pipeline.shard_texts import Side, Texts, first_texts, shuffle_keys, variant_batches, variant_ids
from pipeline.shards_settings import ShardsConfig
from pipeline.splits import distinct, labels, link, overlap_hits, repeated_counts
from pipeline.text import sha256_file
from pipeline.tokenizer import load_tokenizer, train_tokenizer

WORK = ".work"  # the working store, inside the shards folder while it is built


@dataclass
class Budget:
    """Documents of one budget in order: document numbers, their text numbers, tokens taken."""

    docs: np.ndarray
    texts: np.ndarray
    take: np.ndarray

    def __add__(self, other: "Budget") -> "Budget":
        return Budget(*(np.concatenate([a, b]) for a, b in zip(self.astuple(), other.astuple())))

    def astuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.docs, self.texts, self.take

    def subset(self, sel: Any) -> "Budget":
        return Budget(self.docs[sel], self.texts[sel], self.take[sel])


def build_shards(variants: dict[str, Path], out: Path, cfg: ShardsConfig, config_hash: str = "",
                 progress: bool = True, drops: dict[str, Path] | None = None) -> dict[str, Any]:
    """Encode every distinct document once, split validation by groups, write budgets, mixes and
    the manifest. `drops` (stage name -> drops.parquet) gives mixes their dropped text and each
    budget its composition by the stage that would have dropped each document."""
    if not variants:
        raise ConfigError("shards: no variants given")
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    shard_store.remove(out / WORK)
    drops = drops or {}
    pool_stages = {s for m in cfg.mixes.values() for s in m["dropped"]}
    if pool_stages - set(drops):
        raise ConfigError(f"shards.mixes name stage(s) {', '.join(sorted(pool_stages - set(drops)))} with no "
                          f"drops.parquet here; available: {', '.join(sorted(drops)) or 'none'}")
    cleanest = list(variants)[-1]
    tok = load_tokenizer(cfg.tokenizer) if cfg.tokenizer else \
        train_tokenizer(iter(first_texts(variants[cleanest], cfg.train_chars)), cfg.vocab_size)
    atomic.write_text(out / "tokenizer.json", tok.to_str())
    w = _Writer(out, cfg, tok.get_vocab_size(), Fates(drops))
    t_enc = time.perf_counter()
    texts, sides, pool = _read_all(w, tok, variants, drops, pool_stages, progress)
    enc_s = time.perf_counter() - t_enc
    try:
        w.start(texts, tok, cleanest, config_hash, sides[cleanest])
        orders = {name: w.order(side) for name, side in sides.items()}
        for name, side in sides.items():
            w.add_variant(name, orders[name], {"source": str(variants[name])})
        mixtext = texts.per_doc(*([pool] if pool else []), *sides.values())  # dropped text first
        for name, m in cfg.mixes.items():
            w.add_mix(name, m, orders[m["base"]], mixtext)
        w.finish(texts)
    finally:
        texts.store.file.close()
        shard_store.remove(out / WORK)
    w.manifest.seconds({"total": round(time.perf_counter() - t0, 3), "encode": round(enc_s, 3),
                        "tokens_encoded": int(texts.length.sum())})
    return w.manifest.write(out).raw


def _read_all(w: "_Writer", tok, variants: dict[str, Path], drops: dict[str, Path], pool_stages: set[str],
              progress: bool) -> tuple[Texts, dict[str, Side], Side | None]:
    """Every variant's documents, then the dropped texts the mixes draw from, into the store."""
    cfg = w.cfg
    texts = Texts(w.out / WORK, tok, w.dtype, cfg.batch_docs, cfg.buffer_mb << 15)
    ids = {name: variant_ids(path) for name, path in variants.items()}
    dropped = DroppedTexts(drops, pool_stages, cfg.batch_docs) if pool_stages else None
    total = sum(map(len, ids.values())) + (len(dropped.ids) if dropped else 0)
    with tqdm(total=total, desc="encode", disable=not progress, leave=False) as bar:
        sides = {name: texts.add_side(ids[name], variant_batches(path, cfg.batch_docs), bar)
                 for name, path in variants.items()}
        pool = texts.add_side(dropped.ids, dropped.batches(), bar) if dropped else None
    texts.close()
    return texts, sides, pool


class _Writer:
    """Writes the shard sets of one folder and collects its manifest; the statistics that need
    every posting (repetition, validation overlap) are gathered in one pass at the end."""

    def __init__(self, out: Path, cfg: ShardsConfig, vocab: int, fates: Fates):
        self.out, self.cfg, self.fates = out, cfg, fates
        self.dtype = np.uint16 if vocab <= 65535 else np.uint32
        self.sets: list[tuple[str, dict[int, Budget], dict[str, Any], dict[int, list[dict[str, Any]]]]] = []
        self.manifest: ManifestBuilder

    def start(self, texts: Texts, tok, cleanest: str, config_hash: str, clean: Side) -> None:
        """Number the documents, draw the validation split and write its shards."""
        self.texts, self.doc_ids = texts, texts.ids()
        self.keys = shuffle_keys(self.doc_ids, self.cfg.seed)
        self.fate = self.fates.of(self.doc_ids)
        label = self._groups()
        clean_text = texts.per_doc(clean)
        val, self.held, split = _validation(label, clean_text, texts.length, self.keys, self.cfg)
        self.val = Budget(val, clean_text[val], texts.length[clean_text[val]])
        tokenizer = TokenizerEntry("tokenizer.json", sha256_file(self.out / "tokenizer.json"), tok.get_vocab_size(),
                                   tok.token_to_id(EOS), not self.cfg.tokenizer, cleanest)
        self.manifest = ManifestBuilder(tokenizer, np.dtype(self.dtype).name, self.cfg.tokens_per_shard, config_hash,
                                        self.cfg.seed, {
            "variant": cleanest, "target": parse_tokens(self.cfg.validation_tokens),
            "tokens": int(self.val.take.sum()), "docs": len(val), "split": split,
            "doc_ids_sha256": self._ids_sha256(self.val),
            "shards": self._write(self.out / "validation", self.val)})

    def _groups(self) -> np.ndarray:
        """Each document's validation group (`pipeline.splits.groups`), a hash range at a time."""
        owner, n = self.texts.owners(), self.texts.n_docs
        parent = np.arange(n, dtype=np.int64)
        for h, t in self.texts.postings.ranges():
            link(parent, h, t, owner, self.cfg.group_max_df)
        return labels(parent)

    def order(self, side: Side) -> Budget:
        """A variant's documents outside the validation groups, in the seeded shuffle."""
        keep = ~self.held[side.doc]
        docs, texts = side.doc[keep], side.text[keep]
        o = np.argsort(self.keys[docs], kind="stable")
        return Budget(docs[o], texts[o], self.texts.length[texts[o]])

    def add_variant(self, name: str, order: Budget, facts: dict[str, Any]) -> None:
        """A variant's nested budgets: the shortest prefixes of its order that reach each, stored
        once as prefixes of one shard sequence (a budget names the first shards of the largest
        budget's sequence and takes of the last only up to its own token count)."""
        budgets = [parse_tokens(b) for b in self.cfg.budgets]
        cum = np.cumsum(order.take)
        avail = int(cum[-1]) if len(cum) else 0
        if budgets[-1] > avail:
            raise ConfigError(f"shards: variant {name!r} has {avail:,} tokens outside the validation groups, "
                              f"fewer than the largest budget {budgets[-1]:,}; lower the budgets or add data")
        per = {b: order.subset(slice(0, int(np.searchsorted(cum, b)) + 1)) for b in budgets}
        sequence = self._write(self.out / name, per[budgets[-1]])
        ends = np.cumsum([s["tokens"] for s in sequence])
        shards = {b: sequence[:int(np.searchsorted(ends, int(x.take.sum()))) + 1] for b, x in per.items()}
        self.sets.append((name, per, {**facts, "docs": len(order.docs), "tokens": avail}, shards))

    def add_mix(self, name: str, m: dict[str, Any], base: Budget, mixtext: np.ndarray) -> None:
        """A mix's budgets: the base's clean prefix and dropped documents (their text as the stage
        that dropped them saw it, or a variant's) at the mix's exact token share, each budget
        drawn apart in a sequence of its own."""
        cand = np.isin(self.fate, self.fates.numbers(m["dropped"])) & (mixtext >= 0) & ~self.held
        cand[base.docs] = False
        docs = np.flatnonzero(cand)
        docs = docs[np.argsort(self.keys[docs], kind="stable")]
        dropped = Budget(docs, mixtext[docs], self.texts.length[mixtext[docs]])
        per, shards = {}, {}
        for b in (parse_tokens(x) for x in m.get("budgets", self.cfg.budgets)):
            n_drop = int(round(m["share"] * b))
            try:
                both = _cut(base, b - n_drop) + _cut(dropped, n_drop)
            except ConfigError as e:
                raise ConfigError(f"shards.mixes.{name} at {budget_name(b)}: {e}; lower the share or "
                                  f"the budget") from None
            per[b] = both.subset(np.argsort(self.keys[both.docs], kind="stable"))
            shards[b] = self._write(self.out / name / budget_name(b), per[b])
        self.sets.append((name, per, {
            "source": f"mix of {m['base']} and drops of {', '.join(m['dropped'])}",
            "mix": {"base": m["base"], "dropped": list(m["dropped"]), "share": float(m["share"]),
                    "dropped_docs_available": len(docs)}}, shards))

    def finish(self, texts: Texts) -> None:
        """The statistics over every posting, then each set's manifest entry, then the fates."""
        members = [(k, b, self._flags(x.texts)) for k, (_, per, _, _) in enumerate(self.sets) for b, x in per.items()]
        val, largest = self._flags(self.val.texts), {k: max(per) for k, (_, per, _, _) in enumerate(self.sets)}
        rep = {(k, b): [0, 0] for k, b, _ in members}
        hits, n_val = {k: 0 for k in largest}, 0
        for h, t in texts.postings.ranges():
            v = distinct(h[val[t]])
            n_val += len(v)
            for k, b, flags in members:
                mine = h[flags[t]]
                rep[(k, b)] = [x + y for x, y in zip(rep[(k, b)], repeated_counts(mine))]
                if b == largest[k]:
                    hits[k] += overlap_hits(v, mine)
        for k, (name, per, facts, shards) in enumerate(self.sets):
            vb = {budget_name(b): {"target": b, **self._describe(x, *rep[(k, b)]), "shards": shards[b]}
                  for b, x in per.items()}
            self.manifest.variant(name, vb, facts, round(hits[k] / n_val, 5) if n_val else 0.0)
        self._write_fates()

    def _flags(self, texts: np.ndarray) -> np.ndarray:
        flags = np.zeros(self.texts.n_texts, bool)
        flags[texts] = True
        return flags

    def _describe(self, x: Budget, repeated: int, grams: int) -> dict[str, Any]:
        """A budget's manifest entry but its target and shards."""
        kind = self.fate[x.docs]
        comp = {self.fates.names[f] if f >= 0 else "kept": int(x.take[kind == f].sum()) for f in np.unique(kind)}
        return {"tokens": int(x.take.sum()), "docs": len(x.docs), "doc_ids_sha256": self._ids_sha256(x),
                "composition": dict(sorted(comp.items())),
                "repeated_13gram_share": round(repeated / grams, 4) if grams else 0.0}

    def _ids_sha256(self, x: Budget) -> str:
        ids = self.doc_ids.take(pa.array(x.docs))
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(ids)], pa.int32()),
                                                         ids.take(pc.sort_indices(ids))), "\n")[0].as_py()
        return hashlib.sha256(joined.encode()).hexdigest()

    def _write(self, folder: Path, x: Budget) -> list[dict[str, Any]]:
        ids = self.doc_ids.take(pa.array(x.docs)).to_pylist()
        rows = ((i, self.texts.store.tokens(int(t))[:int(n)]) for i, t, n in zip(ids, x.texts, x.take))
        shards = write_shards(folder, rows, self.cfg.tokens_per_shard, self.dtype)
        return [dict(s, path=str(Path(s["path"]).relative_to(self.out))) for s in shards]

    def _write_fates(self) -> None:
        """Which stage dropped each document of the budgets (the rest were kept by all)."""
        if not self.fates.any:
            return
        used = np.zeros(self.texts.n_docs, bool)
        for _, per, _, _ in self.sets:
            for x in per.values():
                used[x.docs] = True
        docs = np.flatnonzero(used & (self.fate >= 0))
        ids = self.doc_ids.take(pa.array(docs))
        o = pc.sort_indices(ids).to_numpy()
        path = self.out / "fates.parquet"
        with atomic.atomic_path(path) as tmp:
            pq.write_table(pa.table({"id": ids.take(pa.array(o)),
                                     "stage": pa.array([self.fates.names[f] for f in self.fate[docs[o]]],
                                                       pa.string())}), tmp)
        self.manifest.fates("fates.parquet", sha256_file(path))


def _cut(order: Budget, n: int) -> Budget:
    """Documents in order until exactly n tokens, the last one cut short."""
    cum = np.cumsum(order.take)
    if (int(cum[-1]) if len(cum) else 0) < n:
        raise ConfigError(f"shards: {int(cum[-1]) if len(cum) else 0:,} tokens available where {n:,} are needed")
    k = int(np.searchsorted(cum, n)) + 1 if n > 0 else 0
    out = order.subset(slice(0, k))
    out.take = out.take.copy()
    if k:
        out.take[-1] -= int(cum[k - 1]) - n
    return out


def _validation(label: np.ndarray, clean_text: np.ndarray, length: np.ndarray, keys: np.ndarray,
                cfg: ShardsConfig) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Whole groups of documents in a seeded order (of their first document's shuffle key) until
    the target; returns the validation's document numbers (in the cleanest variant), a flag per
    document held out of training, and what the split did."""
    n = len(label)
    groups, inverse = np.unique(label, return_inverse=True)
    members = np.bincount(inverse, minlength=len(groups))
    in_clean = clean_text >= 0
    size = np.bincount(inverse, weights=np.where(in_clean, length[np.maximum(clean_text, 0)], 0),
                       minlength=len(groups)).astype(np.int64)
    has_clean = np.bincount(inverse, weights=in_clean, minlength=len(groups)) > 0
    target = parse_tokens(cfg.validation_tokens)
    largest = max(1, target // 5)  # a group of several documents larger than this stays in training
    drawn, got, skipped = [], 0, 0
    for g in np.argsort(keys[groups], kind="stable"):
        if got >= target:
            break
        if not has_clean[g] or (size[g] > largest and members[g] > 1):
            skipped += bool(has_clean[g])
            continue
        drawn.append(g)
        got += int(size[g])
    rank = np.full(len(groups), -1, np.int64)
    rank[drawn] = np.arange(len(drawn))
    held = rank[inverse] >= 0
    val = np.flatnonzero(held & in_clean)  # group by group in the drawn order, each in the seeded shuffle
    val = val[np.lexsort((keys[val], rank[inverse[val]]))]
    info = {"groups": len(groups), "largest_group_docs": int(members.max()) if n else 0,
            "groups_too_large_for_validation": skipped, "group_max_df": cfg.group_max_df,
            "docs_held_out": int(held.sum()), "docs_held_out_beyond_validation": int(held.sum()) - len(val)}
    return val, held, info
