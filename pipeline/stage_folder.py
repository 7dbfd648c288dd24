"""The format of a run's folders: the one module that knows their folder and file names.

    run.json                 the config as read, its hash, and the wall time of all attempts so far
                             (`corpusprep stage` writes stage.json and reads into _read/ instead)
    00_read/                 raw input as Parquet parts (the unit of parallelism and resume)
      part-SSSSS-CCCCC.parquet  kept documents      (source S, chunk C); not written when the
                             first stages run fused into the read
      _ids/                  each part's ids and their records, for the uniqueness check
      _sources/              one marker per finished source
      drops.parquet          records that could not be read, with the reason
      stats.json             counts; _done/ holds one marker per finished part
    01_<stage>/ ...          one folder per stage, parts aligned 1:1 with the previous stage;
      measures.parquet       a rule stage's per-document measures (safety, quality), kept and dropped
      _state/                a stage's whole-stream pass (dedup's signatures, decontam's index);
                             _SUCCESS and prepare_stats.json once it has finished
    report.json              the whole run: config, every stage's counts, timings, versions
    shards/                  token shards and their manifest (pipeline/shard_format.py)

Every file is written atomically, and a part's marker last, so a marker only ever points at
whole files: a part is finished when its marker exists.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import atomic
from pipeline.document import Document, DroppedDoc
from pipeline.errors import RunError
from pipeline.io import DROP_SCHEMA, docs_to_table, drops_to_table
from pipeline.stage import StageStats

RECORD = "run.json"
REPORT = "report.json"
STATS = "stats.json"
DROPS_FILE = "drops.parquet"
SHARDS = "shards"
DONE = "_done"  # a marker per finished part
SOURCES_DONE = "_sources"  # the read: a marker per finished source
DROPS = "_drops"  # each part's drops, merged into drops.parquet when the stage ends
MEASURES_FILE = "measures.parquet"
MEASURES = "_measures"  # each part's measures, merged into measures.parquet when the stage ends
IDS = "_ids"  # the read: each part's ids
STATE = "_state"
STATE_DONE = "_SUCCESS"  # in _state/: the whole-stream pass finished
PREPARE_STATS = "prepare_stats.json"  # in _state/: that pass's counts and time
STAGE_RECORD = "stage.json"  # `corpusprep stage`'s output: its settings and their hash
STAGE_READ = "_read"  # `corpusprep stage`'s output: the read it ran the stage on
# files a folder may hold beside its inputs without being counted as unread
NOT_INPUTS = (DROPS_FILE, MEASURES_FILE, STATS, REPORT, RECORD, STAGE_RECORD)
IDS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string())])


def read_dir(run: Path) -> Path:
    return run / "00_read"


def stage_dir(run: Path, index: int, name: str) -> Path:
    """The folder of the run's stage number `index` (0-based) named `name`."""
    return run / f"{index + 1:02d}_{name}"


def stage_folders(run: Path) -> dict[str, Path]:
    """A run's step folders by step name (read, then its stages), in run order."""
    return {d.name.split("_", 1)[1]: d for d in sorted(run.glob("[0-9][0-9]_*")) if d.is_dir()}


def part_name(source: int, chunk: int) -> str:
    return f"part-{source:05d}-{chunk:05d}"


def part_files(folder: Path) -> list[Path]:
    """The kept-document parts of a finished stage, in run order."""
    return sorted(p for p in folder.glob("part-*.parquet"))


def done_markers(folder: Path) -> list[Path]:
    return sorted((folder / DONE).glob("*.json"))


def part_done(folder: Path, name: str) -> bool:
    return (folder / DONE / f"{name}.json").exists()


def write_part(folder: Path, name: str, docs: list[Document] | pa.Table | None, drops: list[DroppedDoc] | pa.Table,
               stats: StageStats, extra: dict[str, Any] | None = None, measures: pa.Table | None = None) -> None:
    """Kept docs (unless None: not needed), then drops and measures, then the marker; lists, or
    tables already in the Parquet layout."""
    if docs is not None:
        atomic.write_parquet(folder / f"{name}.parquet", docs if isinstance(docs, pa.Table) else docs_to_table(docs))
    atomic.write_parquet(folder / DROPS / f"{name}.parquet",
                         drops if isinstance(drops, pa.Table) else drops_to_table(drops))
    if measures is not None:
        atomic.write_parquet(folder / MEASURES / f"{name}.parquet", measures)
    atomic.write_json(folder / DONE / f"{name}.json", {"stats": stats.to_dict(), **(extra or {})})


def write_ids(folder: Path, name: str, docs: list[Document]) -> None:
    atomic.write_parquet(folder / IDS / f"{name}.parquet", pa.table(
        {"id": [d.id for d in docs], "source": [d.meta.get("source", "") for d in docs]}, schema=IDS_SCHEMA))


def ids_files(folder: Path) -> list[Path]:
    return sorted((folder / IDS).glob("*.parquet"))


def source_marker(folder: Path, index: int) -> Path:
    return folder / SOURCES_DONE / f"source-{index:05d}.json"


def source_markers(folder: Path) -> list[Path]:
    return sorted((folder / SOURCES_DONE).glob("*.json"))


def source_done(folder: Path, index: int) -> bool:
    """A source counts as read when its marker exists and each of its parts has its ids file: a
    run started by a corpusprep older than the ids files reads such a source again, so the
    uniqueness check sees every id (the rewrite gives the same bytes)."""
    marker = source_marker(folder, index)
    return marker.exists() and all((folder / IDS / f"{name}.parquet").exists()
                                   for name in json.loads(marker.read_text())["parts"])


def merge_drops(folder: Path) -> Path:
    """Merge per-part drops into drops.parquet (in part order), one part in memory at a time."""
    return _merge(sorted((folder / DROPS).glob("*.parquet")), folder / DROPS_FILE, DROP_SCHEMA)


def merge_measures(folder: Path) -> Path | None:
    """Merge per-part measures into measures.parquet, as drops; None where the stage stores none."""
    parts = sorted((folder / MEASURES).glob("*.parquet"))
    return _merge(parts, folder / MEASURES_FILE, pq.read_schema(parts[0])) if parts else None


def _merge(parts: list[Path], out: Path, schema: pa.Schema) -> Path:
    with atomic.atomic_path(out) as tmp:
        with pq.ParquetWriter(tmp, schema, **atomic.PARQUET_OPTIONS) as writer:
            for p in parts:
                for batch in pq.ParquetFile(p).iter_batches(batch_size=1000):
                    writer.write_batch(batch)
    return out


def finalize(folder: Path, name: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sum per-part stats (and the whole-stream pass's) into stats.json, checking that every
    document is accounted for."""
    stats = StageStats()
    for m in done_markers(folder):
        stats.merge(StageStats.from_dict(json.loads(m.read_text())["stats"]))
    prep = folder / STATE / "prepare_stats.json"
    if prep.exists():  # the whole-stream pass: its time and counters (no documents)
        stats.merge(StageStats.from_dict(json.loads(prep.read_text())))
    out = {"stage": name, **stats.to_dict(), **(extra or {})}
    if out["docs_in"] != out["docs_out"] + out["docs_dropped"]:
        raise RunError(f"{folder}: accounting broken: {out['docs_in']} in != "
                       f"{out['docs_out']} kept + {out['docs_dropped']} dropped")
    write_stats(folder, out)
    return out


def write_stats(folder: Path, stats: dict[str, Any]) -> None:
    atomic.write_json(folder / STATS, stats)


def finished_stats(folder: Path) -> dict[str, Any] | None:
    """A finished stage's stats (None: not finished)."""
    return json.loads((folder / STATS).read_text()) if (folder / STATS).exists() else None


def remove_temp_files(run: Path) -> None:
    """Delete the temp files of atomic writes that never finished (their writer was killed)."""
    for tmp in run.rglob(".*.tmp"):
        tmp.unlink()
