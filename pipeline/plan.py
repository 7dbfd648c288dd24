"""How a run executes its stages: which run fused in one task a part, which outputs are written.

With `run.stage_outputs = needed`, consecutive stages without a whole-stream pass share a
segment; the first segment, when it is such, runs inside the read task; a stage's kept documents
are written only where the run reads them (the next segment, shard variants). With `all`, every
stage runs alone and writes its output. Drops, stats and the card are the same either way.
"""
from __future__ import annotations

from pathlib import Path

from pipeline import stage_folder
from pipeline.chain import Chain, make_chain
from pipeline.config import RunConfig


def stage_dirs(cfg: RunConfig) -> list[Path]:
    """The read's folder, then each stage's, in run order."""
    out = Path(cfg.run.output)
    return [stage_folder.read_dir(out)] + [stage_folder.stage_dir(out, i, s.name) for i, s in enumerate(cfg.stages)]


def _fusable(cfg: RunConfig, i: int) -> bool:
    """Whether stage i may run in one task with its neighbours: only with `stage_outputs = needed`
    (`all` writes every stage's output) and only without a whole-stream pass."""
    return cfg.run.stage_outputs == "needed" and not cfg.stages[i].cls.needs_prepare


def segments(cfg: RunConfig) -> list[list[int]]:
    """Stage indices grouped as the run executes them: consecutive fusable stages share a
    segment; every other stage runs alone."""
    groups: list[list[int]] = []
    for i in range(len(cfg.stages)):
        if _fusable(cfg, i) and i > 0 and _fusable(cfg, i - 1):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def read_chain(cfg: RunConfig) -> Chain | None:
    """The first segment, run inside the read task on each part as it is read, when it is
    fusable: the raw input then never goes through Parquet."""
    first = segments(cfg)[0] if cfg.stages else []
    if not first or not _fusable(cfg, first[0]):
        return None
    dirs, needed = stage_dirs(cfg), needed_outputs(cfg)
    return make_chain([cfg.stages[i] for i in first], [dirs[i + 1] for i in first],
                      [i in needed for i in first], cfg.run.keep_dropped_text)


def needed_outputs(cfg: RunConfig) -> set[int]:
    """Stages whose kept documents the run reads after them: each segment's last (the next
    stage's input, or the run's result) and the sources of shard variants."""
    if cfg.run.stage_outputs == "all":
        return set(range(len(cfg.stages)))
    names = set(cfg.shards.variants.values()) if cfg.shards is not None else set()
    return {g[-1] for g in segments(cfg)} | {i for i, s in enumerate(cfg.stages) if s.name in names}
