"""Where tasks run. One small interface so a Ray executor can replace the local pool later.

Tasks are plain picklable tuples handed to top-level functions; results are written to files by
the tasks themselves, so the order in which they finish never changes a run's output.
"""
from __future__ import annotations

import ctypes
import gc
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterable, Iterator, Protocol


class Executor(Protocol):
    workers: int

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        """Run fn over tasks; yield results as they finish."""
        ...


def release_memory() -> None:
    """Hand freed memory back to the OS (Python objects, Arrow's pool, glibc's arenas).

    Why: a long-lived worker otherwise keeps the high-water mark of its largest task, and forked
    workers inherit the parent's; then a memory cap (dedup.memory_mb) would hold for one task
    but not for the process."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _released(call: tuple[Callable[[Any], Any], Any]) -> Any:
    fn, task = call
    try:
        return fn(task)
    finally:
        release_memory()


class LocalExecutor:
    """In-process for one worker (easy to debug and profile), a process pool otherwise — even
    for a single task, so the parent stays small for the workers it forks later."""

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        tasks = list(tasks)
        if self.workers == 1 or not tasks:
            for t in tasks:
                yield _released((fn, t))
            return
        # fork: workers inherit imported modules (fast start); the pipeline never imports torch.
        pool = ProcessPoolExecutor(min(self.workers, len(tasks)), mp_context=mp.get_context("fork"))
        try:
            futures = [pool.submit(_released, (fn, t)) for t in tasks]
            for fut in as_completed(futures):
                yield fut.result()
        finally:  # on an error or a stop, tasks not started are cancelled; running ones finish
            pool.shutdown(wait=True, cancel_futures=True)
