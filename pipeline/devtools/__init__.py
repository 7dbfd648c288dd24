"""Tools for the tests and benchmarks, not for a run: peak-RSS measurement of a child process
(procmem), scoring extraction against real pages' ground truth (extraction_eval) and
synthetic token shards for training tests (synthetic). Nothing in a run imports them."""
