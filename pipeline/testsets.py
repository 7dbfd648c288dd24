"""Benchmark test sets from local files, described by a field mapping instead of code.

A benchmark is `name`, `path` (file, folder or glob) and `fields`: the fields whose values make
an item's text (e.g. question + answer). Formats: JSONL, JSON array, JSON object holding a list,
a folder of JSON files (one item an object), CSV/TSV with any delimiter (sniffed), Parquet, and a
saved `datasets` dataset. JSON and JSONL are told apart by content and gzip by its magic bytes,
since files are often shipped under the other name. Files that are not
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

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    path: str
    fields: tuple[str, ...]
    format: str = "auto"  # json (JSON or JSONL, told by content) | jsonl | csv | parquet | datasets | folder | auto
    split: str = "test"   # for a saved DatasetDict


@dataclass
class Benchmark:
    name: str
    items: list[str]
    notes: list[str] = field(default_factory=list)


def _read_bytes_text(path: Path, notes: list[str]) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip by its magic bytes, whatever the name says
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ConfigError(f"benchmark file {path}: gzip data that cannot be read ({e}); re-fetch "
                              f"the file") from None
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


JSON_NAMES = (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz")


def _json_items(path: Path, text: str) -> list[Any]:
    """JSON and JSONL told apart by content, not by name (JSONL files are often shipped as
    `.json`): one JSON value for the whole file is JSON; otherwise every line is one item."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as whole:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as e:
                if n == 1:  # neither one JSON value nor one value a line
                    raise ConfigError(f"benchmark file {path}: not JSON ({whole.msg} at line {whole.lineno} "
                                      f"column {whole.colno}) and not JSONL ({e.msg} on line 1); fix the file or "
                                      "set format = \"csv\" or \"parquet\" if it is one") from None
                raise ConfigError(f"benchmark file {path} line {n}: {e.msg} at column {e.colno} (read as JSONL, "
                                  "one item a line, since the file is not one JSON value); fix that line") from None
        return items
    if isinstance(obj, dict):
        lists = [v for v in obj.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        return lists[0] if len(lists) == 1 else [obj]  # {"data": [items]} or one item an object
    if not isinstance(obj, list):
        raise ConfigError(f"benchmark file {path}: a JSON {type(obj).__name__}, expected an array of items, "
                          "an object holding one, or one item an object")
    return obj


def _records(path: Path, fmt: str, split: str, notes: list[str]) -> list[dict[str, Any]]:
    name = path.name.lower()
    if fmt == "auto":
        fmt = ("json" if name.endswith(JSON_NAMES) else
               "csv" if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")) else
               "parquet" if name.endswith(".parquet") else
               "datasets" if path.is_dir() and any((path / f).exists() for f in
                                                   ("dataset_info.json", "dataset_dict.json", "state.json")) else
               "folder" if path.is_dir() else "")
    if fmt in ("json", "jsonl"):
        return _json_items(path, _read_bytes_text(path, notes))
    if fmt == "folder":  # e.g. one JSON object a task
        files = sorted(f for f in path.rglob("*") if f.is_file() and f.name.lower().endswith(JSON_NAMES))
        if not files:
            raise ConfigError(f"benchmark folder {path}: no .json/.jsonl file in it; point path at the files "
                              "or a saved datasets folder (format = \"datasets\")")
        return [r for f in files for r in _records(f, "json", split, notes)]
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
    raise ConfigError(f"benchmark file {path}: unknown format; set format to json (JSON or JSONL), csv, "
                      "parquet or datasets")


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
            if not isinstance(r, dict):
                raise ConfigError(f"benchmark {spec.name!r}: {p} item {i + 1} is a {type(r).__name__}, "
                                  "not an object with fields; fix the file or `path`")
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
