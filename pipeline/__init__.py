"""corpusprep's corpus pipeline.

Arrow's buffers come from the C library's allocator rather than Arrow's bundled mimalloc: reading
50 small Parquet files kept ~60 MB more resident with mimalloc (measured), which a long run's
parent process then passes to every worker it forks, against the memory caps stages plan with.
"""
import pyarrow as _pa

_pa.set_memory_pool(_pa.system_memory_pool())
