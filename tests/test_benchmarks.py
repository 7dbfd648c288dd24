"""Benchmarks cannot break unseen: each one with a quick mode runs here on a tiny input."""
from __future__ import annotations

import re
import subprocess
import sys

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
