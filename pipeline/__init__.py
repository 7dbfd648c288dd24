"""corpusprep's corpus pipeline: read -> stages -> token shards, with a data card for every run.

Importing it changes nothing process-wide; the allocator settings the runs need are applied where
a run or a worker task starts (pipeline.executor.configure_allocator).
"""
