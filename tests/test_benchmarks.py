"""Benchmarks cannot break unseen: each one with a quick mode runs here on a tiny input."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_bench_read_quick(shared_data):
    """bench_read.py --quick: every reader present reads the same documents from the real file,
    the paired ratio is printed, and the damage table has a row for every malformed file."""
    res = subprocess.run([sys.executable, "bench_read.py", "--quick"], cwd=REPO / "benchmarks", capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    docs = re.findall(r"^  (\w+) +[\d.]+ MB/s +documents ([\d,]+)$", out, re.M)
    assert {name for name, _ in docs} >= {"corpusprep", "warcio"} and len({n for _, n in docs}) == 1, out
    assert re.search(r"corpusprep / warcio: [\d.]+x \([\d.]+-[\d.]+x per round\)", out)
    rows = [l for l in out.splitlines() if "malformed/" in l]
    assert len(rows) == len([p for p in (shared_data / "warc" / "malformed").rglob("*") if p.is_file()])


BENCHES = sorted(p.name for p in (REPO / "benchmarks").glob("bench_*.py") if p.name != "bench_read.py")


@pytest.mark.parametrize("bench", BENCHES)
def test_every_benchmark_runs_in_quick_mode(bench, sample_corpus):
    """Each benchmark's quick mode (tiny inputs, one round) on the test session's default corpus,
    with the peers that are installed (the [bench] extra's are not, in CI): it runs to its end."""
    text = (REPO / "benchmarks" / bench).read_text()
    assert any(k in text for k in ("--quick", "QUICK", "sized(", "rounds(")), f"{bench} has no quick mode"
    env = dict(os.environ, CORPUSPREP_SAMPLE=str(sample_corpus["dir"]))
    res = subprocess.run([sys.executable, bench, "--quick"], cwd=REPO / "benchmarks", env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.stdout.strip()
