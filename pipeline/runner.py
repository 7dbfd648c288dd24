"""Config -> stages -> executor: a resumable, streaming run.

Layout of a run's output folder (every file written atomically):

    run.json                 the config as read, its hash, and the wall time of all attempts so far
    00_read/                 raw input as Parquet parts (the unit of parallelism and resume)
      part-SSSSS-CCCCC.parquet  kept documents      (source S, chunk C); not written when the
                             first stages run fused into the read (below)
      _ids/                  each part's ids and their records, for the uniqueness check
      drops.parquet          records that could not be read, with the reason
      stats.json             counts; _done/ holds one marker per finished source or part
    01_<stage>/ ...          one folder per stage, parts aligned 1:1 with the previous stage
    report.json              RunReport: config, every stage's counts, timings, versions

With `run.stage_outputs = needed`, consecutive stages without a whole-stream pass run fused, one
task per part; when the first stages are such, they run in the read task on each part as it is
read, so the raw input (the largest data of a web crawl) never goes through Parquet.

A part is finished when its marker exists; `--resume` skips finished parts and sources, so a
killed run completes without redoing work and without duplicating or losing documents.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from pipeline import atomic
from pipeline.card import write_card
from pipeline.config import RunConfig, StageSpec
from pipeline.errors import InputError, RunError, warn
from pipeline.executor import Executor, configure_allocator, freeze_setup, make_executor, release_memory
from pipeline.groundtruth import ids_of, planted_pairs_found, recall_against_labels
from pipeline.io import DROP_SCHEMA, docs_to_table, drops_to_table, read_part
from pipeline.read_summary import read_warnings
from pipeline.readers import Count, InputConfig, Listing, Skip, Source, check_sources, list_sources, read_source
from pipeline.stage import Stage, StageStats
from pipeline.stages import get_stage
from pipeline.startup import check_output
from pipeline.text import hash64

log = logging.getLogger("corpusprep.run")
DONE = "_done"
SOURCES_DONE = "_sources"
DROPS = "_drops"
IDS = "_ids"
IDS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string())])


def part_files(stage_dir: Path) -> list[Path]:
    """The kept-document parts of a finished stage, in run order."""
    return sorted(p for p in stage_dir.glob("part-*.parquet"))


def _stats_of(stage_dir: Path) -> StageStats:
    total = StageStats()
    for m in sorted((stage_dir / DONE).glob("*.json")):
        total.merge(StageStats.from_dict(json.loads(m.read_text())["stats"]))
    return total


def _write_part(out_dir: Path, name: str, docs: list | None, drops: list[dict[str, str]],
                stats: StageStats, extra: dict[str, Any] | None = None) -> None:
    """Kept docs (unless None: not needed), then drops, then the marker: a marker only ever
    points at whole files."""
    if docs is not None:
        atomic.write_parquet(out_dir / f"{name}.parquet", docs_to_table(docs))
    atomic.write_parquet(out_dir / DROPS / f"{name}.parquet", drops_to_table(drops))
    atomic.write_json(out_dir / DONE / f"{name}.json", {"stats": stats.to_dict(), **(extra or {})})


def _merge_drops(stage_dir: Path) -> Path:
    """Merge per-part drops into drops.parquet (in part order), one part in memory at a time."""
    with atomic.atomic_path(stage_dir / "drops.parquet") as tmp:
        with pq.ParquetWriter(tmp, DROP_SCHEMA, **atomic.PARQUET_OPTIONS) as writer:
            for p in sorted((stage_dir / DROPS).glob("*.parquet")):
                for batch in pq.ParquetFile(p).iter_batches(batch_size=1000):
                    writer.write_batch(batch)
    return stage_dir / "drops.parquet"


def _finalize(stage_dir: Path, name: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sum per-part stats into stats.json, checking that every document is accounted for."""
    stats = _stats_of(stage_dir)
    prep = stage_dir / "_state" / "prepare_stats.json"
    if prep.exists():  # the whole-stream pass: its time and counters (no documents)
        stats.merge(StageStats.from_dict(json.loads(prep.read_text())))
    out = {"stage": name, **stats.to_dict(), **(extra or {})}
    if out["docs_in"] != out["docs_out"] + out["docs_dropped"]:
        raise RunError(f"{stage_dir}: accounting broken: {out['docs_in']} in != "
                       f"{out['docs_out']} kept + {out['docs_dropped']} dropped")
    atomic.write_json(stage_dir / "stats.json", out)
    return out


# ---------------------------------------------------------------------------------------------
# read: raw sources -> Parquet parts
@dataclass(frozen=True)
class Chain:
    """Consecutive stages a task runs on each part in memory, and where each writes its files."""

    specs: tuple[StageSpec, ...]
    state_dirs: tuple[str, ...]
    outs: tuple[str, ...]
    write_kept: tuple[bool, ...]  # the last is always True: the next step reads it
    keep_text: bool

    def apply(self, docs: list, name: str, where: str) -> None:
        """Per stage: its kept documents (where the run reads them), its drops, then its marker;
        the last stage's marker says the part is done."""
        for spec, state_dir, out, kept in zip(self.specs, self.state_dirs, self.outs, self.write_kept):
            try:
                stage = make_stage(spec, Path(state_dir))
                stage.begin_part(name)
                res = stage.apply(docs, keep_dropped_text=self.keep_text)
            except Exception as e:  # the traceback alone does not say which part: the note does
                e.add_note(f"corpusprep: while running stage {spec.name!r} on part {name} ({where})")
                raise
            drops = [{"id": d.id, "stage": d.stage, "reason": d.reason, "detail": d.detail,
                      "url": d.url, "text": d.text} for d in res.dropped]
            _write_part(Path(out), name, res.kept if kept else None, drops, res.stats)
            docs = res.kept


def _read_task(task: tuple[Source, InputConfig, str, int, int, Chain | None, int]) -> dict[str, Any]:
    src, cfg, out, index, part_docs, chain, limit = task
    try:
        return _read_source(src, cfg, Path(out), index, part_docs, chain, limit)
    except Exception as e:
        e.add_note(f"corpusprep: while reading {src.label}")
        raise


def _read_source(src: Source, cfg: InputConfig, out_dir: Path, index: int, part_docs: int,
                 chain: Chain | None = None, limit: int = 0) -> dict[str, Any]:
    """A source's documents in parts of `part_docs` (its first `limit` only, when set); each part
    written, or handed to `chain`. The source's marker comes last, so a source cut short is read
    again whole."""
    t0 = time.perf_counter()
    chunk = 0
    docs: list = []
    drops: list[dict[str, str]] = []
    losses: list[dict[str, str]] = []  # from records read as far as they go (a cut record)
    stats = StageStats()
    names: list[str] = []
    taken = 0

    def flush() -> None:
        nonlocal chunk, docs, drops, losses, stats, t0
        name = f"part-{index:05d}-{chunk:05d}"
        stats.docs_out = len(docs)
        stats.bytes_out = stats.bytes_in  # every document read is kept: a skip has no bytes
        stats.seconds = time.perf_counter() - t0
        atomic.write_parquet(out_dir / IDS / f"{name}.parquet", pa.table(
            {"id": [d.id for d in docs], "source": [d.meta.get("source", "") for d in docs]}, schema=IDS_SCHEMA))
        _write_part(out_dir, name, None if chain else docs, drops, stats, {"losses": losses} if losses else None)
        if chain:
            chain.apply(docs, name, f"read from {src.label}")
        names.append(name)
        chunk += 1
        docs, drops, losses, stats, t0 = [], [], [], StageStats(), time.perf_counter()

    for item in read_source(src, cfg):
        if isinstance(item, Count):  # a record that is no document, or a quirk: not in docs_in
            stats.counters[item.key] += 1
            if item.detail:
                losses.append({"id": item.id, "reason": f"read.{item.key}", "detail": item.detail})
            continue
        stats.docs_in += 1
        if isinstance(item, Skip):
            code = f"read.{item.reason}"
            stats.drops[code] += 1
            drops.append({"id": item.id, "stage": "read", "reason": code, "detail": item.detail,
                          "url": "", "text": ""})
            continue
        stats.bytes_in += item.nbytes
        docs.append(item)
        taken += 1
        if len(docs) >= part_docs:
            flush()
        if taken == limit:
            break
    if docs or drops or chunk == 0:
        flush()
    done = {"source": src.label, "parts": names, "documents": taken}
    atomic.write_json(out_dir / SOURCES_DONE / f"source-{index:05d}.json", done)
    return done


def _check_unique_ids(stage_dir: Path, ids_per_pass: int = 2_000_000) -> None:
    """Input ids must be unique (drops and dedup name documents by id). Checked on 64-bit hashes
    of the ids, a range of hash values per pass, so memory stays under ~16 bytes x ids_per_pass
    whatever the corpus size; a repeated hash is confirmed on the ids themselves."""
    files = sorted((stage_dir / IDS).glob("*.parquet"))
    passes = max(1, -(-sum(pq.read_metadata(p).num_rows for p in files) // ids_per_pass))

    def hashed(p: Path) -> tuple[list[str], np.ndarray]:
        ids = pq.ParquetFile(p).read(columns=["id"])["id"].to_pylist()
        return ids, np.fromiter((hash64(i) for i in ids), dtype=np.uint64, count=len(ids))

    for k in range(passes):
        pieces = [np.zeros(0, np.uint64)]
        for p in files:
            x = hashed(p)[1]
            pieces.append(x[x % np.uint64(passes) == k])
        h = np.sort(np.concatenate(pieces))
        repeated = set(h[1:][h[1:] == h[:-1]].tolist())
        if not repeated:
            continue
        where: dict[str, list[str]] = {}
        for p in files:
            ids, hs = hashed(p)
            source = pq.read_table(p, columns=["source"])["source"]
            for row in np.flatnonzero(np.isin(hs, list(repeated))):
                where.setdefault(ids[row], []).append(source[int(row)].as_py() or p.stem)
        dup = {i: w for i, w in where.items() if len(w) > 1}
        if dup:  # otherwise two different ids shared a 64-bit hash
            first = min(dup)
            raise InputError(f"input ids are not unique: {len(dup)} id(s) repeat, e.g. {first!r} at "
                             f"{', '.join(dup[first][:3])}; fix the input or set input.id_field to a "
                             "field that does not exist so ids are derived from file and record")


def _source_done(out_dir: Path, index: int) -> bool:
    """A source counts as read when its marker exists and each of its parts has its ids file: a
    run started by a corpusprep older than the ids files reads such a source again, so the
    uniqueness check sees every id (the rewrite gives the same bytes)."""
    marker = out_dir / SOURCES_DONE / f"source-{index:05d}.json"
    return marker.exists() and all((out_dir / IDS / f"{name}.parquet").exists()
                                   for name in json.loads(marker.read_text())["parts"])


def check_input(cfg: InputConfig, part_docs: int, stages: tuple[str, ...] = ()) -> Listing:
    """The input's sources, checked before anything is written (they exist, each reader's look at
    its first records and schema, no html stage on plain text): an InputError names the file."""
    listing = list_sources(cfg, group=part_docs)
    check_sources(listing, cfg, stages)
    return listing


def run_read(cfg: InputConfig, out_dir: Path, executor: Executor, part_docs: int, listing: Listing | None = None,
             progress: bool = True, chain: Chain | None = None, limit: int = 0) -> dict[str, Any]:
    """Raw sources (`check_input`'s listing, made here if not given) -> parts; with `chain`, each
    part goes on through those stages in the same task (the caller's run_segment then only sums
    up what they wrote). With `limit`, the first `limit` documents only: sources are read in
    order, in this process."""
    if (out_dir / "stats.json").exists():
        return json.loads((out_dir / "stats.json").read_text())
    configure_allocator()
    listing = listing or check_input(cfg, part_docs)
    sources = listing.sources
    todo = [(s, cfg, str(out_dir), i, part_docs, chain, 0) for i, s in enumerate(sources)
            if not _source_done(out_dir, i)]
    out_dir.mkdir(parents=True, exist_ok=True)
    desc = "+".join(["read", *(c.name for c in chain.specs)] if chain else ["read"])
    bar = tqdm(total=len(sources), initial=len(sources) - len(todo), desc=desc,
               unit="file", disable=not progress, leave=False)
    for _ in (_read_limited(todo, out_dir, limit) if limit else executor.map_unordered(_read_task, todo)):
        bar.update()
    bar.close()
    _check_unique_ids(out_dir)
    release_memory()  # workers forked later inherit this process's pages
    drops = _merge_drops(out_dir)
    extra = {"sources": [s.label for s in sources], "losses": _losses(out_dir, drops), "unread_files": listing.unread}
    stats = _finalize(out_dir, "read", extra)
    stats["warnings"] = read_warnings(stats, drops, listing.unread, cfg.path) + (
        [f"run.limit = {limit:,}: only the input's first {stats['docs_out']:,} documents were read"] if limit else [])
    atomic.write_json(out_dir / "stats.json", stats)
    return stats


def _read_limited(todo: list[tuple], out_dir: Path, limit: int) -> Iterator[dict[str, Any]]:
    """Sources in order, each given what is left of the limit (sources read before, on a resume,
    count what their markers say); those after it are marked done with nothing read."""
    left = limit - sum(json.loads(m.read_text()).get("documents", 0) for m in (out_dir / SOURCES_DONE).glob("*.json"))
    for task in todo:
        if left <= 0:
            src, index = task[0], task[3]
            atomic.write_json(out_dir / SOURCES_DONE / f"source-{index:05d}.json",
                              {"source": src.label, "parts": [], "documents": 0})
            yield {"source": src.label, "parts": []}
            continue
        done = _read_task((*task[:-1], left))
        left -= done["documents"]
        yield done


def _losses(out_dir: Path, drops: Path) -> list[dict[str, str]]:
    """What reading lost beyond one known record: the read drops of damaged spans and cut
    streams, and the records read only as far as the file's end (each part's marker keeps
    those). The card shows them at the top."""
    out: list[dict[str, str]] = []
    if drops.exists():
        t = pq.read_table(drops, columns=["id", "reason", "detail"])
        out = [{"id": i, "reason": r, "detail": d} for i, r, d in
               zip(t["id"].to_pylist(), t["reason"].to_pylist(), t["detail"].to_pylist())
               if r in ("read.truncated_input", "read.damaged_record", "read.damaged_file")]
    for m in sorted((out_dir / DONE).glob("*.json")):
        out += json.loads(m.read_text()).get("losses", [])
    return out


# ---------------------------------------------------------------------------------------------
# stages: parts -> parts
_STAGE_CACHE: dict[tuple[str, str, str], Stage] = {}


def make_stage(spec: StageSpec, state_dir: Path | None) -> Stage:
    """A set-up stage, cached per process so each worker loads models and lists once. A stage
    without a whole-stream pass does not depend on `state_dir`: the run sets it up in the parent
    before any pool forks, so local workers inherit it set up (models, compiled kernels)."""
    cls = get_stage(spec.name)
    key = (spec.name, repr(spec.config), str(state_dir) if cls.needs_prepare else "")
    if key not in _STAGE_CACHE:
        stage = cls(spec.config, state_dir)
        stage.setup()
        if stage.needs_prepare:
            stage.load_state()
        _STAGE_CACHE[key] = stage
    return _STAGE_CACHE[key]


def _segment_task(task: tuple[Chain, str]) -> str:
    """One part through consecutive stages in memory; a part cut short is redone whole (every
    write is atomic and gives the same bytes again)."""
    chain, in_path = task
    name = Path(in_path).stem
    try:
        docs = read_part(in_path)
    except Exception as e:
        e.add_note(f"corpusprep: while reading part {in_path}")
        raise
    chain.apply(docs, name, f"read from {in_path}")
    log.info("%s: part %s done", "+".join(s.name for s in chain.specs), name)
    return name


def _prepare(spec: StageSpec, parts: list[Path], state_dir: Path, executor: Executor) -> None:
    """The whole-stream pass of a stage that needs one (once; its result persists for resume)."""
    if (state_dir / "_SUCCESS").exists():
        return
    stage = get_stage(spec.name)(spec.config, state_dir)
    stage.setup()
    t0 = time.perf_counter()
    state_dir.mkdir(parents=True, exist_ok=True)
    prep = stage.prepare(parts, executor)
    prep.seconds = time.perf_counter() - t0
    atomic.write_json(state_dir / "prepare_stats.json", prep.to_dict())
    atomic.write_text(state_dir / "_SUCCESS", "")


def make_chain(specs: list[StageSpec], out_dirs: list[Path], write_kept: list[bool], keep_text: bool) -> Chain:
    return Chain(tuple(specs), tuple(str(d / "_state") for d in out_dirs), tuple(str(d) for d in out_dirs),
                 (*write_kept[:-1], True), keep_text)


def run_segment(specs: list[StageSpec], in_dir: Path, out_dirs: list[Path], write_kept: list[bool],
                executor: Executor, keep_text: bool = True, progress: bool = True,
                labels: str = "") -> list[dict[str, Any]]:
    """Consecutive stages over every part of `in_dir`, one task per part. A stage that needs a
    whole-stream pass runs alone (its pass comes first); stages that need none may share a
    segment, so their documents never go through Parquet in between. The last stage's kept
    documents are always written; the others' where `write_kept` says."""
    if all((d / "stats.json").exists() for d in out_dirs):
        return [json.loads((d / "stats.json").read_text()) for d in out_dirs]
    configure_allocator()
    if len(specs) > 1 and any(get_stage(s.name).needs_prepare for s in specs):
        raise RunError("a stage with a whole-stream pass cannot share a segment")
    parts = part_files(in_dir)
    for d in out_dirs:
        d.mkdir(parents=True, exist_ok=True)
    if get_stage(specs[0].name).needs_prepare:
        _prepare(specs[0], parts, out_dirs[0] / "_state", executor)
    last = out_dirs[-1] / DONE
    chain = make_chain(specs, out_dirs, write_kept, keep_text)
    todo = [(chain, str(p)) for p in parts if not (last / f"{p.stem}.json").exists()]
    names = "+".join(s.name for s in specs)
    if parts:
        log.info("%s: %d part(s) to do, %d done before (resume)", names, len(todo), len(parts) - len(todo))
    else:  # the first stages run in the read task: their parts are done already
        log.info("%s: ran in the read, on each of %d part(s) as it was read", names, len(list(last.glob("*.json"))))
    bar = tqdm(total=len(parts), initial=len(parts) - len(todo), desc="+".join(s.name for s in specs),
               unit="part", disable=not progress or not parts, leave=False)  # none: run in the read
    for _ in executor.map_unordered(_segment_task, todo):
        bar.update()
    bar.close()
    kept_ids = ids_of(part_files(out_dirs[-1])) if labels else []
    all_drops = [_merge_drops(d) for d in out_dirs]
    drop_ids = [ids_of([p]) for p in all_drops] if labels else []
    out = []
    for k, (spec, d, drops) in enumerate(zip(specs, out_dirs, all_drops)):
        cls = get_stage(spec.name)
        extra = cls(spec.config, d / "_state").summarize(d)
        if labels and cls.ground_truth_kinds:
            # what reached stage k: what the segment kept, plus what stage k and later dropped
            in_ids = kept_ids + [i for ids in drop_ids[k:] for i in ids]
            extra["ground_truth"] = recall_against_labels(labels, cls.ground_truth_kinds, in_ids, drops,
                                                          cls.ground_truth_breakdown)
            if cls.ground_truth_pairs:
                extra["ground_truth"]["pairs_by_jaccard"] = planted_pairs_found(labels, in_ids, drops)
        out.append(_finalize(d, spec.name, extra))
    return out


def run_stage(spec: StageSpec, in_dir: Path, out_dir: Path, executor: Executor,
              keep_text: bool = True, progress: bool = True, labels: str = "") -> dict[str, Any]:
    """One stage alone, writing its kept documents (`corpusprep stage`, and `stage_outputs = all`)."""
    return run_segment([spec], in_dir, [out_dir], [True], executor, keep_text, progress, labels)[0]


def stage_dirs(cfg: RunConfig) -> list[Path]:
    out = Path(cfg.run.output)
    return [out / "00_read"] + [out / f"{i + 1:02d}_{s.name}" for i, s in enumerate(cfg.stages)]


def _fusable(cfg: RunConfig, i: int) -> bool:
    """Whether stage i may run in one task with its neighbours: only with `stage_outputs = needed`
    (`all` writes every stage's output) and only without a whole-stream pass."""
    return cfg.run.stage_outputs == "needed" and not get_stage(cfg.stages[i].name).needs_prepare


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


# ---------------------------------------------------------------------------------------------
# a whole run
@dataclass
class RunResult:
    out_dir: Path
    report: dict[str, Any]
    card_path: Path | None


def run(cfg: RunConfig, resume: bool = False, workers: int | None = None,
        progress: bool = True, executor: Executor | None = None) -> RunResult:
    """Run every stage of `cfg`; with `resume`, continue a killed run of the same config (under
    any worker count or executor). The output folder, the input and the stages' lists and models
    are checked before anything is written or any executor (Ray) starts."""
    prior = check_output(Path(cfg.run.output), cfg.config_hash(), cfg.source, resume)
    listing = check_input(cfg.input, cfg.run.part_docs, tuple(s.name for s in cfg.stages))
    for spec in cfg.stages:  # fail on bad lists/models before any data is read
        if get_stage(spec.name).needs_prepare:
            get_stage(spec.name)(spec.config).setup()
        else:
            make_stage(spec, None)  # kept: forked workers inherit it
    own = executor is None
    executor = executor or make_executor(cfg.run.executor, workers or cfg.run.workers, cfg.run.address)
    try:
        return _run(cfg, prior, listing, progress, executor)
    finally:
        if own and hasattr(executor, "close"):
            executor.close()


def _remove_temp_files(out: Path) -> None:
    """Delete the temp files of atomic writes that never finished (their writer was killed)."""
    for tmp in out.rglob(".*.tmp"):
        tmp.unlink()


def _run(cfg: RunConfig, prior: dict[str, Any], listing: Listing, progress: bool, executor: Executor) -> RunResult:
    out = Path(cfg.run.output)
    run_json = out / "run.json"
    if prior:
        _remove_temp_files(out)  # left by a killed process; never read, never reused
    freeze_setup()
    started = prior.get("stage_outputs", cfg.run.stage_outputs)
    if started != cfg.run.stage_outputs:
        raise RunError(f"{out} was started with run.stage_outputs = {started!r}; resume it "
                       f"with the same setting (it decides which files a finished part has)")
    clock = _RunClock(run_json, {"config_hash": cfg.config_hash(), "config": cfg.source,
                                 "stage_outputs": cfg.run.stage_outputs}, prior.get("seconds", 0.0))
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
    shards = None
    if cfg.shards is not None:
        shards = run_shards(cfg, dirs, progress)
    attempt = clock.attempt()
    report = run_report(cfg, stats, clock.before + attempt, shards)
    report["seconds_this_attempt"] = round(attempt, 3)
    clock.lap()
    atomic.write_json(out / "report.json", report)
    _remove_temp_files(out)  # left by a worker killed mid-write and retried
    card = write_card(report, Path(cfg.run.cards_dir) / cfg.run.name)
    return RunResult(out, report, card)


class _RunClock:
    """A run's wall time summed over its attempts, kept in run.json after every step: the card of
    a resumed run says what the whole run took, not what its last attempt did (0.0 s for a re-run
    that found everything done). A killed attempt counts up to its last finished step."""

    def __init__(self, run_json: Path, meta: dict[str, Any], before: float):
        self.path, self.meta, self.before, self.t0 = run_json, meta, float(before), time.perf_counter()
        self.lap()

    def attempt(self) -> float:
        return time.perf_counter() - self.t0

    def lap(self) -> None:
        atomic.write_json(self.path, {**self.meta, "seconds": round(self.before + self.attempt(), 3)})


def run_shards(cfg: RunConfig, dirs: list[Path], progress: bool) -> dict[str, Any]:
    """The run's last step: token shards from the named stages' outputs (skipped when done)."""
    from pipeline.shards import build_shards

    out = Path(cfg.run.output) / "shards"
    man = out / "manifest.json"
    if man.exists():
        m = json.loads(man.read_text())
        if m.get("source_config_hash") == cfg.config_hash():
            return m
    variants, drops = shard_inputs(cfg, dirs)
    return build_shards(variants, out, cfg.shards, cfg.config_hash(), progress, drops)


def shard_inputs(cfg: RunConfig, dirs: list[Path]) -> tuple[dict[str, Path], dict[str, Path]]:
    """The shards step's inputs in a run: each variant's stage folder, and each stage's drops."""
    by_name = {s.name: d for s, d in zip(cfg.stages, dirs[1:])}
    variants = {v: by_name[stage] for v, stage in cfg.shards.variants.items()}
    return variants, {name: d / "drops.parquet" for name, d in by_name.items()}


def run_report(cfg: RunConfig, stats: list[dict[str, Any]], seconds: float,
                 shards: dict[str, Any] | None = None) -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for pkg in ("corpusprep", "pyarrow", "datasketch", "tokenizers", "fasttext-community",
                "beautifulsoup4", "lxml", "warcio", "datasets", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    final = stats[-1]
    return {
        "name": cfg.run.name,
        "config": cfg.source,
        "config_hash": cfg.config_hash(),
        "input": {"path": cfg.source.get("input", {}).get("path", cfg.input.path),
                  "format": cfg.input.format,
                  "sources": stats[0].get("sources", [])},
        "stages": stats,
        "docs_in": stats[0]["docs_in"],
        "docs_kept": final["docs_out"],
        "docs_dropped": sum(s["docs_dropped"] for s in stats),
        "seconds": round(seconds, 3),
        "versions": versions,
        "shards": shards and dict(shards, folder=str(Path(cfg.run.output) / "shards")),
        "licences": licence_notes(cfg),
    }


def licence_notes(cfg: RunConfig) -> list[str]:
    """Where the data came from and under which terms, as far as the run knows."""
    notes = []
    src = Path(cfg.input.path)
    manifest = src.parent / "manifest.json"
    if manifest.exists() and "versions" in json.loads(manifest.read_text()):
        notes.append("Input: the corpusprep default corpus - docstrings of the Python standard library "
                     "(PSF licence), numpy, scipy, matplotlib, pyarrow (BSD-style/PSF-compatible "
                     "licences), rendered as web pages, with planted test documents.")
    return notes + [n for n in (get_stage(s.name).licence_note(s.config) for s in cfg.stages) if n]
