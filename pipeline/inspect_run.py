"""A finished run as `corpusprep inspect` and `corpusprep card html` read it: its step folders, each
stage's settings as the run had them, its drops and stored measures, and any document's text at
any step, found by id without reading the corpus into memory.

Why a view of its own: every question `inspect` answers ("why was this dropped", "what would
this threshold do") is a lookup in files the run already wrote (drops.parquet, measures.parquet,
dedup's removals, decontam's matches); this module is the one place that knows where they are.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import stage_folder
from pipeline.errors import ConfigError
from pipeline.settings import apply_overrides, build


@dataclass
class RunView:
    """A run output folder, read-only."""

    root: Path

    @classmethod
    def open(cls, where: str | Path) -> "RunView":
        """A run output folder, or a card folder whose report names one (matched by config hash)."""
        p = Path(where)
        if (p / stage_folder.RECORD).exists():
            return cls(p)
        report = p / stage_folder.REPORT
        if report.exists():
            r = json.loads(report.read_text())
            out = Path(r.get("config", {}).get("run", {}).get("output", ""))
            for cand in (out, p.parent.parent / "configs" / out, Path.cwd() / out):
                rec = cand / stage_folder.RECORD
                if rec.exists() and json.loads(rec.read_text()).get("config_hash") == r.get("config_hash"):
                    return cls(cand.resolve())
            raise ConfigError(f"{p} is a card; its run's output folder ({out}) is not here with the same config "
                              "hash: give the run's output folder")
        raise ConfigError(f"{p}: no {stage_folder.RECORD}; give a run's output folder (run.output) or its card folder")

    @cached_property
    def record(self) -> dict[str, Any]:
        return json.loads((self.root / stage_folder.RECORD).read_text())

    @cached_property
    def folders(self) -> dict[str, Path]:
        """Step name -> folder, in run order (read first)."""
        return stage_folder.stage_folders(self.root)

    def folder(self, stage: str) -> Path:
        if stage not in self.folders:
            raise ConfigError(f"no stage {stage!r} in {self.root}; its steps: {', '.join(self.folders)}")
        return self.folders[stage]

    def stage_table(self, stage: str) -> dict[str, Any]:
        for s in self.record["config"].get("stages", []):
            if s.get("name") == stage:
                return {k: v for k, v in s.items() if k != "name"}
        raise ConfigError(f"no stage {stage!r} in {self.root}'s config")

    def stage_config(self, stage: str, overrides: list[str] = ()) -> Any:
        """The stage's Config as the run had it, with `overrides` (KEY=VALUE) on top."""
        from pipeline.stages import get_stage

        values = apply_overrides(dict(self.stage_table(stage)), list(overrides))
        return build(get_stage(stage).Config, values, f"stages.{stage}")

    def stage(self, name: str, config: Any = None) -> Any:
        """The stage object (not set up: deciding from stored files needs no models)."""
        from pipeline.stages import get_stage

        return get_stage(name)(config or self.stage_config(name), self.folder(name) / stage_folder.STATE)

    def drops_file(self, stage: str) -> Path:
        return self.folder(stage) / stage_folder.DROPS_FILE

    def measures_file(self, stage: str) -> Path | None:
        """The stage's stored measures (None: it stores none)."""
        f = self.folder(stage) / stage_folder.MEASURES_FILE
        return f if f.exists() else None

    def written(self, stage: str) -> bool:
        """Whether the step's kept documents were written (run.stage_outputs decides)."""
        return bool(stage_folder.part_files(self.folder(stage)))

    def scan(self, files: list[Path], column: str, values: Any, columns: list[str] | None = None) -> pa.Table:
        """The rows of Parquet files whose `column` is one of `values` (a str or a list), a row
        group at a time: `column` first, the other columns only of a row group that has a match,
        so memory is one row group (a part, or a thousand drops), whatever the corpus size."""
        want = pa.array([values] if isinstance(values, str) else list(values), pa.string())
        found = []
        for f in files:
            if not f.exists():
                continue
            pf = pq.ParquetFile(f)
            for g in range(pf.num_row_groups):
                mask = pc.is_in(pf.read_row_group(g, columns=[column])[column], value_set=want)
                if pc.any(mask).as_py():
                    found.append(pf.read_row_group(g, columns=columns).filter(mask))
        if found:
            return pa.concat_tables(found)
        return pa.table({c: pa.array([], pa.string()) for c in (columns or [column])})

    def find(self, files: list[Path], doc_id: str, columns: list[str]) -> dict[str, Any] | None:
        """One row by id from Parquet files."""
        t = self.scan(files, "id", doc_id, columns)
        return t.slice(0, 1).to_pylist()[0] if len(t) else None

    def kept_text(self, stage: str, doc_id: str) -> str | None:
        """The document's text as `stage` kept it, where the run wrote that stage's output."""
        row = self.find(stage_folder.part_files(self.folder(stage)), doc_id, ["id", "text"])
        return row["text"] if row else None

    def drop_of(self, stage: str, doc_id: str) -> dict[str, Any] | None:
        return self.find([self.folder(stage) / stage_folder.DROPS_FILE], doc_id,
                         ["id", "reason", "detail", "url", "text"])

    def text_into(self, stage: str, doc_id: str) -> str | None:
        """The document's text as it reached `stage`: the step before's output, or, for a document
        the stage dropped, its drop (where the run kept dropped texts)."""
        names = list(self.folders)
        i = names.index(stage)
        if i > 0 and self.written(names[i - 1]):
            t = self.kept_text(names[i - 1], doc_id)
            if t is not None:
                return t
        d = self.drop_of(stage, doc_id)
        return d["text"] if d and d["text"] else None
