"""The full text pipeline at scale: docs/s, peak memory and seconds per stage at each size.

    python benchmarks/bench_scale.py                          # 100 K, 400 K and 1.6 M documents of ~2 KB
    python benchmarks/bench_scale.py --docs 100000 400000     # the first two

A synthetic corpus is generated from the default corpus's main texts (documentation prose
written by people: sentences drawn at random into documents of about `--doc-bytes`, 3 % exact
copies and 3 % near copies planted), written as JSONL.zst parts. Each size runs quality ->
dedup -> decontam -> shards (one variant, three nested budgets and a validation split, all
proportional to the corpus) on the local pool with 2 workers in a fresh process: docs/s and MB/s
end to end, the peak RSS of the largest process and of the process tree, and each stage's
seconds (and per document, which must not grow with the corpus). At the smallest size the same
run goes through Ray too, and the digests of the outputs (every stage's Parquet, the shards)
must be equal.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from common import REPO, default_corpus_dir
from pipeline.devtools.procmem import run_with_peak_rss


def make_corpus(folder: Path, n: int, doc_bytes: int, seed: int = 0) -> float:
    """Write n documents as JSONL.zst parts of 100,000; returns the MB of text."""
    import zstandard

    texts = [json.loads(l)["text"] for l in gzip.open(default_corpus_dir() / "expected.jsonl.gz")]
    sentences = [s.strip() + "." for t in texts for s in t.split(". ") if len(s.split()) >= 5]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made, total = [], 0
    for part in range(0, n, 100_000):
        lines = []
        for i in range(part, min(n, part + 100_000)):
            r = rng.random()
            if made and r < 0.03:  # an exact copy of an earlier document
                text = rng.choice(made)
            elif made and r < 0.06:  # a near copy: a few sentences swapped for others
                words = rng.choice(made).split(". ")
                for _ in range(max(1, len(words) // 10)):
                    words[rng.randrange(len(words))] = rng.choice(sentences).rstrip(".")
                text = ". ".join(words)
            else:
                parts, size = [], 0
                while size < doc_bytes:
                    parts.append(rng.choice(sentences))
                    size += len(parts[-1]) + 1
                text = " ".join(parts)
            if len(made) < 20_000:
                made.append(text)
            elif rng.random() < 0.01:
                made[rng.randrange(len(made))] = text
            total += len(text)
            lines.append(json.dumps({"id": f"d{i:08d}", "text": text}))
        data = ("\n".join(lines) + "\n").encode()
        (folder / f"part-{part // 100_000:03d}.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    return total / 1e6


def digest(out: Path) -> str:
    h = hashlib.sha256()
    for p in sorted([*out.glob("0*_*/*.parquet"), *out.glob("shards/**/*.arrow"), *out.glob("shards/**/*.json")]):
        if p.name == "manifest.json":
            continue  # holds the shards step's timing
        h.update(p.relative_to(out).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


STAGES = ("quality", "dedup", "decontam")


def config(tmp: Path, out: Path, inp: Path, docs: int, part_docs: int, executor: str, workers: int) -> Path:
    """The full text pipeline; three nested budgets and the validation split scale with the corpus
    (10, 20 and 40 tokens a document: the quality stage keeps ~1 document in 4), so each size does the same
    work per document."""
    cfg = tmp / f"{out.name}.toml"
    stages = "".join(f'[[stages]]\nname = "{s}"\n' for s in STAGES)
    cfg.write_text(textwrap.dedent(f"""\
        [run]
        name = "scale"
        output = "{out}"
        cards_dir = "{tmp / 'cards'}"
        part_docs = {part_docs}
        workers = {workers}
        executor = "{executor}"
        keep_dropped_text = false
        [input]
        path = "{inp}"
        [shards]
        variants = {{deduped = "decontam"}}
        budgets = ["{docs * 10}", "{docs * 20}", "{docs * 40}"]
        validation_tokens = "{docs * 2}"
        """) + stages)
    return cfg


def stage_seconds(out: Path, report: dict) -> dict[str, float]:
    """Seconds each step spent (its parts' processing summed over workers, plus its whole-corpus
    pass), and the shards step's."""
    secs = {}
    for k, st in enumerate(report["stages"]):
        prep = next(out.glob(f"{k:02d}_{st['stage']}/_state/prepare_stats.json"), None)
        secs[st["stage"]] = st["seconds"] + (json.loads(prep.read_text())["seconds"] if prep else 0.0)
    secs["shards"] = report["shards"]["seconds"]["total"]
    return secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[100_000, 400_000, 1_600_000])
    ap.add_argument("--doc-bytes", type=int, default=2000)
    ap.add_argument("--part-docs", type=int, default=10_000, help="documents per part (the default's memory "
                    "and parallelism unit, the same at every size)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray run at the smallest size")
    ap.add_argument("--quick", action="store_true", help="2,000 documents, the local pool only (the test suite runs "
                    "this; Ray's start alone takes longer)")
    args = ap.parse_args()
    sizes = [2000] if args.quick else sorted(args.docs)
    part_docs = 500 if args.quick else args.part_docs
    rows = []
    for docs in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            mb = make_corpus(tmp / "in", docs, args.doc_bytes)
            print(f"{docs:,} documents, {mb:,.0f} MB of text", flush=True)
            runs = [("local pool", "local", 2)]
            if docs == sizes[0] and not (args.quick or args.no_ray):
                runs.append(("Ray", "ray", 2))
            digests = {}
            for name, executor, workers in runs:
                out = tmp / f"out-{executor}"
                cfg = config(tmp, out, tmp / "in", docs, part_docs, executor, workers)
                with (tmp / "stderr.log").open("w") as err:
                    res = run_with_peak_rss([sys.executable, "-m", "corpusprep", "run", str(cfg), "--no-progress"],
                                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
                if res.returncode:
                    print(f"{name} ({workers} workers): failed with exit code {res.returncode}: "
                          f"{(tmp / 'stderr.log').read_text().strip()[-500:]}")
                    continue
                report = json.loads((out / "report.json").read_text())
                digests[name] = digest(out)
                secs = stage_seconds(out, report)
                print(f"  {name:10s} {workers} workers: {docs / res.seconds:7,.0f} docs/s, "
                      f"{mb / res.seconds:5.2f} MB/s ({res.seconds:7.1f} s); peak RSS {res.one_mb:5.0f} MB largest "
                      f"process, {res.total_mb:6.0f} MB process tree; kept {report['docs_kept']:,}; "
                      f"digest {digests[name]}", flush=True)
                print("    seconds per stage (us/doc): " + ", ".join(
                    f"{k} {v:.1f} ({v / docs * 1e6:.0f})" for k, v in secs.items()), flush=True)
                if executor == "local":
                    rows.append((docs, mb, res.seconds, res.one_mb, res.total_mb, secs))
            if len(digests) > 1:
                print("  outputs of the local pool and Ray equal:", len(set(digests.values())) == 1, flush=True)
    if len(rows) > 1:
        (d0, _, s0, m0, _, st0), (d1, _, s1, m1, _, st1) = rows[0], rows[-1]
        print(f"{d0:,} -> {d1:,} documents: docs/s {d1 / s1 / (d0 / s0):.2f}x, peak RSS of the largest "
              f"process {m1 / m0 - 1:+.0%}; seconds per document per stage: " + ", ".join(
                  f"{k} {st1[k] / d1 / (st0[k] / d0):.2f}x" for k in st0 if st0[k] > 0))


if __name__ == "__main__":
    main()
