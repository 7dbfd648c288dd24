"""Exact and MinHash-LSH near-duplicate removal: deterministic, parallel, memory bounded.

Prepare pass (the runner calls it once, over all parts):
1. signatures, per part in a process pool: normalise, word 5-gram shingles hashed with numpy
   (each distinct word is hashed once, shingles are combined arithmetically: no Python loop per
   shingle), then datasketch's default ("affine32") permutations applied as datasketch applies
   them (MurmurHash3 finaliser, then `a*h + b` mod 2^32), the minimum taken per document with
   `np.minimum.reduceat`; band keys (b bands of r rows) and an
   exact hash of the normalised text are written to Parquet, partitioned by key hash into buckets;
2. grouping, per bucket: rows sorted by (band, key, input order); every group of equal keys gives
   candidate edges from its earliest member to the others — this is the shuffle a cluster engine
   would do, and one bucket at a time is what bounds memory (`memory_mb` sets the bucket count);
3. verification (optional): candidate pairs below `jaccard_threshold` by true shingle Jaccard are
   discarded; exact-hash edges need none;
4. union-find over the edges; every cluster keeps its member earliest in input order. The result
   (id -> kept id, reason) is saved, and each part is then filtered against it.
Input order, not worker count or batch size, decides every choice, so removals are identical
across runs.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import atomic
from pipeline.document import Document, Drop
from pipeline.io import read_part
from pipeline.stage import ConfigError, Stage, StageStats
from pipeline.text import hash64, mix64, ngram_hashes, normalize

MAX_HASH = np.uint32((1 << 32) - 1)
PRESETS = {"fineweb": (14, 8), "t80": (10, 11)}  # (bands, rows): threshold ~0.72 and ~0.81


@dataclass(frozen=True)
class Config:
    exact: bool = field(default=True, metadata={"help": "remove exact duplicates of the normalised text"})
    minhash: bool = field(default=True, metadata={"help": "remove near duplicates with MinHash LSH"})
    lowercase: bool = True
    punctuation: bool = field(default=True, metadata={"help": "normalisation: remove punctuation"})
    digits: bool = field(default=False, metadata={"help": "normalisation: map digits to 0"})
    nfkc: bool = field(default=True, metadata={"help": "normalisation: Unicode NFKC"})
    ngram: int = field(default=5, metadata={"help": "words per shingle"})
    preset: str = field(default="", metadata={"help": f"bands x rows preset: {', '.join(f'{k}={v[0]}x{v[1]}' for k, v in PRESETS.items())}; empty = bands/rows"})
    bands: int = field(default=14, metadata={"help": "LSH bands (FineWeb: 14)"})
    rows: int = field(default=8, metadata={"help": "rows per band (FineWeb: 8); num_perm = bands x rows"})
    seed: int = field(default=1, metadata={"help": "datasketch permutation seed"})
    verify: bool = field(default=True, metadata={"help": "check candidate pairs by true Jaccard"})
    jaccard_threshold: float = field(default=0.7, metadata={"help": "verified pairs below this are not duplicates"})
    memory_mb: float = field(default=512.0, metadata={"help": "memory for one bucket of band keys (sets the bucket count)"})
    examples: int = field(default=5, metadata={"help": "example pairs in the report"})

    def __post_init__(self) -> None:
        if self.preset and self.preset not in PRESETS:
            raise ConfigError(f"dedup.preset = {self.preset!r}; available: {', '.join(PRESETS)}")
        if self.bands < 1 or self.rows < 1 or self.ngram < 1 or self.memory_mb <= 0:
            raise ConfigError("dedup.bands, rows and ngram must be >= 1 and memory_mb > 0")
        if not 0.0 <= self.jaccard_threshold <= 1.0:
            raise ConfigError(f"dedup.jaccard_threshold = {self.jaccard_threshold}: must be within [0, 1]")

    @property
    def shape(self) -> tuple[int, int]:
        return PRESETS[self.preset] if self.preset else (self.bands, self.rows)


def s_curve(bands: int, rows: int, steps: int = 20) -> list[tuple[float, float]]:
    """P(two documents become candidates | Jaccard J) = 1 - (1 - J^r)^b."""
    return [(j / steps, 1 - (1 - (j / steps) ** rows) ** bands) for j in range(steps + 1)]


def explain(cfg: Config) -> str:
    b, r = cfg.shape
    lines = [f"MinHash LSH: {b} bands x {r} rows = {b * r} permutations, word {cfg.ngram}-gram shingles; "
             f"threshold (1/b)^(1/r) ~ {(1 / b) ** (1 / r):.3f}"
             + (f"; candidates verified at Jaccard >= {cfg.jaccard_threshold}" if cfg.verify else ""),
             "Jaccard  P(candidate)"]
    lines += [f"{j:7.2f}  {p:8.4f}  {'#' * round(p * 40)}" for j, p in s_curve(b, r)]
    return "\n".join(lines)


# --- hashing ------------------------------------------------------------------------------------
class Shingler:
    """Shingle hashes (32-bit) of normalised texts; each distinct word is hashed once."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.cache: dict[str, int] = {}

    def normal(self, text: str) -> str:
        c = self.cfg
        return normalize(text, lowercase=c.lowercase, punctuation=c.punctuation, digits=c.digits, nfkc=c.nfkc)

    def hashes(self, words: list[str]) -> np.ndarray:
        """32-bit shingle hashes (uint32) of a list of words."""
        h = ngram_hashes(words, self.cfg.ngram, self.cache)
        return (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser: datasketch's pre-mix for its affine32 scheme."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(hash_lists: list[np.ndarray], a: np.ndarray, b: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """MinHash signatures (docs x num_perm, uint32) equal to datasketch's, in batches."""
    num_perm = len(a)
    sig = np.full((len(hash_lists), num_perm), MAX_HASH, dtype=np.uint32)
    lens = np.array([len(h) for h in hash_lists])
    nonempty = np.flatnonzero(lens)
    if not len(nonempty):
        return sig
    allh = np.concatenate([hash_lists[i] for i in nonempty])
    starts = np.concatenate([[0], np.cumsum(lens[nonempty])[:-1]])
    # process shingles in chunks aligned to document boundaries to bound memory
    doc_pos = 0
    while doc_pos < len(nonempty):
        end = doc_pos
        total = 0
        while end < len(nonempty) and (total == 0 or total + lens[nonempty[end]] <= chunk):
            total += lens[nonempty[end]]
            end += 1
        lo = starts[doc_pos]
        hv = fmix32(allh[lo:lo + total])
        phv = hv[:, None] * a[None, :] + b[None, :]  # uint32: wraps mod 2^32, as datasketch
        offs = starts[doc_pos:end] - lo
        sig[nonempty[doc_pos:end]] = np.minimum.reduceat(phv, offs, axis=0)
        doc_pos = end
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (document, band): the band's rows folded together."""
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    first = np.arange(bands) * rows  # band i holds permutations i*rows .. i*rows+rows-1, as datasketch's LSH
    for r in range(rows):
        keys = mix64(keys ^ sig[:, first + r].astype(np.uint64))
    return keys


def similar_pairs(texts: list[str], reference: list[str] | None = None,
                  threshold: float = 0.5) -> list[tuple[int, int]]:
    """Pairs (i, j) whose word 5-gram Jaccard is >= threshold: texts[i] against reference[j], or,
    without a reference, against an earlier text (j < i). LSH with 16 bands x 4 rows (threshold
    ~0.5), then the true Jaccard of every candidate. For small sets (the default corpus builder,
    the shards' validation hold-out), in memory."""
    sh = Shingler(Config())
    a_, b_ = _permutations(64, 1)

    def sets_and_keys(ts: list[str]):
        hs = [sh.hashes(sh.normal(t).split()) for t in ts]
        return [set(h.tolist()) for h in hs], band_keys(signatures(hs, a_, b_), 16, 4).tolist()

    sets, keys = sets_and_keys(texts)
    ref_sets, ref_keys = sets_and_keys(reference) if reference is not None else (sets, keys)
    index: dict[tuple[int, int], list[int]] = {}
    if reference is not None:
        for j, row in enumerate(ref_keys):
            for band, key in enumerate(row):
                index.setdefault((band, key), []).append(j)
    pairs = []
    for i, row in enumerate(keys):
        cands = sorted({j for band, key in enumerate(row) for j in index.get((band, key), ())})
        for j in cands:
            union = sets[i] | ref_sets[j]
            if union and len(sets[i] & ref_sets[j]) / len(union) >= threshold:
                pairs.append((i, j))
        if reference is None:  # later texts are compared with this one
            for band, key in enumerate(row):
                index.setdefault((band, key), []).append(i)
    return pairs


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


# --- the prepare pass ---------------------------------------------------------------------------
BAND_SCHEMA = pa.schema([("band", pa.int16()), ("key", pa.uint64()), ("order", pa.int64())])


def _sign_part(task: tuple[Config, str, str, int, int]) -> int:
    """Signatures of one part -> bucketed band keys and per-doc records. Returns its doc count."""
    cfg, part, state, offset, buckets = task
    state_dir = Path(state)
    name = Path(part).stem
    docs = read_part(part)
    sh = Shingler(cfg)
    normals = [sh.normal(d.text) for d in docs]
    order = np.arange(offset, offset + len(docs), dtype=np.int64)
    exact = np.array([hash64(t) for t in normals], dtype=np.uint64)
    tables: list[pa.Table] = []
    if cfg.exact:
        tables.append(pa.table({"band": pa.array(np.full(len(docs), -1, np.int16)), "key": exact,
                                "order": order}, schema=BAND_SCHEMA))
    if cfg.minhash:
        b, r = cfg.shape
        a_, b_ = _permutations(b * r, cfg.seed)
        sig = signatures([sh.hashes(t.split()) for t in normals], a_, b_)
        keys = band_keys(sig, b, r)
        has = np.array([bool(t) for t in normals])
        keys, ords = keys[has], order[has]
        tables.append(pa.table({"band": pa.array(np.repeat(np.arange(b, dtype=np.int16)[None, :], len(ords), 0).ravel()),
                                "key": keys.ravel(), "order": np.repeat(ords, b)}, schema=BAND_SCHEMA))
    table = pa.concat_tables(tables) if tables else BAND_SCHEMA.empty_table()
    bucket_ids = (table["key"].to_numpy() % np.uint64(buckets)).astype(np.int64)
    for k in range(buckets):
        sel = np.flatnonzero(bucket_ids == k)
        atomic.write_parquet(state_dir / "bands" / f"bucket-{k:04d}" / f"{name}.parquet", table.take(sel))
    atomic.write_parquet(state_dir / "docs" / f"{name}.parquet", pa.table({
        "order": order, "id": [d.id for d in docs], "exact": exact,
        "bytes": np.array([d.nbytes for d in docs], dtype=np.int64)}))
    return len(docs)


def _group_bucket(task: tuple[str, int]) -> str:
    """Candidate edges of one bucket: earliest member of each equal-key group -> the others."""
    state, k = task
    folder = Path(state) / "bands" / f"bucket-{k:04d}"
    files = sorted(folder.glob("*.parquet"))
    out = Path(state) / "edges" / f"bucket-{k:04d}.parquet"
    t = pa.concat_tables([pq.read_table(f, schema=BAND_SCHEMA) for f in files]) if files else BAND_SCHEMA.empty_table()
    band, key, order = (t[c].to_numpy() for c in ("band", "key", "order"))
    idx = np.lexsort((order, key, band))
    band, key, order = band[idx], key[idx], order[idx]
    same = np.zeros(len(idx), dtype=bool)
    if len(idx) > 1:
        same[1:] = (band[1:] == band[:-1]) & (key[1:] == key[:-1])
    group_start = np.maximum.accumulate(np.where(~same, np.arange(len(idx)), 0)) if len(idx) else np.zeros(0, np.int64)
    src, dst, kind = order[group_start[same]], order[same], band[same] < 0
    atomic.write_parquet(out, pa.table({"src": src, "dst": dst, "exact": kind}))
    return str(out)


class UnionFind:
    """Union-find over input positions; the root of a set is always its smallest (earliest) member."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        p = self.parent
        root = x
        while p.get(root, root) != root:
            root = p[root]
        while p.get(x, x) != root:
            p[x], x = root, p[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo


class DedupStage(Stage):
    """Exact (normalised-text hash) and MinHash LSH near-duplicate removal; keeps the earliest."""

    name = "dedup"
    Config = Config
    needs_prepare = True
    ground_truth_kinds = ("exact_dup", "near_dup")
    ground_truth_pairs = True

    def prepare(self, parts: list[Path], executor: Any) -> StageStats:
        cfg: Config = self.config
        state = self.state_dir
        assert state is not None
        counts = [pq.read_metadata(p).num_rows for p in parts]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist() if parts else []
        b, _ = cfg.shape
        rows = sum(counts) * ((b if cfg.minhash else 0) + (1 if cfg.exact else 0))
        buckets = max(1, math.ceil(rows * 40 / (cfg.memory_mb * 1e6)))  # ~40 B a row while sorting
        list(executor.map_unordered(_sign_part, [(cfg, str(p), str(state), o, buckets)
                                                 for p, o in zip(parts, offsets)]))
        edge_files = sorted(executor.map_unordered(_group_bucket, [(str(state), k) for k in range(buckets)]))
        removals, report = self._cluster(edge_files, [state / "docs" / f"{p.stem}.parquet" for p in parts], parts)
        atomic.write_parquet(state / "removals.parquet", removals)
        atomic.write_json(state / "report.json", report)
        stats = StageStats()
        stats.counters.update({"buckets": buckets, "candidate_edges": report["candidate_edges"]})
        return stats

    def _cluster(self, edge_files: list[str], doc_files: list[Path], parts: list[Path]) -> tuple[pa.Table, dict]:
        """Union-find over the candidate edges. Memory follows the number of edges: only the
        documents that appear in an edge are looked up (file by file) for id, hash and size."""
        cfg: Config = self.config
        empty = pa.table({"id": pa.array([], pa.string()), "kept_id": pa.array([], pa.string()),
                          "reason": pa.array([], pa.string())})
        edges = pa.concat_tables([pq.read_table(f) for f in edge_files]) if edge_files else None
        if edges is None or edges.num_rows == 0:
            return empty, {"candidate_edges": 0, "verified_edges": 0, "clusters": 0}
        src, dst, exact = (edges[c].to_numpy(zero_copy_only=False) for c in ("src", "dst", "exact"))
        involved = pa.array(np.unique(np.concatenate([src, dst])))
        ids: dict[int, str] = {}
        exact_hash: dict[int, int] = {}
        nbytes: dict[int, int] = {}
        for f in doc_files:
            t = pq.read_table(f)
            t = t.filter(pc.is_in(t["order"], value_set=involved))
            for o, i, h, b in zip(*(t[c].to_pylist() for c in ("order", "id", "exact", "bytes"))):
                ids[o], exact_hash[o], nbytes[o] = i, h, b
        # dedupe edges and verify near-duplicate candidates by true Jaccard
        pairs = sorted(set(zip(src.tolist(), dst.tolist(), exact.tolist())))
        verified: list[tuple[int, int, float | None]] = []
        need = sorted({x for s, d, e in pairs if not e and exact_hash[s] != exact_hash[d] for x in (s, d)})
        shingles = self._shingle_sets(need, parts) if (cfg.verify and cfg.minhash) else {}
        jac: dict[tuple[int, int], float] = {}
        for s, d, e in pairs:
            if e or exact_hash[s] == exact_hash[d]:
                verified.append((s, d, 1.0))
                continue
            if cfg.verify:
                a, b = shingles[s], shingles[d]
                j = len(a & b) / len(a | b) if a | b else 1.0
                jac[(s, d)] = j
                if j < cfg.jaccard_threshold:
                    continue
                verified.append((s, d, j))
            else:
                verified.append((s, d, None))
        uf = UnionFind()
        for s, d, _ in verified:
            uf.union(s, d)
        members = sorted(uf.parent)  # every non-root member of a cluster
        rows = {"id": [], "kept_id": [], "reason": []}
        sizes: Counter = Counter()
        for m in members:
            root = uf.find(m)
            rows["id"].append(ids[m])
            rows["kept_id"].append(ids[root])
            rows["reason"].append("exact" if exact_hash[m] == exact_hash[root] else "minhash")
        for m in members:
            sizes[uf.find(m)] += 1
        hist = Counter(n + 1 for n in sizes.values())
        examples = [{"kept": ids[s], "removed": ids[d], "jaccard": round(j, 4)}
                    for s, d, j in verified if j is not None and j < 1.0][:cfg.examples]
        b, r = cfg.shape
        report = {
            "candidate_edges": len(pairs),
            "verified_edges": len(verified),
            "rejected_by_verification": len(pairs) - len(verified),
            "clusters": len(sizes),
            "cluster_size_histogram": {str(k): v for k, v in sorted(hist.items())},
            "docs_removed": {"exact": rows["reason"].count("exact"), "minhash": rows["reason"].count("minhash")},
            "bytes_removed": int(sum(nbytes[m] for m in members)),
            "example_pairs": examples,
            "bands": b, "rows": r, "ngram": cfg.ngram,
            "threshold": round((1 / b) ** (1 / r), 4),
            "s_curve": [[j, round(p, 4)] for j, p in s_curve(b, r, 10)],
        }
        return pa.table(rows, schema=empty.schema), report

    def _shingle_sets(self, positions: list[int], parts: list[Path]) -> dict[int, set[int]]:
        """Shingle hash sets of the documents at these input positions (read part by part)."""
        want = set(positions)
        out: dict[int, set[int]] = {}
        sh = Shingler(self.config)
        offset = 0
        for p in parts:
            n = pq.read_metadata(p).num_rows
            local = [x - offset for x in positions if offset <= x < offset + n]
            if local:
                texts = pq.read_table(p, columns=["text"])["text"]
                for i in local:
                    out[offset + i] = set(sh.hashes(sh.normal(texts[i].as_py()).split()).tolist())
            offset += n
        assert want <= set(out)
        return out

    def explain(self) -> str:
        return explain(self.config)

    def load_state(self) -> None:
        t = pq.read_table(self.state_dir / "removals.parquet")
        self.removals = dict(zip(t["id"].to_pylist(), zip(t["kept_id"].to_pylist(), t["reason"].to_pylist())))

    def process(self, doc: Document) -> Document | Drop:
        hit = self.removals.get(doc.id)
        if hit is None:
            return doc
        kept, reason = hit
        return Drop(reason, kept)  # the id of the kept document

    def summarize(self, stage_dir: Path) -> dict:
        path = stage_dir / "_state" / "report.json"
        return {"dedup": json.loads(path.read_text())} if path.exists() else {}
