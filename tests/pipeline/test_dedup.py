"""Dedup: planted near-duplicates at known Jaccard, datasketch equivalence, determinism."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.config import InputConfig, StageSpec, load_run_config
from pipeline.executor import LocalExecutor
from pipeline.runner import run, run_read, run_stage
from pipeline.stages.dedup import Config, Shingler, _permutations, explain, s_curve, signatures
from tests.conftest import run_cli, write_config

VOCAB = [f"w{i}" for i in range(20_000)]


def shingle_set(text: str, n: int = 5) -> set[str]:
    w = text.lower().split()
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def jaccard(a: str, b: str) -> float:
    x, y = shingle_set(a), shingle_set(b)
    return len(x & y) / len(x | y)


def near_copy(words: list[str], target: float, rng: random.Random) -> tuple[str, float]:
    """Replace words until the 5-gram Jaccard is close to target."""
    base = " ".join(words)
    lo, hi, best = 0.0, 1.0, (base, 1.0)
    for _ in range(18):
        frac = (lo + hi) / 2
        r2 = random.Random(rng.random())
        new = [rng.choice(VOCAB) if r2.random() < frac else w for w in words]
        text = " ".join(new)
        j = jaccard(base, text)
        if abs(j - target) < abs(best[1] - target):
            best = (text, j)
        lo, hi = (frac, hi) if j > target else (lo, frac)
    return best


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, list[tuple[str, str, float]]]:
    """400 random documents and 200 planted copies at Jaccard 0.3 .. 1.0 (ids in input order)."""
    rng = random.Random(7)
    docs, pairs = [], []
    for i in range(400):
        docs.append((f"o{i:04d}", [rng.choice(VOCAB) for _ in range(rng.randint(150, 400))]))
    targets = [0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0]
    rows = [{"id": i, "text": " ".join(w)} for i, w in docs]
    for k in range(220):
        oid, words = docs[k]
        text, j = near_copy(words, targets[k % len(targets)], rng) if targets[k % len(targets)] < 1 else (" ".join(words).upper(), 1.0)
        rows.append({"id": f"c{k:04d}", "text": text})
        pairs.append((oid, f"c{k:04d}", j))
    path = tmp_path_factory.mktemp("dedup") / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, pairs


def removed_map(out: Path) -> dict[str, tuple[str, str]]:
    d = pq.read_table(out / "drops.parquet").to_pylist()
    return {r["id"]: (r["reason"], r["detail"]) for r in d}


def dedup(inp: Path, out: Path, workers: int = 1, part_docs: int = 2000, **cfg) -> dict:
    ex = LocalExecutor(workers)
    run_read(InputConfig(path=str(inp)), out / "_read", ex, part_docs, progress=False)
    run_stage(StageSpec("dedup", Config(**cfg)), out / "_read", out, ex, progress=False)
    return removed_map(out)


def test_recall_and_false_removals_by_jaccard(tmp_path, planted):
    path, pairs = planted
    rem = dedup(path, tmp_path / "out")
    high = [(a, b) for a, b, j in pairs if j >= 0.85]
    low = [(a, b) for a, b, j in pairs if j < 0.6]
    recall = sum(b in rem and rem[b][1] == a for a, b in high) / len(high)
    false = sum(b in rem for a, b in low) / len(low)
    print(f"\n[dedup planted pairs] recall(J>=0.85) {recall:.3f} on {len(high)} pairs; "
          f"removed(J<0.6) {false:.3f} of {len(low)} pairs")
    assert recall >= 0.95 and false <= 0.02
    assert all(v[0] in ("dedup.exact", "dedup.minhash") for v in rem.values())
    assert rem["c0010"] == ("dedup.exact", "o0010")  # the upper-cased copy is exact after normalising


def test_determinism_across_workers_batch_sizes_and_buckets(tmp_path, planted):
    path, _ = planted
    a = dedup(path, tmp_path / "a", workers=1, part_docs=1000)
    b = dedup(path, tmp_path / "b", workers=2, part_docs=37)
    c = dedup(path, tmp_path / "c", workers=2, part_docs=100, memory_mb=0.05)  # many buckets
    assert a == b == c and len(a) > 100
    assert json.loads((tmp_path / "c" / "stats.json").read_text())["counters"]["buckets"] > 1


def test_signatures_equal_datasketch():
    from datasketch import MinHash

    cfg = Config()
    sh = Shingler(cfg)
    texts = ["the quick brown fox jumps over the lazy dog again and again", "short text", ""]
    hashes = [sh.hashes(sh.normal(t).split()) for t in texts]
    a, b = _permutations(112, cfg.seed)
    ours = signatures(hashes, a, b, chunk=3)
    for h, row in zip(hashes, ours):
        m = MinHash(num_perm=112, seed=cfg.seed, hashfunc=lambda x: int(x), scheme="affine32")
        m.update_batch([int(v) for v in h])
        assert np.array_equal(m.hashvalues, row)


def test_default_corpus_planted_duplicates(tmp_path, sample_corpus):
    cfg = write_config(tmp_path / "d.toml", sample_corpus["dir"] / "warc", tmp_path / "out",
                       stages='[[stages]]\nname = "html"\n[[stages]]\nname = "dedup"\n',
                       input_extra=f'format = "warc"\nlabels = "{sample_corpus["dir"] / "labels.jsonl"}"\n')
    gt = run(load_run_config(cfg), progress=False).report["stages"][-1]["ground_truth"]
    bins = gt["pairs_by_jaccard"]
    print(f"\n[dedup on default corpus] {bins}")
    assert bins["jaccard_0.85_1.00"]["share"] >= 0.95 and bins["jaccard_0.85_1.00"]["pairs"] >= 50
    assert bins["jaccard_0.00_0.60"]["share"] <= 0.02 and bins["jaccard_0.00_0.60"]["pairs"] >= 20


def test_explain_and_s_curve():
    curve = dict(s_curve(14, 8))
    assert curve[0.0] == 0.0 and curve[1.0] == 1.0 and 0.2 < curve[0.6] < 0.22 and curve[0.85] > 0.98
    text = run_cli("stage", "dedup", "--explain").stdout
    assert "14 bands x 8 rows = 112 permutations" in text and "0.719" in text
    assert "10 bands x 11 rows" in explain(Config(preset="t80"))
