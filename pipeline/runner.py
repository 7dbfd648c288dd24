"""Config -> read -> stages -> shards -> card: a resumable, streaming run.

The rooms: `stage_folder` (the layout of a run's folders), `read_step` (the read), `chain` (stages
over parts), `plan` (which stages fuse, which outputs are needed), `run_report` (what the card is
made from); this module runs them in order, resumes, and keeps the clock.

A part is finished when its marker exists; `--resume` skips finished parts and sources, so a
killed run completes without redoing work and without duplicating or losing documents.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import atomic, stage_folder
from pipeline.card import write_card
from pipeline.chain import make_stage, run_segment
from pipeline.config import RunConfig
from pipeline.errors import RunError, warn
from pipeline.executor import Executor, freeze_setup, make_executor
from pipeline.plan import needed_outputs, read_chain, segments, stage_dirs
from pipeline.read_step import check_input, run_read
from pipeline.readers import Listing
from pipeline.remote import RemoteRun, localize
from pipeline.run_report import run_report
from pipeline.startup import check_output


@dataclass
class RunResult:
    out_dir: Path
    report: dict[str, Any]
    card_path: Path | None


def run(cfg: RunConfig, resume: bool = False, progress: bool = True, executor: Executor | None = None) -> RunResult:
    """Run every stage of `cfg`; with `resume`, continue a killed run of the same config (under
    any worker count or executor: run.workers, run.executor and run.address say where it runs).
    The output folder, the input and the stages' lists and models are checked before anything is
    written or any executor (Ray) starts."""
    cfg, remote = localize(cfg, resume)  # remote paths: scratch copies, pushed back after each step
    prior = check_output(Path(cfg.run.output), cfg.config_hash(), cfg.source, resume)
    listing = check_input(cfg.input, cfg.run.part_docs, tuple(s.name for s in cfg.stages))
    for spec in cfg.stages:  # fail on bad lists/models before any data is read
        if spec.cls.needs_prepare:
            spec.cls(spec.config).setup()
        else:
            make_stage(spec, None)  # kept: forked workers inherit it
    own = executor is None
    executor = executor or make_executor(cfg.run.executor, cfg.run.workers, cfg.run.address)
    try:
        return _run(cfg, prior, listing, progress, executor, remote)
    finally:
        if own and hasattr(executor, "close"):
            executor.close()


def _run(cfg: RunConfig, prior: dict[str, Any], listing: Listing, progress: bool, executor: Executor,
         remote: RemoteRun) -> RunResult:
    out = Path(cfg.run.output)
    if prior:
        stage_folder.remove_temp_files(out)  # left by a killed process; never read, never reused
    freeze_setup()
    started = prior.get("stage_outputs", cfg.run.stage_outputs)
    if started != cfg.run.stage_outputs:
        raise RunError(f"{out} was started with run.stage_outputs = {started!r}; resume it "
                       f"with the same setting (it decides which files a finished part has)")
    meta = {"config_hash": cfg.config_hash(), "config": cfg.source, "stage_outputs": cfg.run.stage_outputs,
            "card_dir": str((Path(cfg.run.cards_dir) / cfg.run.name).resolve())}  # where `export` lists itself
    clock = _RunClock(out / stage_folder.RECORD, meta, prior.get("seconds", 0.0), remote)
    dirs = stage_dirs(cfg)
    needed = needed_outputs(cfg)
    stats = [run_read(cfg.input, dirs[0], executor, cfg.run.part_docs, listing, progress, read_chain(cfg),
                      cfg.run.limit)]
    for line in stats[0].get("warnings", []):
        warn(line)
    clock.lap()
    for seg in segments(cfg):  # a segment fused into the read finds its parts done, and sums them up
        stats += run_segment([cfg.stages[i] for i in seg], dirs[seg[0]], [dirs[i + 1] for i in seg],
                             [i in needed for i in seg], executor, cfg.run.keep_dropped_text,
                             progress, cfg.input.labels)
        clock.lap()
    for prev, cur in zip(stats, stats[1:]):  # nothing lost between stages either
        if cur["docs_in"] != prev["docs_out"]:
            raise RunError(f"accounting broken between {prev['stage']} and {cur['stage']}: "
                           f"{prev['docs_out']} kept, {cur['docs_in']} read next")
    shards = run_shards(cfg, dirs, progress) if cfg.shards is not None else None
    attempt = clock.attempt()
    report = run_report(cfg, listing, stats, clock.before + attempt, shards)
    report["seconds_this_attempt"] = round(attempt, 3)
    clock.lap()
    atomic.write_json(out / stage_folder.REPORT, report)
    stage_folder.remove_temp_files(out)  # left by a worker killed mid-write and retried
    card = write_card(report, Path(cfg.run.cards_dir) / cfg.run.name)
    remote.after_card()
    return RunResult(out, report, card)


class _RunClock:
    """A run's wall time summed over its attempts, kept in run.json after every step: the card of
    a resumed run says what the whole run took, not what its last attempt did (0.0 s for a re-run
    that found everything done). A killed attempt counts up to its last finished step."""

    def __init__(self, record: Path, meta: dict[str, Any], before: float, remote: RemoteRun):
        self.path, self.meta, self.before, self.t0 = record, meta, float(before), time.perf_counter()
        self.remote = remote
        self.lap()

    def attempt(self) -> float:
        return time.perf_counter() - self.t0

    def lap(self) -> None:
        """After each step: the time so far, and a remote output brought up to date."""
        atomic.write_json(self.path, {**self.meta, "seconds": round(self.before + self.attempt(), 3)})
        self.remote.after_step()


def run_shards(cfg: RunConfig, dirs: list[Path], progress: bool) -> dict[str, Any]:
    """The run's last step: token shards from the named stages' outputs (skipped when done)."""
    from pipeline.shard_format import MANIFEST, read_manifest
    from pipeline.shards import build_shards

    out = Path(cfg.run.output) / stage_folder.SHARDS
    if (out / MANIFEST).exists():
        done = read_manifest(out)
        if done.source_config_hash == cfg.config_hash():
            return done.raw
    variants, drops = shard_inputs(cfg, dirs)
    return build_shards(variants, out, cfg.shards, cfg.config_hash(), progress, drops)


def shard_inputs(cfg: RunConfig, dirs: list[Path]) -> tuple[dict[str, Path], dict[str, Path]]:
    """The shards step's inputs in a run: each variant's stage folder, and each stage's drops."""
    by_name = {s.name: d for s, d in zip(cfg.stages, dirs[1:])}
    variants = {v: by_name[stage] for v, stage in cfg.shards.variants.items()}
    return variants, {name: d / stage_folder.DROPS_FILE for name, d in by_name.items()}
