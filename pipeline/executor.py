"""Where tasks run: a local process pool, or Ray (a local instance or a cluster), behind one
small interface.

Tasks are plain picklable tuples handed to top-level functions; results are written to files by
the tasks themselves, so the order in which they finish never changes a run's output.
"""
from __future__ import annotations

import ctypes
import gc
import multiprocessing as mp
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterable, Iterator, Protocol


class Executor(Protocol):
    workers: int

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        """Run fn over tasks; yield results as they finish."""
        ...


_ALLOCATOR_SET = False


def configure_allocator() -> None:
    """Allocator settings for the process that runs pipeline work (the run's, and each worker's).

    Why: stages plan with memory caps (dedup.memory_mb) that only mean something if freed memory
    goes back to the OS (measured on merging 50 MB of drops: peak 295 -> 191 MB, kept afterwards
    248 -> 144 MB):
    - Arrow's buffers come from the C library's allocator, not Arrow's bundled mimalloc, which kept
      ~60 MB more resident after reading 50 small Parquet files;
    - glibc serves blocks of 1 MB and more with mmap, returned on free; by default it raises that
      threshold after each large free, and large buffers then stay in its heap.
    Applied here, not at import, so that importing the pipeline (the trainer does) changes nothing.
    """
    global _ALLOCATOR_SET
    if _ALLOCATOR_SET:
        return
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD = 1 MiB (fixed)
    except (OSError, AttributeError):  # not glibc
        pass
    _ALLOCATOR_SET = True


def release_memory() -> None:
    """Hand freed memory back to the OS (Python objects, Arrow's pool, glibc's arenas).

    Why: a long-lived worker otherwise keeps the high-water mark of its largest task, and forked
    workers inherit the parent's; then a memory cap (dedup.memory_mb) would hold for one task
    but not for the process.

    What survives the full collection is set-up (modules a task imported, caches), not the task's
    data: it is frozen, so the next task's collection walks only what that task made (dedup, one
    worker, 154 tasks: 7.1 s of collections before, 0.05 s after)."""
    gc.collect()
    gc.freeze()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def freeze_setup() -> None:
    """Put every object alive now (modules, the stages' models and lists: set up before any pool
    forks) out of the cyclic collector's reach; freed by refcount as before, never scanned.

    Why: `release_memory` runs a full collection after every task, and each walked the whole
    set-up heap again: on the real-pages bench (one worker, 4 tasks) the collections took
    0.52-0.64 s, and 0.19-0.22 s with the set-up frozen (3 runs each). In a forked worker the walk
    also writes to every inherited object's header, so pages shared with the parent get copied
    (the gc.freeze documentation's advice before a fork)."""
    gc.freeze()


def _die_with_parent() -> None:
    """Pool worker start-up (Linux): the kernel kills the worker when the run's process dies, so a
    killed run (SIGKILL, OOM) leaves no idle workers behind (they would wait on their queue
    forever). Elsewhere a no-op."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _released(call: tuple[Callable[[Any], Any], Any]) -> Any:
    fn, task = call
    configure_allocator()  # a Ray worker is not forked from the run: it sets its own
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
        pool = ProcessPoolExecutor(min(self.workers, len(tasks)), mp_context=mp.get_context("fork"),
                                   initializer=_die_with_parent)
        try:
            futures = [pool.submit(_released, (fn, t)) for t in tasks]
            for fut in as_completed(futures):
                yield fut.result()
        finally:  # on an error or a stop, tasks not started are cancelled; running ones finish
            pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Each task a Ray task: on a laptop a local Ray instance with `workers` CPUs, on a cluster the
    one at `address` (its nodes need corpusprep installed and the run's paths on a shared
    filesystem). A task whose worker process dies is retried by Ray (tasks write whole files
    atomically, so a retry gives the same output)."""

    def __init__(self, workers: int = 1, address: str = ""):
        try:
            import ray
        except ImportError:
            from pipeline.errors import ConfigError
            raise ConfigError("run.executor = 'ray' needs Ray: pip install 'corpusprep[ray]'") from None
        self.workers = max(1, int(workers))
        self._started = not ray.is_initialized()
        if self._started:
            _reachable(address)
            try:
                ray.init(address=address or None, num_cpus=None if address else self.workers,
                         include_dashboard=False, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
                from pipeline.errors import RunError

                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise RunError(f"cannot {'join the Ray cluster at ' + repr(address) if address else 'start Ray'}: "
                               f"{first}; check run.address (--address) and `ray status` on the head node") from None
        self._task = ray.remote(num_cpus=1, max_retries=3)(_released)

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        import ray

        pending = [self._task.remote((fn, t)) for t in tasks]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:  # on an error or a stop, tasks not started are cancelled
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        """Stop the local Ray instance this executor started (a joined cluster stays up)."""
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()


def _reachable(address: str, timeout: float = 5.0) -> None:
    """A HOST:PORT (or ray://HOST:PORT) address must accept a connection: Ray itself waits long
    and prints pages of retries before it gives up on one that does not."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local": Ray finds the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        from pipeline.errors import RunError

        raise RunError(f"cannot join the Ray cluster at {address!r}: {host}:{port} does not answer ({e}); "
                       "start it with `ray start --head` there, or check run.address (--address)") from None


def make_executor(kind: str, workers: int, address: str = "") -> Executor:
    """The executor a run asked for (`run.executor`)."""
    return RayExecutor(workers, address) if kind == "ray" else LocalExecutor(workers)
