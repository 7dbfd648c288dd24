"""`corpusprep inspect` and `card html` on large runs: seconds and peak memory of each query at two
corpus sizes 4x apart, and the what-if against its peer, a real re-run of the quality stage.

    python benchmarks/bench_inspect.py                   # runs of 25 K and 100 K documents
    python benchmarks/bench_inspect.py --docs 100000     # one size

The corpus is bench_scale's (sentences of the default corpus's documentation prose drawn into
documents of ~2 KB, with exact and near copies planted; the prose holds the default corpus's
planted benchmark leaks, so decontam finds matches). Each size runs quality -> dedup -> decontam
with dropped texts kept; then each query runs as a user runs it (`corpusprep inspect ...` in a
fresh process: its seconds include Python's start), and the what-if's counts are compared with
the re-run's.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench_scale import make_corpus

from common import QUICK, REPO
from pipeline.devtools.procmem import run_with_peak_rss

WHAT_IF = ["stages.quality.min_stop_words=3", "stages.quality.dup_ngram_char_frac={5=0.2,6=0.14,7=0.13,8=0.12,"
           "9=0.11,10=0.10}"]


def config(tmp: Path, out: Path, inp: Path, stages: tuple[str, ...], part_docs: int) -> Path:
    cfg = tmp / f"{out.name}.toml"
    cfg.write_text(textwrap.dedent(f"""\
        [run]
        name = "{out.name}"
        output = "{out}"
        cards_dir = "{tmp / 'cards'}"
        part_docs = {part_docs}
        workers = 2
        [input]
        path = "{inp}"
        """) + "".join(f'[[stages]]\nname = "{s}"\n' for s in stages))
    return cfg


def timed(args: list[str], tmp: Path) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB, largest process) and stdout of one corpusprep command."""
    out, err = tmp / "stdout.txt", tmp / "stderr.txt"
    with out.open("w") as o, err.open("w") as e:
        res = run_with_peak_rss([sys.executable, "-m", "corpusprep", *args], cwd=REPO, stdout=o, stderr=e)
    if res.returncode:
        raise SystemExit(f"corpusprep {' '.join(args)} failed ({res.returncode}): {err.read_text()[-800:]}")
    return res.seconds, res.one_mb, out.read_text()


def queries(run: Path) -> list[tuple[str, list[str]]]:
    """One question of each kind, about documents the run really has."""
    q = pq.read_table(run / "01_quality" / "drops.parquet", columns=["reason"])["reason"]
    top = pc.value_counts(q).to_pylist()
    reason = max(top, key=lambda x: x["counts"])["values"]
    d = pq.read_table(run / "02_dedup" / "drops.parquet", columns=["id", "reason"]).to_pylist()
    near = next((r["id"] for r in d if r["reason"] == "dedup.minhash"), d[0]["id"])
    return [("--reason", ["--reason", reason, "--n", "5"]), ("--doc", ["--doc", near]),
            ("--cluster", ["--cluster", near]), ("--leaks", ["--leaks", "gsm8k", "--n", "10"]),
            ("--what-if", ["--what-if", *WHAT_IF])]


def one_size(docs: int, part_docs: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mb = make_corpus(tmp / "in", docs, 2000)
        run = tmp / "run"
        secs, rss, _ = timed(["run", str(config(tmp, run, tmp / "in", ("quality", "dedup", "decontam"), part_docs)),
                              "--no-progress"], tmp)
        print(f"{docs:,} documents ({mb:,.0f} MB): pipeline {secs:.1f} s; "
              f"measures.parquet {(run / '01_quality' / 'measures.parquet').stat().st_size / 1e6:.1f} MB", flush=True)
        got: dict[str, tuple[float, float]] = {}
        for name, args in queries(run):
            got[name] = timed(["inspect", str(run), *args], tmp)[:2]
            print(f"  inspect {name:10s} {got[name][0]:5.2f} s, peak RSS {got[name][1]:5.0f} MB", flush=True)
        s, r, text = timed(["card", "html", str(run), "--out", str(tmp / "explorer.html")], tmp)
        got["card html"] = (s, r)
        print(f"  card html          {s:5.2f} s, peak RSS {r:5.0f} MB, "
              f"{(tmp / 'explorer.html').stat().st_size / 1e6:.2f} MB", flush=True)
        ans = json.loads(timed(["inspect", str(run), "--json", "--what-if", *WHAT_IF], tmp)[2])
        rerun = tmp / "rerun"
        sets = sum((["--set", w] for w in WHAT_IF), [])
        s2, _, _ = timed(["run", str(config(tmp, rerun, tmp / "in", ("quality",), part_docs)), "--no-progress",
                          *sets], tmp)
        real = json.loads((rerun / "report.json").read_text())["stages"][1]
        same = ans["kept_after"] == real["docs_out"] and ans["drops_after"] == real["drops"]
        print(f"  peer: re-running quality with those settings took {s2:.1f} s, {s2 / got['--what-if'][0]:.1f}x the "
              f"what-if; the what-if's counts equal the re-run's: {same}", flush=True)
        return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[25_000, 100_000])
    ap.add_argument("--part-docs", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="1,500 documents (the test suite runs this)")
    args = ap.parse_args()
    sizes = [1500] if QUICK else sorted(args.docs)
    rows = [one_size(d, 500 if QUICK else args.part_docs) for d in sizes]
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"{sizes[0]:,} -> {sizes[-1]:,} documents: " + ", ".join(
            f"{k} {b[k][0] / a[k][0]:.2f}x time, {b[k][1] / a[k][1]:.2f}x RSS" for k in a))


if __name__ == "__main__":
    main()
