"""Where tasks run. One small interface so a Ray executor can replace the local pool later.

Tasks are plain picklable tuples handed to top-level functions; results are written to files by
the tasks themselves, so the order in which they finish never changes a run's output.
"""
from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterable, Iterator, Protocol


class Executor(Protocol):
    workers: int

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        """Run fn over tasks; yield results as they finish."""
        ...


class LocalExecutor:
    """In-process for one worker (easy to debug and profile), a process pool otherwise."""

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1:
            for t in tasks:
                yield fn(t)
            return
        # fork: workers inherit imported modules (fast start); the pipeline never imports torch.
        with ProcessPoolExecutor(self.workers, mp_context=mp.get_context("fork")) as pool:
            futures = [pool.submit(fn, t) for t in tasks]
            for fut in as_completed(futures):
                yield fut.result()
