"""corpusprep's corpus pipeline.

Allocator settings, process-wide, because stages plan with memory caps (dedup.memory_mb) that
only mean something if freed memory goes back to the OS (measured on merging 50 MB of drops:
peak 295 -> 191 MB, kept afterwards 248 -> 144 MB):
- Arrow's buffers come from the C library's allocator, not Arrow's bundled mimalloc, which kept
  ~60 MB more resident after reading 50 small Parquet files;
- glibc serves blocks of 1 MB and more with mmap, returned on free; by default it raises that
  threshold after each large free, and large buffers then stay in its heap.
"""
import ctypes as _ctypes

import pyarrow as _pa

_pa.set_memory_pool(_pa.system_memory_pool())
try:
    _ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD = 1 MiB (fixed)
except (OSError, AttributeError):  # not glibc
    pass
