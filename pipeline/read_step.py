"""The read: raw sources -> Parquet parts, with the input's ids checked unique.

A source is read in parts of `part_docs` documents, one task per source; when the first stages
need no whole-stream pass, they run in the read task on each part as it is read (`chain`), so
the raw input (the largest data of a web crawl) never goes through Parquet. A source's marker is
written last, so a source cut short is read again whole on resume.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow.parquet as pq

from pipeline import atomic, stage_folder
from pipeline.chain import Chain
from pipeline.document import Document, DroppedDoc
from pipeline.errors import InputError
from pipeline.executor import Executor, configure_allocator, release_memory
from pipeline.progress import Progress
from pipeline.read_summary import read_warnings
from pipeline.readers import Count, InputConfig, Listing, Skip, Source, check_sources, list_sources, read_source
from pipeline.stage import StageStats
from pipeline.text import hash64

LOSS_REASONS = ("read.truncated_input", "read.damaged_record", "read.damaged_file")


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
    done = stage_folder.finished_stats(out_dir)
    if done is not None:
        return done
    configure_allocator()
    listing = listing or check_input(cfg, part_docs)
    sources = listing.sources
    todo = [(s, cfg, str(out_dir), i, part_docs, chain, 0) for i, s in enumerate(sources)
            if not stage_folder.source_done(out_dir, i)]
    out_dir.mkdir(parents=True, exist_ok=True)
    desc = "+".join(["read", *(c.name for c in chain.specs)] if chain else ["read"])
    size = {s.label: sum(_size(p) for p in s.paths) for s in sources}
    pending = {t[0].label for t in todo}
    bar = Progress(desc, sum(size.values()), sum(n for k, n in size.items() if k not in pending), "B", progress)
    for done in (_read_limited(todo, out_dir, limit) if limit else executor.map_unordered(_read_task, todo)):
        bar.update(size[done["source"]])
    bar.close()
    check_unique_ids(out_dir)
    release_memory()  # workers forked later inherit this process's pages
    drops = stage_folder.merge_drops(out_dir)
    extra = {"sources": [s.label for s in sources], "losses": _losses(out_dir, drops), "unread_files": listing.unread}
    stats = stage_folder.finalize(out_dir, "read", extra)
    stats["warnings"] = read_warnings(stats, drops, listing.unread, cfg.path) + (
        [f"run.limit = {limit:,}: only the input's first {stats['docs_out']:,} documents were read"] if limit else [])
    stage_folder.write_stats(out_dir, stats)
    return stats


def _size(path: str) -> int:
    """Bytes of an input file, for the progress bar (0 where it cannot be seen)."""
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _read_task(task: tuple[Source, InputConfig, str, int, int, Chain | None, int]) -> dict[str, Any]:
    src, cfg, out, index, part_docs, chain, limit = task
    try:
        return _read_source(src, cfg, Path(out), index, part_docs, chain, limit)
    except Exception as e:
        e.add_note(f"corpusprep: while reading {src.label}")
        raise


class _Part:
    """What a source's current part has gathered: documents, drops, losses, counts."""

    def __init__(self) -> None:
        self.docs: list[Document] = []
        self.drops: list[DroppedDoc] = []
        self.losses: list[dict[str, str]] = []  # from records read as far as they go (a cut record)
        self.stats = StageStats()
        self.t0 = time.perf_counter()

    def add(self, item: Document | Skip | Count) -> bool:
        """Count an item in; True when it is a document."""
        if isinstance(item, Count):  # a record that is no document, or a quirk: not in docs_in
            self.stats.counters[item.key] += 1
            if item.detail:
                self.losses.append({"id": item.id, "reason": f"read.{item.key}", "detail": item.detail})
            return False
        self.stats.docs_in += 1
        if isinstance(item, Skip):
            code = f"read.{item.reason}"
            self.stats.drops[code] += 1
            self.drops.append(DroppedDoc(item.id, "read", code, item.detail, "", ""))
            return False
        self.stats.bytes_in += item.nbytes
        self.docs.append(item)
        return True


def _read_source(src: Source, cfg: InputConfig, out_dir: Path, index: int, part_docs: int,
                 chain: Chain | None = None, limit: int = 0) -> dict[str, Any]:
    """A source's documents in parts of `part_docs` (its first `limit` only, when set); each part
    written, or handed to `chain`. The source's marker comes last."""
    names: list[str] = []
    part, taken = _Part(), 0

    def flush(p: _Part) -> None:
        name = stage_folder.part_name(index, len(names))
        p.stats.docs_out = len(p.docs)
        p.stats.bytes_out = p.stats.bytes_in  # every document read is kept: a skip has no bytes
        p.stats.seconds = time.perf_counter() - p.t0
        stage_folder.write_ids(out_dir, name, p.docs)
        stage_folder.write_part(out_dir, name, None if chain else p.docs, p.drops, p.stats,
                                {"losses": p.losses} if p.losses else None)
        if chain:
            chain.apply(p.docs, name, f"read from {src.label}")
        names.append(name)

    for item in read_source(src, cfg):
        if not part.add(item):
            continue
        taken += 1
        if len(part.docs) >= part_docs:
            flush(part)
            part = _Part()
        if taken == limit:
            break
    if part.docs or part.drops or part.stats.counters or part.losses or not names:  # counts after the last part too
        flush(part)
    done = {"source": src.label, "parts": names, "documents": taken}
    atomic.write_json(stage_folder.source_marker(out_dir, index), done)
    return done


def _read_limited(todo: list[tuple], out_dir: Path, limit: int) -> Iterator[dict[str, Any]]:
    """Sources in order, each given what is left of the limit (sources read before, on a resume,
    count what their markers say); those after it are marked done with nothing read."""
    left = limit - sum(json.loads(m.read_text()).get("documents", 0) for m in stage_folder.source_markers(out_dir))
    for task in todo:
        if left <= 0:
            src, index = task[0], task[3]
            atomic.write_json(stage_folder.source_marker(out_dir, index),
                              {"source": src.label, "parts": [], "documents": 0})
            yield {"source": src.label, "parts": []}
            continue
        done = _read_task((*task[:-1], left))
        left -= done["documents"]
        yield done


def check_unique_ids(folder: Path, ids_per_pass: int = 2_000_000) -> None:
    """Input ids must be unique (drops and dedup name documents by id). Checked on 64-bit hashes
    of the ids, a range of hash values per pass, so memory stays under ~16 bytes x ids_per_pass
    whatever the corpus size; a repeated hash is confirmed on the ids themselves."""
    files = stage_folder.ids_files(folder)
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


def _losses(out_dir: Path, drops: Path) -> list[dict[str, str]]:
    """What reading lost beyond one known record: the read drops of damaged spans and cut
    streams, and the records read only as far as the file's end (each part's marker keeps
    those). The card shows them at the top."""
    out: list[dict[str, str]] = []
    if drops.exists():
        t = pq.read_table(drops, columns=["id", "reason", "detail"])
        out = [{"id": i, "reason": r, "detail": d} for i, r, d in
               zip(t["id"].to_pylist(), t["reason"].to_pylist(), t["detail"].to_pylist()) if r in LOSS_REASONS]
    for m in stage_folder.done_markers(out_dir):
        out += json.loads(m.read_text()).get("losses", [])
    return out
