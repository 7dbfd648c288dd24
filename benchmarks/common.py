"""Helpers shared by the benchmark scripts (not tests): the default corpus, a timer, and the
quick mode every benchmark has (`--quick`: tiny inputs, one round, seconds; tests/test_benchmarks.py
runs each so, so that a benchmark cannot break unseen)."""
from __future__ import annotations

import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the checkout's packages, also when corpusprep is not installed

SAMPLE = Path(os.environ.get("CORPUSPREP_SAMPLE", REPO / "out" / "sample"))  # the tests give theirs
QUICK = "--quick" in sys.argv
# the default run, shrunk for --quick: its first 300 documents, a small budget, no mixes
QUICK_RUN = ["run.limit=300", 'shards.budgets=["10K"]', 'shards.validation_tokens="2K"', "shards.mixes={}"]


def rounds(n: int) -> int:
    """How many rounds to time: one in quick mode."""
    return 1 if QUICK else n


def sized(n: int, quick: int) -> int:
    """An input size: `quick` in quick mode."""
    return quick if QUICK else n


def default_corpus_dir() -> Path:
    from pipeline.sample.build import build_sample

    if not (SAMPLE / "manifest.json").exists():
        build_sample(SAMPLE, seed=0)
    return SAMPLE


def default_run_settings() -> list[str]:
    """`--set` values that point configs/default.toml at the default corpus (built if missing,
    where $CORPUSPREP_SAMPLE says), shrunk in quick mode."""
    corpus = default_corpus_dir()
    return [f"input.path={corpus / 'warc'}", f"input.labels={corpus / 'labels.jsonl'}"] + (QUICK_RUN if QUICK else [])


def raw_pages():
    """The default corpus's pages as Documents (HTML text), read once."""
    from pipeline.document import Document
    from pipeline.readers import InputConfig, list_sources, read_source

    cfg = InputConfig(path=str(default_corpus_dir() / "warc"))
    return [d for s in list_sources(cfg).sources for d in read_source(s, cfg) if isinstance(d, Document)]


@contextmanager
def timed() -> Iterator[dict]:
    out: dict = {}
    t0 = time.perf_counter()
    yield out
    out["seconds"] = time.perf_counter() - t0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def have_datatrove() -> bool:
    """DataTrove as a peer: its English word tokenizer needs spaCy, which its own requirements leave
    out (the [bench] extra has both; the [readers] extra brings DataTrove alone, for its reader)."""
    return have("datatrove") and have("spacy")


def have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False
