"""Peak memory of a command's whole process tree (Linux /proc), for the memory-cap test and the
benchmarks: `ru_maxrss` sees one process, while a stage's work runs in forked workers."""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

from pipeline.proc_tree import tree_memory_kb


@dataclass(frozen=True)
class PeakRSS:
    returncode: int
    seconds: float
    one_mb: float    # the largest peak of any single process
    total_mb: float  # the largest sum over the tree at one moment (shared pages counted per process)
    one_anon_mb: float = 0.0  # the largest peak of anonymous memory (RssAnon + RssShmem) of any process


def run_with_peak_rss(cmd: list[str], interval: float = 0.02, **popen) -> PeakRSS:
    """Run a command to the end, sampling its process tree's RSS every `interval` seconds.

    Anonymous memory is sampled too: RSS also counts clean file-backed pages of the mapped
    libraries, which depend on the page cache (a freshly installed venv read 37 MB more of them
    for minutes: RssFile 99 vs 62 MB, the same RssAnon), not on what the command allocates."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, **popen)
    one = total = anon = 0
    while proc.poll() is None:
        mem = tree_memory_kb(proc.pid)
        if mem:
            one = max(one, max(rss for rss, _ in mem.values()))
            total = max(total, sum(rss for rss, _ in mem.values()))
            anon = max(anon, max(a for _, a in mem.values()))
        time.sleep(interval)
    return PeakRSS(proc.returncode, time.perf_counter() - t0, one / 1024, total / 1024, anon / 1024)
