"""Dedup at scale: signatures/s, end-to-end docs/s and peak RSS, beside rensa, naive datasketch and DataTrove.

    python benchmarks/bench_dedup.py [N_DOCS] [--short]

Documents: the default corpus's main texts, cycled with planted near-duplicates of known Jaccard
(the originals are mutated so that copies are not all identical); `--short` makes 1,000,000-style
short documents (one sentence each) to check that memory follows `memory_mb`.
Side by side, on a sample in the same run: a naive per-document datasketch loop (MinHash.update
per shingle + MinHashLSH) and, if installed, DataTrove's MinHash signature step.
"""
from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common import default_corpus_dir, have, have_datatrove, sized, timed
from pipeline.devtools.procmem import run_with_peak_rss
from pipeline.stages.dedup import Config, shingler
from pipeline.stages.minhash import permutations, signatures


def make_docs(n: int, short: bool, seed: int = 0) -> tuple[list[dict], list[tuple[str, str, float]]]:
    rng = random.Random(seed)
    texts = [json.loads(l)["text"] for l in gzip.open(default_corpus_dir() / "expected.jsonl.gz")]
    words = [t.split() for t in texts]
    vocab = sorted({w for ws in words[:300] for w in ws})
    docs, pairs = [], []
    rates = (0.0, 0.01, 0.03, 0.1, 0.3)  # later cycles: copies with this share of words replaced
    for i in range(n):
        base = words[i % len(words)]
        if short:
            start = rng.randrange(max(1, len(base) - 20))
            ws = base[start:start + 20]
        else:
            ws = list(base)
        if i >= len(words):
            ws = [rng.choice(vocab) if rng.random() < rates[i % len(rates)] else w for w in ws]
            if not short:
                pairs.append((f"d{i % len(words)}", f"d{i}"))
        docs.append({"id": f"d{i}", "text": " ".join(ws)})
    return docs, pairs


def pair_report(docs: list[dict], pairs: list[tuple[str, str]], found, sample: int = 3000) -> str:
    """Recall on planted pairs with true Jaccard >= 0.85, removals among pairs below 0.6 (a
    sample); `found(a, b)` says whether a method judged the pair duplicates."""
    text = {d["id"]: d["text"] for d in docs}
    sh = shingler(Config())
    rng = random.Random(1)
    hi = lo = hi_hit = lo_hit = 0
    for a, b in rng.sample(pairs, min(sample, len(pairs))):
        sa, sb = (set(sh.shingle_set(text[x]).tolist()) for x in (a, b))
        j = len(sa & sb) / len(sa | sb)
        if j >= 0.85:
            hi, hi_hit = hi + 1, hi_hit + found(a, b)
        elif j < 0.6:
            lo, lo_hit = lo + 1, lo_hit + found(a, b)
    return (f"recall {hi_hit / max(1, hi):.3f} on {hi} pairs with J >= 0.85; "
            f"removed {lo_hit / max(1, lo):.3f} of {lo} pairs with J < 0.6")


def datatrove_clusters(docs: list[dict], folder: Path) -> dict[str, int]:
    """DataTrove's whole MinHash dedup (signature, buckets, cluster, filter; 5-grams, 14 x 8),
    run locally on `docs`: the cluster id of every document it put in a cluster (not -1)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    (folder / "in").mkdir(parents=True)
    (folder / "in" / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    cfg = MinhashConfig()
    sig = datatrove_signature_step(str(folder / "sigs"))
    steps = [([JsonlReader(str(folder / "in")), sig], 1),
             ([MinhashDedupBuckets(str(folder / "sigs"), str(folder / "buckets"), config=cfg)], cfg.num_buckets),
             ([MinhashDedupCluster(str(folder / "buckets"), str(folder / "remove"), config=cfg,
                                   save_cluster_id=True)], 1),
             ([JsonlReader(str(folder / "in")),
               MinhashDedupFilter(str(folder / "remove"), load_cluster_ids=True,
                                  exclusion_writer=JsonlWriter(str(folder / "removed"))),
               JsonlWriter(str(folder / "kept"))], 1)]
    for i, (pipe, tasks) in enumerate(steps):
        LocalPipelineExecutor(pipe, tasks=tasks, workers=1, logging_dir=str(folder / f"logs{i}")).run()
    out = {}
    for f in [*(folder / "removed").glob("*"), *(folder / "kept").glob("*")]:
        for line in gzip.open(f, "rt"):
            rec = json.loads(line)
            if rec.get("metadata", {}).get("minhash_cluster_id", -1) != -1:  # -1: in no cluster
                out[rec["id"]] = rec["metadata"]["minhash_cluster_id"]
    return out


def naive(docs: list[dict], cfg: Config) -> float:
    from datasketch import MinHash, MinHashLSH

    b, r = cfg.shape
    lsh = MinHashLSH(num_perm=b * r, params=(b, r))
    sh = shingler(cfg)
    with timed() as t:
        for d in docs:
            w = sh.normal(d["text"]).split()
            m = MinHash(num_perm=b * r, seed=cfg.seed)
            for i in range(max(1, len(w) - cfg.ngram + 1)):
                m.update(" ".join(w[i:i + cfg.ngram]).encode())
            lsh.insert(d["id"], m)
    return len(docs) / t["seconds"]


def rensa_signatures(sample: list[dict], cfg: Config, ours: float) -> None:
    """rensa (MinHash in Rust) on the same documents and settings: our normalisation, the same word
    5-grams as strings, 112 permutations; both of its MinHash kinds. Also without normalising
    (plain split), which is less work than ours."""
    if not have("rensa"):
        print("rensa: not installed (pip install 'corpusprep[bench]')")
        return
    import rensa

    sh = shingler(cfg)
    n, perms = cfg.ngram, cfg.shape[0] * cfg.shape[1]
    for kind in ("RMinHash", "CMinHash"):
        cls = getattr(rensa, kind)
        for label, prep in (("same normalisation", sh.normal), ("split only", str)):
            with timed() as t:
                for d in sample:
                    w = prep(d["text"]).split()
                    m = cls(num_perm=perms, seed=cfg.seed)
                    m.update([" ".join(w[i:i + n]) for i in range(max(1, len(w) - n + 1))])
                    m.digest()
            rate = len(sample) / t["seconds"]
            print(f"rensa {kind} ({label}): {rate:10,.0f} docs/s   -> ours {ours / rate:.2f}x")


def rensa_loop(path: Path, cfg: Config) -> tuple[float, int] | None:
    """What a user writes in 20 lines: read the JSONL, lowercase and split, word 5-grams, rensa's
    RMinHash (112 permutations) and RMinHashLSH (14 bands), query then insert; one process. Less
    normalisation than ours, no output written: the floor a pipeline stage is measured against.
    Returns (docs/s, documents kept)."""
    if not have("rensa"):
        return None
    from rensa import RMinHash, RMinHashLSH

    b, r = cfg.shape
    n = cfg.ngram
    with timed() as t:
        lsh = RMinHashLSH(threshold=(1 / b) ** (1 / r), num_perm=b * r, num_bands=b)
        kept = 0
        with path.open() as fh:
            for i, line in enumerate(fh):
                w = json.loads(line)["text"].lower().split()
                m = RMinHash(num_perm=b * r, seed=cfg.seed)
                m.update([" ".join(w[j:j + n]) for j in range(max(1, len(w) - n + 1))])
                kept += not lsh.query(m)
                lsh.insert(i, m)
    return (i + 1) / t["seconds"], kept


def datatrove_signature_step(folder: str):
    """DataTrove's MinHash signature step with FineWeb's settings (5-grams, 14 x 8). xxhash >= 4.1
    takes bytes only and DataTrove passes str: it is given UTF-8 bytes, as older xxhash did."""
    import xxhash
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    step = MinhashDedupSignature(output_folder=folder, config=MinhashConfig())
    try:
        step._hash_func("probe")
    except TypeError:
        step._hash_func = lambda s: xxhash.xxh64_intdigest(s.encode("utf-8"))
    return step


def datatrove_signatures(docs: list[dict]) -> float | None:
    if not have_datatrove():
        return None
    step = datatrove_signature_step(tempfile.mkdtemp())
    with timed() as t:
        for d in docs:
            step.get_signature(step.get_shingles(d["text"]))  # shingling (spaCy words) + signature
    return len(docs) / t["seconds"]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else sized(100_000, 2_000)
    short = "--short" in sys.argv
    cfg = Config(memory_mb=256 if short else 512)
    docs, pairs = make_docs(n, short)
    mb = sum(len(d["text"]) for d in docs) / 1e6
    print(f"{n:,} documents ({'short' if short else 'default-corpus'}), {mb:.1f} MB")
    sh = shingler(cfg)
    b, r = cfg.shape
    a_, b_ = permutations(b * r, cfg.seed)
    sample = docs[:5000]
    # numba compiles (or loads its cache) once; the Unicode classes are built once
    signatures(*sh.batch(sh.normal_array(pa.array(["compile the kernels first, naïvely"]))), a_, b_)
    with timed() as t:  # as the stage signs a batch: normalised in Arrow, words from the table
        signatures(*sh.batch(sh.normal_array(pa.array([d["text"] for d in sample], pa.string()))), a_, b_)
    sig_rate = len(sample) / t["seconds"]
    print(f"signatures (one process):     {sig_rate:10,.0f} docs/s  (normalise, word {cfg.ngram}-grams, {b * r} "
          f"permutations)")
    rensa_signatures(sample, cfg, sig_rate)
    nv = naive(docs[:1000], cfg)
    print(f"naive datasketch loop + LSH:  {nv:10,.0f} docs/s   -> ours {sig_rate / nv:.1f}x")
    dt = datatrove_signatures(docs[:1000])
    if dt:
        print(f"DataTrove signature step:     {dt:10,.0f} docs/s   -> ours {sig_rate / dt:.1f}x")
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.jsonl"
        inp.write_text("".join(json.dumps(d) + "\n" for d in docs))
        out = Path(tmp) / "dedup"
        res = run_with_peak_rss([sys.executable, "-m", "corpusprep", "stage", "dedup", "--input", str(inp),
                                 "--output", str(out), "--workers", "1",
                                 "--set", f"memory_mb={cfg.memory_mb}", "--no-progress"], stdout=subprocess.DEVNULL)
        stats = json.loads((out / "stats.json").read_text())
        d = pq.read_table(out / "drops.parquet", columns=["id", "detail"]).to_pydict()
        drops = dict(zip(d["id"], d["detail"]))
        loop = rensa_loop(inp, cfg)
    ours = n / res.seconds
    print(f"end to end, one process (`corpusprep stage dedup --workers 1`: start-up, read, sign, band, verify, "
          f"filter, write): {ours:10,.0f} docs/s ({res.seconds:.1f} s); removed {stats['drops']}; "
          f"buckets {stats['counters'].get('buckets')}")
    if loop:
        print(f"minimal rensa MinHash+LSH loop, one process:  {loop[0]:10,.0f} docs/s (kept {loop[1]:,})"
              f"   -> ours {ours / loop[0]:.2f}x")
    else:
        print("minimal rensa loop: rensa not installed (pip install 'corpusprep[bench]')")
    print(f"peak RSS: {res.one_mb:.0f} MB in the largest process (memory_mb = {cfg.memory_mb:.0f}), "
          f"{res.total_mb:.0f} MB summed over the process tree")
    if pairs:
        print("planted pairs "
              "(sample), ours: " + pair_report(docs, pairs, lambda a, b: drops.get(a, a) == drops.get(b, b)))
    if pairs and have_datatrove():  # the whole DataTrove pipeline is slow: a 3,000-document slice
        head = docs[:3000]
        ids = {d["id"] for d in head}
        head_pairs = [p for p in pairs if p[0] in ids and p[1] in ids]
        with tempfile.TemporaryDirectory() as tmp, timed() as t:
            cluster = datatrove_clusters(head, Path(tmp))
        print(f"DataTrove's whole MinHash dedup (one process): {len(head) / t['seconds']:,.0f} docs/s")
        print(f"the {len(head_pairs)} planted pairs within the first {len(head):,} documents:")
        print("  ours:      " + pair_report(head, head_pairs, lambda a, b: drops.get(a, a) == drops.get(b, b)))
        print("  DataTrove: " + pair_report(head, head_pairs,
                                            lambda a, b: a in cluster and cluster.get(a) == cluster.get(b)))


if __name__ == "__main__":
    main()
