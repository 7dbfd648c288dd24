"""The memory of a process and its descendants from Linux /proc, read by the progress bars
(`--verbose`) and by the peak-RSS measurement of tests and benchmarks: a stage's work runs in
forked workers, which `ru_maxrss` of the parent does not see. Elsewhere than Linux it finds
nothing and returns an empty mapping."""
from __future__ import annotations

from pathlib import Path


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, in MB."""
    return sum(rss for rss, _ in tree_memory_kb(root).values()) / 1024


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
