"""Progress a crawl-scale user can read: documents (or input bytes) per second and an ETA per
stage, and with `--verbose` the memory of the run's process tree.

Why documents, not parts or files: a bar in parts says "31/800" and nothing about the rate a
user compares with other tools or the time left; every part's row count is in its Parquet
footer, so the total is known before the first task starts, at one small read per part.
"""
from __future__ import annotations

import logging
import os

from tqdm import tqdm

from pipeline.proc_tree import tree_rss_mb


class Progress:
    """A tqdm bar in documents or bytes (rate and ETA scaled: 12.3k doc/s), with the process
    tree's memory as a postfix when the run logs at INFO (`--verbose`)."""

    def __init__(self, desc: str, total: int, done: int, unit: str, enabled: bool):
        self.verbose = enabled and logging.getLogger().isEnabledFor(logging.INFO)
        self.bar = tqdm(total=total, initial=done, desc=desc, unit=unit, unit_scale=True,
                        unit_divisor=1024 if unit == "B" else 1000, disable=not enabled, leave=False,
                        smoothing=0.1)

    def update(self, n: int) -> None:
        if self.verbose:
            self.bar.set_postfix_str(f"RSS {tree_rss_mb(os.getpid()):,.0f} MB", refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()
