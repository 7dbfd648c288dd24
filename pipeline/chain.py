"""Stages over parts: a chain of consecutive stages run on each part in memory, and a segment of
them run over every part of a folder.

A stage that needs a whole-stream pass (dedup, decontam) runs alone, its pass first; stages that
need none share a segment, so their documents never go through Parquet in between. Each stage
of a chain writes its drops and its marker for the part, and its kept documents where the run
reads them; a part cut short is redone whole (every write is atomic and gives the same bytes).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import atomic, stage_folder
from pipeline.config import StageSpec
from pipeline.errors import RunError
from pipeline.executor import Executor, configure_allocator, freeze_setup
from pipeline.groundtruth import ids_of, planted_pairs_found, recall_against_labels
from pipeline.io import read_part, read_part_table
from pipeline.progress import Progress
from pipeline.stage import Stage

log = logging.getLogger("corpusprep.run")
_STAGE_CACHE: dict[tuple[str, str, str], Stage] = {}


def make_stage(spec: StageSpec, state_dir: Path | None) -> Stage:
    """A set-up stage, cached per process so each worker loads models and lists once. A stage
    without a whole-stream pass does not depend on `state_dir`: the run sets it up in the parent
    before any pool forks, so local workers inherit it set up (models, compiled kernels)."""
    key = (spec.name, repr(spec.config), str(state_dir) if spec.cls.needs_prepare else "")
    if key not in _STAGE_CACHE:
        stage = spec.cls(spec.config, state_dir)
        stage.setup()
        if stage.needs_prepare:
            stage.load_state()
        _STAGE_CACHE[key] = stage
    return _STAGE_CACHE[key]


@dataclass(frozen=True)
class Chain:
    """Consecutive stages a task runs on each part in memory, and where each writes its files."""

    specs: tuple[StageSpec, ...]
    outs: tuple[str, ...]
    write_kept: tuple[bool, ...]  # the last is always True: the next step reads it
    keep_text: bool

    @property
    def by_table(self) -> bool:
        """One stage that decides by id alone: the part goes through it as an Arrow table."""
        return len(self.specs) == 1 and self.specs[0].cls.decides_by_id

    def apply(self, docs: list | pa.Table, name: str, where: str) -> None:
        """Per stage: its kept documents (where the run reads them), its drops, then its marker;
        the last stage's marker says the part is done. `docs` is a table where `by_table`."""
        for spec, out, kept in zip(self.specs, self.outs, self.write_kept):
            try:
                stage = make_stage(spec, Path(out) / stage_folder.STATE)
                stage.begin_part(name)
                res = (stage.apply_table(docs, keep_dropped_text=self.keep_text) if isinstance(docs, pa.Table)
                       else stage.apply(docs, keep_dropped_text=self.keep_text))
            except Exception as e:  # the traceback alone does not say which part: the note does
                e.add_note(f"corpusprep: while running stage {spec.name!r} on part {name} ({where})")
                raise
            stage_folder.write_part(Path(out), name, res.kept if kept else None, res.dropped, res.stats,
                                    measures=res.measures)
            docs = res.kept


def make_chain(specs: list[StageSpec], out_dirs: list[Path], write_kept: list[bool], keep_text: bool) -> Chain:
    return Chain(tuple(specs), tuple(str(d) for d in out_dirs), (*write_kept[:-1], True), keep_text)


def _segment_task(task: tuple[Chain, str]) -> str:
    """One part through a chain."""
    chain, in_path = task
    name = Path(in_path).stem
    try:
        docs = read_part_table(in_path) if chain.by_table else read_part(in_path)
    except Exception as e:
        e.add_note(f"corpusprep: while reading part {in_path}")
        raise
    chain.apply(docs, name, f"read from {in_path}")
    log.info("%s: part %s done", "+".join(s.name for s in chain.specs), name)
    return name


def _prepare(spec: StageSpec, parts: list[Path], state_dir: Path, executor: Executor) -> None:
    """The whole-stream pass of a stage that needs one (once; its result persists for resume)."""
    if (state_dir / stage_folder.STATE_DONE).exists():
        return
    stage = spec.cls(spec.config, state_dir)
    stage.setup()
    t0 = time.perf_counter()
    state_dir.mkdir(parents=True, exist_ok=True)
    prep = stage.prepare(parts, executor)
    prep.seconds = time.perf_counter() - t0
    atomic.write_json(state_dir / stage_folder.PREPARE_STATS, prep.to_dict())
    atomic.write_text(state_dir / stage_folder.STATE_DONE, "")


def run_segment(specs: list[StageSpec], in_dir: Path, out_dirs: list[Path], write_kept: list[bool],
                executor: Executor, keep_text: bool = True, progress: bool = True,
                labels: str = "") -> list[dict[str, Any]]:
    """Consecutive stages over every part of `in_dir`, one task per part. The last stage's kept
    documents are always written; the others' where `write_kept` says."""
    finished = [stage_folder.finished_stats(d) for d in out_dirs]
    if all(s is not None for s in finished):
        return finished  # type: ignore[return-value]
    configure_allocator()
    freeze_setup()  # `corpusprep stage` too: the collections after each task skip the set-up heap
    if len(specs) > 1 and any(s.cls.needs_prepare for s in specs):
        raise RunError("a stage with a whole-stream pass cannot share a segment")
    parts = stage_folder.part_files(in_dir)
    for d in out_dirs:
        d.mkdir(parents=True, exist_ok=True)
    if specs[0].cls.needs_prepare:
        _prepare(specs[0], parts, out_dirs[0] / stage_folder.STATE, executor)
    chain = make_chain(specs, out_dirs, write_kept, keep_text)
    todo = [(chain, str(p)) for p in parts if not stage_folder.part_done(out_dirs[-1], p.stem)]
    names = "+".join(s.name for s in specs)
    if parts:
        log.info("%s: %d part(s) to do, %d done before (resume)", names, len(todo), len(parts) - len(todo))
    else:  # the first stages run in the read task: their parts are done already
        log.info("%s: ran in the read, on each of %d part(s) as it was read", names,
                 len(stage_folder.done_markers(out_dirs[-1])))
    rows = {p.stem: pq.read_metadata(p).num_rows for p in parts}
    pending = {Path(t[1]).stem for t in todo}
    bar = Progress(names, sum(rows.values()), sum(n for k, n in rows.items() if k not in pending), "doc",
                   progress and bool(parts))  # none: the stages ran in the read
    for name in executor.map_unordered(_segment_task, todo):
        bar.update(rows[name])
    bar.close()
    return _summed(specs, out_dirs, labels)


def _summed(specs: list[StageSpec], out_dirs: list[Path], labels: str) -> list[dict[str, Any]]:
    """Each stage's stats, with its own summary and, where the input has labels, its recall."""
    kept_ids = ids_of(stage_folder.part_files(out_dirs[-1])) if labels else []
    all_drops = [stage_folder.merge_drops(d) for d in out_dirs]
    for d in out_dirs:
        stage_folder.merge_measures(d)
    drop_ids = [ids_of([p]) for p in all_drops] if labels else []
    out = []
    for k, (spec, d, drops) in enumerate(zip(specs, out_dirs, all_drops)):
        cls = spec.cls
        extra = cls(spec.config, d / stage_folder.STATE).summarize()
        if labels and cls.ground_truth_kinds:
            # what reached stage k: what the segment kept, plus what stage k and later dropped
            in_ids = kept_ids + [i for ids in drop_ids[k:] for i in ids]
            extra["ground_truth"] = recall_against_labels(labels, cls.ground_truth_kinds, in_ids, drops,
                                                          cls.ground_truth_breakdown)
            if cls.ground_truth_pairs:
                extra["ground_truth"]["pairs_by_jaccard"] = planted_pairs_found(labels, in_ids, drops)
        out.append(stage_folder.finalize(d, spec.name, extra))
    return out


def run_stage(spec: StageSpec, in_dir: Path, out_dir: Path, executor: Executor,
              keep_text: bool = True, progress: bool = True, labels: str = "") -> dict[str, Any]:
    """One stage alone, writing its kept documents (`corpusprep stage`, and `stage_outputs = all`)."""
    return run_segment([spec], in_dir, [out_dir], [True], executor, keep_text, progress, labels)[0]
