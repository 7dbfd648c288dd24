"""Peak memory of a command's whole process tree (Linux /proc), for the memory-cap test and the
benchmarks: `ru_maxrss` sees one process, while a stage's work runs in forked workers."""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PeakRSS:
    returncode: int
    seconds: float
    one_mb: float    # the largest peak of any single process
    total_mb: float  # the largest sum over the tree at one moment (shared pages counted per process)
    one_anon_mb: float = 0.0  # the largest peak of anonymous memory (RssAnon + RssShmem) of any process


def tree_memory_kb(root: int) -> dict[int, tuple[int, int]]:
    """(VmRSS, RssAnon + RssShmem) in kB of a process and each of its descendants."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            kb = {k: int(status[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssShmem") if k in status}
            if "VmRSS" in kb:
                out[pid] = (kb["VmRSS"], kb.get("RssAnon", 0) + kb.get("RssShmem", 0))
        except (OSError, ValueError):
            pass
        todo += children.get(pid, [])
    return out


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
