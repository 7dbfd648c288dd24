"""Benchmark test sets from local files, described by a field mapping instead of code.

A benchmark is `name`, `path` (file, folder or glob) and `fields`: the fields whose values make
an item's text (e.g. question + answer). Formats: JSONL, JSON array, JSON object holding a list,
CSV/TSV with any delimiter (sniffed), Parquet, and a saved `datasets` dataset. Files that are not
UTF-8 fall back to cp1252 (MMLU-Redux's moral_scenarios is such a file) and say so.
"""
from __future__ import annotations

import ast
import csv
import glob as globmod
import gzip
import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.stage import ConfigError


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    path: str
    fields: tuple[str, ...]
    format: str = "auto"  # jsonl | json | csv | parquet | datasets | auto
    split: str = "test"   # for a saved DatasetDict


@dataclass
class Benchmark:
    name: str
    items: list[str]
    notes: list[str] = field(default_factory=list)


def _read_bytes_text(path: Path, notes: list[str]) -> str:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        notes.append(f"{path.name}: not valid UTF-8, read as cp1252")
        return data.decode("cp1252", errors="replace")


def _value_text(v: Any) -> str:
    """A field's value as text; list-valued fields (MMLU choices) become one line per entry."""
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "\n".join(_value_text(x) for x in v)
    if isinstance(v, str) and v.startswith("[") and v.endswith("]"):
        try:
            parsed = ast.literal_eval(v)
            if isinstance(parsed, list):
                return "\n".join(map(str, parsed))
        except (ValueError, SyntaxError):
            pass
    return str(v)


def _records(path: Path, fmt: str, split: str, notes: list[str]) -> list[dict[str, Any]]:
    name = path.name.lower()
    if fmt == "auto":
        fmt = ("jsonl" if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")) else
               "json" if name.endswith((".json", ".json.gz")) else
               "csv" if name.endswith((".csv", ".tsv", ".csv.gz")) else
               "parquet" if name.endswith(".parquet") else
               "datasets" if path.is_dir() else "")
    if fmt == "jsonl":
        return [json.loads(l) for l in _read_bytes_text(path, notes).splitlines() if l.strip()]
    if fmt == "json":
        obj = json.loads(_read_bytes_text(path, notes))
        if isinstance(obj, dict):
            lists = [v for v in obj.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise ConfigError(f"{path}: a JSON object must hold exactly one list of items")
            obj = lists[0]
        if not isinstance(obj, list):
            raise ConfigError(f"{path}: expected a JSON array of items")
        return obj
    if fmt == "csv":
        text = _read_bytes_text(path, notes)
        # The header line decides the delimiter: csv.Sniffer is misled by commas inside
        # quoted answers of semicolon-delimited files.
        header = text.split("\n", 1)[0]
        delim = max(",;\t|", key=header.count)
        return list(csv.DictReader(io.StringIO(text), delimiter=delim))
    if fmt == "parquet":
        import pyarrow.parquet as pq
        return pq.read_table(path).to_pylist()
    if fmt == "datasets":
        import datasets
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[split]
        return ds.to_list()
    raise ConfigError(f"benchmark file {path}: unknown format; use jsonl, json, csv, parquet "
                      "or a saved datasets folder (set format)")


@lru_cache(maxsize=32)  # setup, the index and the report all read the same files
def load_benchmark(spec: BenchmarkSpec) -> Benchmark:
    paths = sorted(Path(p) for p in globmod.glob(spec.path)) if any(c in spec.path for c in "*?[") \
        else [Path(spec.path)]
    if not paths or not all(p.exists() for p in paths):
        raise ConfigError(f"benchmark {spec.name!r}: {spec.path} not found")
    if not spec.fields:
        raise ConfigError(f"benchmark {spec.name!r}: `fields` must name at least one field")
    notes: list[str] = []
    items: list[str] = []
    for p in paths:
        recs = _records(p, spec.format, spec.split, notes)
        for i, r in enumerate(recs):
            missing = [f for f in spec.fields if f not in r]
            if missing:
                have = ", ".join(map(str, list(r)[:10]))
                raise ConfigError(f"benchmark {spec.name!r}: {p} item {i + 1} has no field(s) "
                                  f"{', '.join(missing)} (has: {have}); fix `fields`")
            items.append("\n".join(_value_text(r[f]) for f in spec.fields).strip())
    return Benchmark(spec.name, items, notes)


def default_benchmarks() -> list[BenchmarkSpec]:
    """GSM8K, HumanEval and MMLU-Redux from ../shared/data when present, else the built-in sample."""
    from pipeline.resources import PACKAGE_DATA, shared_data_dir

    shared = shared_data_dir()
    if shared and (shared / "benchmarks").is_dir():
        b = shared / "benchmarks"
        return [BenchmarkSpec("gsm8k", str(b / "gsm8k_test.jsonl"), ("question", "answer")),
                BenchmarkSpec("humaneval", str(b / "HumanEval.jsonl.gz"), ("prompt", "canonical_solution")),
                BenchmarkSpec("mmlu_redux", str(b / "mmlu_redux" / "mmlu_*.csv"), ("question", "choices"))]
    return [BenchmarkSpec("sample_math", str(PACKAGE_DATA / "benchmark_sample.jsonl"),
                          ("question", "answer"))]
