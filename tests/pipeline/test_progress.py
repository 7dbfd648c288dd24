"""Progress in units a crawl-scale user reads: input bytes per second for the read, documents
per second and an ETA for each stage, the process tree's memory with --verbose."""
from __future__ import annotations

import json
import os
import re

from tests.conftest import run_cli


def _bars(stderr: str) -> list[str]:
    return [l for l in stderr.replace("\r", "\n").splitlines() if "|" in l and "/s" in l]


def test_stage_bars_count_documents_with_a_rate_an_eta_and_memory_when_verbose(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"d{i}", "text": f"document {i} " * 40}) + "\n" for i in range(3000)))
    env = {**os.environ, "TQDM_MININTERVAL": "0"}  # every update drawn: the run is shorter than tqdm's 0.1 s
    res = run_cli("-v", "stage", "dedup", "--input", str(inp), "--output", str(tmp_path / "out"),
                  "--workers", "2", "--part-docs", "500", env=env)
    bars = _bars(res.stderr)
    dedup = [b for b in bars if b.startswith("dedup")]
    assert dedup, res.stderr[-2000:]
    # documents done of 3.00k, elapsed<remaining (the ETA), a rate in doc/s, the process tree's memory
    drawn = [b for b in dedup if re.search(r" [\d.]+k/3\.00k \[\d\d:\d\d<\d\d:\d\d, [\d.]+k?doc/s, RSS [\d,]+ MB\]", b)]
    assert drawn, dedup
    read = [b for b in bars if b.startswith("read")]
    assert read and re.search(r"[\d.]+[kM]?B/s", read[-1]), read  # input bytes per second
    quiet = run_cli("stage", "dedup", "--input", str(inp), "--output", str(tmp_path / "out2"), "--workers", "2",
                    "--part-docs", "500", env=env)
    assert _bars(quiet.stderr) and not any("RSS" in b for b in _bars(quiet.stderr))  # memory: --verbose only
