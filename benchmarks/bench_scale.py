"""The pipeline at scale, on the local pool and on Ray: docs/s, peak memory, equal outputs.

    python benchmarks/bench_scale.py                  # 1,000,000 documents of ~2 KB (~2 GB)
    python benchmarks/bench_scale.py --docs 100000    # a tenth of it

A synthetic corpus is generated from the default corpus's main texts (documentation prose
written by people: sentences drawn at random into documents of about `--doc-bytes`, 3 % exact
copies and 3 % near copies planted), written as JSONL.zst parts. The same run (quality + dedup,
so dedup's whole-corpus steps run as tasks too) goes through the local process pool with 2
workers, and through Ray with 1 and 2 workers, each in a fresh process: docs/s end to end, the
peak RSS of the largest process and of the whole process tree (Ray's own processes included),
and a digest of the outputs (kept Parquet and drops of every stage), which must be equal.
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
    for p in sorted(out.glob("0*_*/*.parquet")):
        h.update(p.relative_to(out).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--doc-bytes", type=int, default=2000)
    ap.add_argument("--part-docs", type=int, default=0, help="documents per part (default: docs / 16, at most 20,000)")
    ap.add_argument("--quick", action="store_true", help="2,000 documents, the local pool only (the test suite runs "
                    "this; Ray's start alone takes longer)")
    args = ap.parse_args()
    args.docs = 2000 if args.quick else args.docs
    args.part_docs = args.part_docs or max(500, min(20_000, args.docs // 16))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mb = make_corpus(tmp / "in", args.docs, args.doc_bytes)
        print(f"{args.docs:,} documents, {mb:,.0f} MB of text")
        digests = {}
        runs = (("local pool", "local", 2),) + (() if args.quick else (("Ray", "ray", 1), ("Ray", "ray", 2)))
        for name, executor, workers in runs:
            out = tmp / f"out-{executor}-{workers}"
            cfg = tmp / f"{executor}-{workers}.toml"
            cfg.write_text(textwrap.dedent(f"""\
                [run]
                name = "scale"
                output = "{out}"
                cards_dir = "{tmp / 'cards'}"
                part_docs = {args.part_docs}
                workers = {workers}
                executor = "{executor}"
                keep_dropped_text = false
                [input]
                path = "{tmp / 'in'}"
                [[stages]]
                name = "quality"
                [[stages]]
                name = "dedup"
                """))
            res = run_with_peak_rss([sys.executable, "-m", "corpusprep", "run", str(cfg), "--no-progress"],
                                    cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if res.returncode:
                print(f"{name} ({workers} workers): failed with exit code {res.returncode}")
                continue
            report = json.loads((out / "report.json").read_text())
            digests[(executor, workers)] = digest(out)
            print(f"{name:10s} {workers} worker(s): {args.docs / res.seconds:8,.0f} docs/s, "
                  f"{mb / res.seconds:6.2f} MB/s "
                  f"({res.seconds:6.1f} s); peak RSS {res.one_mb:5.0f} MB in the largest process, "
                  f"{res.total_mb:6.0f} MB over the process tree; kept {report['docs_kept']:,}; "
                  f"output digest {digests[(executor, workers)]}")
        print("outputs equal across executors and worker counts:", len(set(digests.values())) == 1)


if __name__ == "__main__":
    main()
