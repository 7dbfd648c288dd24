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


def tree_rss_kb(root: int, fields: tuple[str, ...] = ("VmRSS",)) -> dict[int, int]:
    """Resident memory (kB; the sum of `fields` from /proc/PID/status) of a process and all
    its descendants."""
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
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.split(":", 1)[0] in fields:
                    out[pid] = out.get(pid, 0) + int(line.split()[1])
        except OSError:
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
        rss = tree_rss_kb(proc.pid)
        if rss:
            one, total = max(one, max(rss.values())), max(total, sum(rss.values()))
        owned = tree_rss_kb(proc.pid, ("RssAnon", "RssShmem"))
        if owned:
            anon = max(anon, max(owned.values()))
        time.sleep(interval)
    return PeakRSS(proc.returncode, time.perf_counter() - t0, one / 1024, total / 1024, anon / 1024)
