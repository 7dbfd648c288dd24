"""Exact and MinHash-LSH near-duplicate removal: deterministic, parallel, memory bounded.

The prepare pass (the runner calls it once, over all parts) is a chain of steps that each write
their result to disk, so no step holds more than one part, one bucket or one chunk:

1. sign (per part, process pool): normalise, word n-gram shingles, MinHash signatures with
   numpy (`minhash.py`), b band keys per document plus one exact hash of the normalised text;
   rows (band, key, input order) are written partitioned by key hash into `buckets`;
2. group (per bucket, pool): rows sorted by (band, key, order); each group of equal keys gives
   candidate edges from its earliest member to the others — the shuffle a cluster engine would
   do. Edges are re-partitioned by a hash of the pair, so each pair is seen by one task only;
3. verify (per edge partition, pool): pairs deduplicated; near-duplicate candidates below
   `jaccard_threshold` by true Jaccard of their shingle sets are discarded, in chunks whose size
   follows `memory_mb`;
4. components (main process, vectorised): min-label propagation with pointer jumping over the
   verified edges, streamed from disk; each document's label ends as the earliest member of its
   cluster — the one that is kept. Labels and cluster sizes: 16 bytes per document;
5. resolve (per part, pool): for each removed document, the kept document's id and whether the
   two are exact copies, written per part, so a filtering worker loads only its own part's list.

`memory_mb` sets the bucket count and the chunk sizes; part-wise work is bounded by
`run.part_docs`. Input order, not worker count, part size or bucket count, decides every choice,
so removals are identical across runs (tested).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import atomic
from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.stage import Stage, StageStats
from pipeline.stages.minhash import (
    Shingler,
    band_keys,
    distinct_sorted,
    lsh_explain,
    pair_jaccard,
    permutations,
    s_curve,
    signatures,
)
from pipeline.text import hash64_array, mix64

PRESETS = {"fineweb": (14, 8), "t80": (10, 11)}  # (bands, rows): threshold ~0.72 and ~0.81
BASELINE_MB = 192    # RSS of a worker before it holds data: forked from the CLI with every stage's libraries
                     # loaded, and after earlier tasks (what the allocator keeps): measured 140-180 MB
ROW_BYTES = 96       # one band-key row while its bucket is sorted (arrays, sort order, copies)
SHINGLE_BYTES = 16   # one shingle of one side of a candidate pair while it is verified (read, taken, joined)
DOC_BYTES = 16       # one input document in the components step (label, cluster-size count)
WORD_BYTES = 160     # one word in a worker's word-hash cache (the string, its hash, the dict's slot)


@dataclass(frozen=True)
class Config:
    exact: bool = field(default=True, metadata={"help": "remove exact duplicates of the normalised text"})
    minhash: bool = field(default=True, metadata={"help": "remove near duplicates with MinHash LSH"})
    lowercase: bool = field(default=True, metadata={"help": "normalisation: lowercase"})
    punctuation: bool = field(default=True, metadata={"help": "normalisation: remove punctuation"})
    digits: bool = field(default=False, metadata={"help": "normalisation: map digits to 0"})
    nfkc: bool = field(default=True, metadata={"help": "normalisation: Unicode NFKC"})
    whitespace: bool = field(default=True, metadata={"help": "normalisation: collapse runs of whitespace (exact hash; "
                                                             "shingles split on whitespace anyway)"})
    ngram: int = field(default=5, metadata={"help": "words per shingle"})
    preset: str = field(default="", metadata={"help": "bands x rows preset: " + ", ".join(
        f"{k}={v[0]}x{v[1]}" for k, v in PRESETS.items()) + "; empty = bands/rows"})
    bands: int = field(default=14, metadata={"help": "LSH bands (FineWeb: 14)"})
    rows: int = field(default=8, metadata={"help": "rows per band (FineWeb: 8); num_perm = bands x rows"})
    seed: int = field(default=1, metadata={"help": "datasketch permutation seed"})
    verify: bool = field(default=True, metadata={"help": "check candidate pairs by true Jaccard"})
    jaccard_threshold: float = field(default=0.7, metadata={"help": "verified pairs below this are not duplicates"})
    memory_mb: float = field(default=512.0, metadata={
        "help": f"peak memory (RSS) per process the stage plans for; {BASELINE_MB} MB of it are set aside "
                "for the interpreter and libraries, the rest sets the bucket count and the batch and "
                "chunk sizes. The filtering pass reads whole parts: also keep run.part_docs modest"})
    buckets: int = field(default=0, metadata={"help": "shuffle buckets; 0 = as many as memory_mb needs"})
    examples: int = field(default=5, metadata={"help": "example pairs in the report"})

    def __post_init__(self) -> None:
        if self.preset and self.preset not in PRESETS:
            raise ConfigError(f"dedup.preset = {self.preset!r}; available: {', '.join(PRESETS)}")
        if self.bands < 1 or self.rows < 1 or self.ngram < 1 or self.buckets < 0:
            raise ConfigError("dedup.bands, rows and ngram must be >= 1 and buckets >= 0")
        if self.memory_mb < BASELINE_MB + 32:
            raise ConfigError(f"dedup.memory_mb = {self.memory_mb}: a process needs about {BASELINE_MB} MB "
                              f"for the interpreter and libraries; set at least {BASELINE_MB + 32}")
        if not 0.0 <= self.jaccard_threshold <= 1.0:
            raise ConfigError(f"dedup.jaccard_threshold = {self.jaccard_threshold}: must be within [0, 1]")

    @property
    def data_bytes(self) -> float:
        """The share of memory_mb left for data."""
        return (self.memory_mb - BASELINE_MB) * 1e6

    @property
    def shape(self) -> tuple[int, int]:
        return PRESETS[self.preset] if self.preset else (self.bands, self.rows)


def shingler(cfg: Config) -> Shingler:
    return Shingler(cfg.ngram, lowercase=cfg.lowercase, punctuation=cfg.punctuation,
                    digits=cfg.digits, nfkc=cfg.nfkc, whitespace=cfg.whitespace)


_PROCESS_SHINGLER: dict[Config, Shingler] = {}


def process_shingler(cfg: Config) -> Shingler:
    """One Shingler per worker process: its word-hash cache outlives a part, so a word is hashed
    once per process, not once per part (100,000 documents, one worker: 1.0 M word hashes, 1.6 s,
    before). The cache is cleared when it holds more words than a quarter of the data budget."""
    sh = _PROCESS_SHINGLER.get(cfg)
    if sh is None:
        _PROCESS_SHINGLER.clear()
        sh = _PROCESS_SHINGLER[cfg] = shingler(cfg)
    if (len(sh.cache) + len(sh.table)) * WORD_BYTES > cfg.data_bytes / 4:
        sh.cache.clear()
        sh.table.clear()
    return sh


# --- 1. sign ------------------------------------------------------------------------------------
BAND_SCHEMA = pa.schema([("band", pa.int16()), ("key", pa.uint64()), ("order", pa.int64())])
EDGE_SCHEMA = pa.schema([("src", pa.int64()), ("dst", pa.int64()), ("exact", pa.bool_())])


def _sign_part(task: tuple[Config, str, str, int, int]) -> None:
    """Band keys and exact hashes of one part, bucketed; per-document records (id, exact hash,
    size and, for verification, the sorted distinct shingles). The part is read in batches
    sized from the data budget, so a long part does not raise the peak."""
    cfg, part, state, offset, buckets = task
    state_dir = Path(state)
    name = Path(part).stem
    data = cfg.data_bytes
    pf = pq.ParquetFile(part)
    text_col = pf.schema_arrow.get_field_index("text")
    text_bytes = sum(pf.metadata.row_group(g).column(text_col).total_uncompressed_size
                     for g in range(pf.metadata.num_row_groups))
    per_doc = 24 * text_bytes / max(1, pf.metadata.num_rows) + 2000  # texts, words, hashes, sets
    batch_docs = max(16, int(data / 8 / per_doc))
    sh = process_shingler(cfg)
    b, r = cfg.shape
    a_, b_ = permutations(b * r, cfg.seed)
    bands: list[pa.Table] = []
    with atomic.atomic_path(state_dir / "docs" / f"{name}.parquet") as tmp:
        writer = None
        batches = pf.iter_batches(batch_size=batch_docs, columns=["id", "text"])
        if pf.metadata.num_rows == 0:  # every document dropped before: its (empty) records all the same
            batches = iter([pa.record_batch([pa.array([], pa.string())] * 2, names=["id", "text"])])
        for rb in batches:
            normals = sh.normal_array(rb.column(1))
            order = np.arange(offset, offset + len(normals), dtype=np.int64)
            offset += len(normals)
            exact = hash64_array(normals)
            if cfg.exact:
                bands.append(pa.table({"band": pa.array(np.full(len(order), -1, np.int16)), "key": exact,
                                       "order": order}, schema=BAND_SCHEMA))
            columns: dict[str, Any] = {"order": order, "id": rb.column(0), "exact": exact,
                                       "bytes": pc.binary_length(rb.column(1)).cast(pa.int64())}
            if cfg.minhash:
                values, offsets = sh.batch(normals)
                keys = band_keys(signatures(values, offsets, a_, b_), b, r)
                has = np.diff(offsets) > 0
                keys, ords = keys[has], order[has]
                bands.append(pa.table({"band": pa.array(np.tile(np.arange(b, dtype=np.int16), len(ords))),
                                       "key": keys.ravel(), "order": np.repeat(ords, b)}, schema=BAND_SCHEMA))
                if cfg.verify:
                    distinct, starts = distinct_sorted(values, offsets)
                    columns["shingles"] = pa.ListArray.from_arrays(pa.array(starts.astype(np.int32)),
                                                                   pa.array(distinct))
                    columns["n_shingles"] = np.diff(starts)
            table = pa.table(columns)
            if writer is None:  # shingle hashes do not compress: zstd only slowed verification's reads
                codecs = {c: "none" if c == "shingles" else "zstd" for c in table.column_names}
                writer = pq.ParquetWriter(tmp, table.schema, **{**atomic.PARQUET_OPTIONS, "compression": codecs})
            writer.write_table(table)
        writer.close()
    table = pa.concat_tables(bands) if bands else BAND_SCHEMA.empty_table()
    bucket_ids = (table["key"].to_numpy() % np.uint64(buckets)).astype(np.int64)
    for k in np.unique(bucket_ids):
        atomic.write_parquet(state_dir / "bands" / f"bucket-{k:05d}" / f"{name}.parquet",
                             table.take(np.flatnonzero(bucket_ids == k)))


# --- 2. group -----------------------------------------------------------------------------------
def _first_of_groups(*cols: np.ndarray) -> np.ndarray:
    """Mask of the first row of each run of equal values (rows already sorted by these columns)."""
    first = np.ones(len(cols[0]), dtype=bool)
    if len(first) > 1:
        first[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in cols])
    return first


def _group_bucket(task: tuple[str, int, int]) -> None:
    """Candidate edges of one bucket (earliest member of each equal-key group -> the others),
    written into edge partitions by a hash of the pair."""
    state, k, partitions = task
    files = sorted((Path(state) / "bands" / f"bucket-{k:05d}").glob("*.parquet"))
    if not files:
        return
    t = pa.concat_tables([pq.ParquetFile(f).read() for f in files])
    band, key, order = (t[c].to_numpy() for c in ("band", "key", "order"))
    del t
    idx = np.lexsort((order, key, band))
    band, key, order = band[idx], key[idx], order[idx]
    del idx
    first = _first_of_groups(band, key)
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
    src, dst, exact = order[group_start[~first]], order[~first], band[~first] < 0
    del band, key, order, first, group_start
    part = (mix64(src.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ dst.astype(np.uint64))
            % np.uint64(partitions)).astype(np.int64)
    for j in np.unique(part):
        sel = np.flatnonzero(part == j)
        atomic.write_parquet(Path(state) / "edges" / f"part-{j:05d}" / f"bucket-{k:05d}.parquet",
                             pa.table({"src": src[sel], "dst": dst[sel], "exact": exact[sel]}, schema=EDGE_SCHEMA))


# --- 3. verify ----------------------------------------------------------------------------------
class DocLookup:
    """Columns of documents by input order, read from the per-part records of step 1: only the
    parts that hold a wanted document are read, one at a time."""

    def __init__(self, state: Path, names: list[str], starts: list[int]):
        self.state, self.names, self.starts = state, names, np.array(starts, dtype=np.int64)

    def get(self, orders: np.ndarray, columns: list[str]) -> pa.Table:
        """Rows for `orders` (sorted, distinct), in that order."""
        where = np.searchsorted(self.starts, orders, side="right") - 1
        pieces = []
        for p in np.unique(where):
            t = pq.ParquetFile(self.state / "docs" / f"{self.names[p]}.parquet").read(columns=columns)
            pieces.append(t.take(orders[where == p] - self.starts[p]))
        return pa.concat_tables(pieces) if pieces else pa.table({c: [] for c in columns})


def _verify_partition(task: tuple[Config, str, int, list[str], list[int]]) -> dict[str, Any]:
    """Distinct candidate pairs of one edge partition, verified by true Jaccard in chunks."""
    cfg, state, j, names, starts = task
    folder = Path(state) / "edges" / f"part-{j:05d}"
    files = sorted(folder.glob("*.parquet"))
    out = Path(state) / "verified" / f"part-{j:05d}.parquet"
    t = pa.concat_tables([pq.ParquetFile(f).read() for f in files]) if files else EDGE_SCHEMA.empty_table()
    src, dst, exact = (t[c].to_numpy(zero_copy_only=False) for c in ("src", "dst", "exact"))
    del t
    idx = np.lexsort((~exact, dst, src))  # per pair, an exact edge (if any) sorts first
    src, dst, exact = src[idx], dst[idx], exact[idx]
    first = _first_of_groups(src, dst)
    src, dst, exact = src[first], dst[first], exact[first]
    jac = np.where(exact, 1.0, np.nan)
    if cfg.verify:
        lookup = DocLookup(Path(state), names, starts)
        near = np.flatnonzero(~exact)
        docs = np.unique(np.concatenate([src[near], dst[near]]))
        n = lookup.get(docs, ["n_shingles"])["n_shingles"].to_numpy()
        cost = np.cumsum(n[np.searchsorted(docs, src[near])] + n[np.searchsorted(docs, dst[near])])
        cap = max(1, int(cfg.data_bytes / SHINGLE_BYTES))
        lo = 0
        while lo < len(near):
            hi = max(lo + 1, int(np.searchsorted(cost, (cost[lo - 1] if lo else 0) + cap, side="right")))
            e = near[lo:hi]
            need = np.unique(np.concatenate([src[e], dst[e]]))
            lists = lookup.get(need, ["shingles"])["shingles"].combine_chunks()
            jac[e] = pair_jaccard(lists.offsets.to_numpy(), lists.values.to_numpy(),
                                  np.searchsorted(need, src[e]), np.searchsorted(need, dst[e]))
            lo = hi
    keep = ~(jac < cfg.jaccard_threshold)  # NaN (unverified) is kept
    atomic.write_parquet(out, pa.table({"src": src[keep], "dst": dst[keep], "jaccard": jac[keep]}))
    ex = np.flatnonzero(keep & (jac < 1.0))[:cfg.examples]
    return {"candidates": len(src), "verified": int(keep.sum()),
            "examples": [(int(src[i]), int(dst[i]), float(jac[i])) for i in ex]}


# --- 4. components ------------------------------------------------------------------------------
def components(edge_files: list[Path], n: int, batch: int = 1 << 20) -> np.ndarray:
    """Label of every document = smallest input position in its connected component.

    Min-label propagation with pointer jumping, streaming the edges from disk in batches: each
    pass hooks, for every edge, the larger of its two current labels onto the smaller, then
    compresses label chains (once per pass: it costs O(documents)); it stops after a pass in
    which every edge already joined equal labels. Labels only decrease and always name a member
    of the same component, so the final label of a component is its earliest member."""
    labels = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    while True:
        joined = True
        for f in edge_files:
            for rb in pq.ParquetFile(f).iter_batches(batch_size=batch, columns=["src", "dst"]):
                ls, ld = labels[rb.column(0).to_numpy()], labels[rb.column(1).to_numpy()]
                if joined and np.any(ls != ld):
                    joined = False
                low = np.minimum(ls, ld)
                np.minimum.at(labels, ls, low)
                np.minimum.at(labels, ld, low)
        if joined:  # nothing was hooked in this pass: labels are as compressed after the last one
            return labels
        while True:  # pointer jumping until every label is a root
            up = labels[labels]
            if np.array_equal(up, labels):
                break
            labels = up


# --- 5. resolve ---------------------------------------------------------------------------------
def _resolve_part(task: tuple[str, int, list[str], list[int]]) -> dict[str, int]:
    """The removed documents of part p: their kept document's id and the reason."""
    state, p, names, starts = task
    state_dir = Path(state)
    lo = starts[p]
    labels = np.load(state_dir / "labels.npy", mmap_mode="r")
    own = pq.ParquetFile(state_dir / "docs" / f"{names[p]}.parquet").read(columns=["id", "exact", "bytes"])
    seg = np.asarray(labels[lo:lo + own.num_rows])
    members = np.flatnonzero(seg != np.arange(lo, lo + own.num_rows))
    roots = seg[members].astype(np.int64)
    distinct = np.unique(roots)
    kept = DocLookup(state_dir, names, starts).get(distinct, ["id", "exact"])
    at = np.searchsorted(distinct, roots)
    kept_id = kept["id"].take(at)
    same = own["exact"].to_numpy()[members] == kept["exact"].to_numpy()[at]
    reason = np.where(same, "exact", "minhash")
    atomic.write_parquet(state_dir / "removals" / f"{names[p]}.parquet", pa.table({
        "id": own["id"].take(members), "kept_id": kept_id, "reason": pa.array(reason, pa.string())}))
    return {"exact": int(same.sum()), "minhash": int((~same).sum()),
            "bytes": int(own["bytes"].to_numpy()[members].sum())}


class DedupStage(Stage):
    """Exact (normalised-text hash) and MinHash LSH near-duplicate removal; keeps the earliest."""

    name = "dedup"
    packages = ("datasketch", "numba")
    Config = Config
    needs_prepare = True
    decides_by_id = True
    ground_truth_kinds = ("exact_dup", "near_dup")
    ground_truth_pairs = True

    def prepare(self, parts: list[Path], executor: Any) -> StageStats:
        cfg: Config = self.config
        state = self.state_dir
        assert state is not None
        counts = [pq.read_metadata(p).num_rows for p in parts]
        names = [p.stem for p in parts]
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist()
        n = starts[-1]
        budget = cfg.data_bytes
        if n * DOC_BYTES > budget:
            raise ConfigError(f"dedup.memory_mb = {cfg.memory_mb}: the components step keeps "
                              f"{DOC_BYTES} bytes per document ({n:,} documents); set dedup.memory_mb "
                              f">= {BASELINE_MB + math.ceil(n * DOC_BYTES / 1e6)}")
        b, _ = cfg.shape
        rows = n * ((b if cfg.minhash else 0) + (1 if cfg.exact else 0))
        buckets = cfg.buckets or max(1, math.ceil(rows * ROW_BYTES / budget))
        list(executor.map_unordered(_sign_part, [(cfg, str(p), str(state), o, buckets)
                                                 for p, o in zip(parts, starts)]))
        list(executor.map_unordered(_group_bucket, [(str(state), k, buckets) for k in range(buckets)]))
        checks = list(executor.map_unordered(_verify_partition, [(cfg, str(state), j, names, starts)
                                                                 for j in range(buckets)]))
        labels = components(sorted((state / "verified").glob("*.parquet")), n)
        with atomic.atomic_path(state / "labels.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, labels)
        removed = list(executor.map_unordered(_resolve_part, [(str(state), p, names, starts)
                                                              for p in range(len(parts))]))
        sizes = np.bincount(labels, minlength=n) if n else np.zeros(0, np.int64)
        hist = np.bincount(sizes[sizes > 1])
        examples = sorted(e for c in checks for e in c["examples"])[:cfg.examples]
        wanted = np.unique([x for e in examples for x in e[:2]]).astype(np.int64)
        ex_ids = DocLookup(state, names, starts).get(wanted, ["order", "id"])
        id_of = dict(zip(ex_ids["order"].to_pylist(), ex_ids["id"].to_pylist()))
        candidates = sum(c["candidates"] for c in checks)
        verified = sum(c["verified"] for c in checks)
        report = {
            "candidate_edges": candidates,
            "verified_edges": verified,
            "rejected_by_verification": candidates - verified,
            "clusters": int((sizes > 1).sum()),
            "cluster_size_histogram": {str(k): int(v) for k, v in enumerate(hist) if v},
            "docs_removed": {r: sum(x[r] for x in removed) for r in ("exact", "minhash")},
            "bytes_removed": sum(x["bytes"] for x in removed),
            "example_pairs": [{"kept": id_of[s], "removed": id_of[d], "jaccard": round(j, 4)} for s, d, j in examples],
            "bands": b, "rows": cfg.shape[1], "ngram": cfg.ngram,
            "threshold": round((1 / b) ** (1 / cfg.shape[1]), 4),
            "s_curve": [[j, round(p, 4)] for j, p in s_curve(b, cfg.shape[1], 10)],
            "buckets": buckets, "memory_mb": cfg.memory_mb,
        }
        atomic.write_json(state / "report.json", report)
        stats = StageStats()
        stats.counters.update({"buckets": buckets, "candidate_edges": candidates})
        return stats

    def explain(self) -> str:
        c = self.config
        return lsh_explain(*c.shape, c.ngram, c.jaccard_threshold if c.verify else None)

    def begin_part(self, name: str) -> None:
        self.removals = pq.ParquetFile(self.state_dir / "removals" / f"{name}.parquet").read()

    def decide_ids(self, ids: pa.Array) -> tuple[pa.Array, pa.Array]:
        where = pc.index_in(ids, value_set=self.removals["id"])  # null: not removed
        return self.removals["reason"].take(where), self.removals["kept_id"].take(where)

    def process(self, doc: Document) -> Document | Drop:
        reason, kept = (a[0].as_py() for a in self.decide_ids(pa.array([doc.id], pa.string())))
        return doc if reason is None else Drop(reason, kept)  # the id of the kept document

    def explain_drop(self, drop: dict[str, Any], measures: dict[str, Any] | None,
                     text_of: Callable[[str], str | None]) -> dict[str, Any]:
        """The kept copy and the two texts' true Jaccard on this stage's shingles."""
        kept = text_of(drop["detail"])
        j = shingler(self.config).jaccard(drop["text"], kept) if drop["text"] and kept is not None else None
        return {**super().explain_drop(drop, measures, text_of), "kept": drop["detail"],
                "checks": [("jaccard with " + drop["detail"], j, ">=", self.config.jaccard_threshold)]}

    def summarize(self) -> dict:
        path = self.state_dir / "report.json"
        return {"dedup": json.loads(path.read_text())} if path.exists() else {}

    @classmethod
    def card_section(cls, stats: dict) -> list[str]:
        from pipeline.formatting import human_bytes

        d = stats.get("dedup")
        if not d:
            return []
        sizes = sorted(d.get("cluster_size_histogram", {}).items(), key=lambda kv: int(kv[0]))
        L = ["", "## Duplicates", "",
             f"{d.get('bands')} bands x {d.get('rows')} rows over word {d.get('ngram')}-grams (threshold "
             f"~{d.get('threshold')}); "
             f"{d['candidate_edges']:,} candidate pairs, {d.get('rejected_by_verification', 0):,} rejected by true "
             f"Jaccard; "
             f"{d['clusters']:,} clusters; removed {d.get('docs_removed', {})}, "
             f"{human_bytes(d.get('bytes_removed', 0))}.", "",
             "Cluster sizes (members: clusters): " + ", ".join(f"{k}: {v}" for k, v in sizes), "",
             "S-curve (Jaccard: P(candidate)): " + ", ".join(f"{j:.1f}: {p:.3f}" for j, p in d.get("s_curve", [])), ""]
        if d.get("example_pairs"):
            L += ["| kept | removed | Jaccard |", "|---|---|---:|"]
            L += [f"| `{e['kept']}` | `{e['removed']}` | {e['jaccard']} |" for e in d["example_pairs"]]
        return L
