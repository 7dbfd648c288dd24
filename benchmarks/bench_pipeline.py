"""Whole runs end to end: fused against stage by stage, and against DataTrove on real web pages.

    python benchmarks/bench_pipeline.py            (DataTrove, trafilatura, spaCy: pip install -e '.[bench]')

1. The default run (configs/default.toml on the built-in corpus, 2 workers), in 5 alternating
   rounds with `run.stage_outputs = needed` (consecutive stages without a whole-stream pass fused,
   the first ones into the read) and with `all` (stage by stage): docs/s of each, and whether
   every file the fused run wrote is byte-identical to the per-stage run's.
2. Real pages written by others: every HTML page of ../shared/data/extraction (three public
   extraction benchmarks), one worker each, from the gzipped files to written output:
   - ours: read -> html -> quality (Gopher quality + repetition, C4, FineWeb; spaCy-style words as
     DataTrove counts them; language ID off, as DataTrove's needs a model download; a second line
     with it on); then, in 3 alternating rounds, the same with html and quality fused into the
     read task (the default) against stage by stage; once more after DataTrove. The ratio to
     DataTrove uses the median of our 5 runs of the default (fused, no language ID);
   - DataTrove: a reader of the same files -> Trafilatura (its defaults, as FineWeb used it) ->
     GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter -> FineWebQualityFilter ->
     JsonlWriter, on its LocalPipelineExecutor with one task.
"""
from __future__ import annotations

import gzip
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common
from common import REPO, default_corpus_dir, have, have_datatrove
from pipeline.config import load_run_config
from pipeline.resources import shared_data_dir
from pipeline.runner import run


def _files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.suffix in (".parquet", ".arrow")}


def default_run(tmp: Path, rounds: int = 5) -> None:
    default_corpus_dir()
    rounds = common.rounds(rounds)
    secs: dict[str, list[float]] = {"all": [], "needed": []}
    files = {}
    for _ in range(rounds):  # alternating, so a slow spell of the machine hits both alike
        for mode in ("all", "needed"):
            out = tmp / f"default-{mode}"
            shutil.rmtree(out, ignore_errors=True)
            sets = [f"run.output={out}", f"run.cards_dir={tmp / 'cards'}", f'run.stage_outputs="{mode}"'] + \
                common.default_run_settings()
            cfg = load_run_config(REPO / "configs" / "default.toml", sets)
            t0 = time.perf_counter()
            res = run(cfg, progress=False)
            secs[mode].append(time.perf_counter() - t0)
            files[mode] = _files(out)
    docs = res.report["docs_in"]
    same = all(files["all"].get(k) == v for k, v in files["needed"].items())
    print(f"default run, {docs:,} documents, 2 workers (pipeline, shards and card; median of {rounds} rounds)")
    for mode, label in (("all", "stage by stage"), ("needed", "fused")):
        sec = statistics.median(secs[mode])
        print(f"  {label:15s} {sec:6.1f} s  {docs / sec:7.1f} docs/s  {len(files[mode])} data files")
    paired = sorted(a / f for a, f in zip(secs["all"], secs["needed"]))
    print(f"  fused / stage by stage: median {statistics.median(paired):.2f}x, range {paired[0]:.2f}-{paired[-1]:.2f}x "
          f"over the {rounds} rounds; every fused file byte-identical: {same}")


def pages() -> list[Path]:
    shared = shared_data_dir()
    if shared is None:
        return []
    found = sorted((shared / "extraction").glob("*/html/*.html*"))
    return found[:common.sized(len(found), 40)]


def ours_on_pages(paths: list[Path], tmp: Path, language: bool, stage_outputs: str = "needed") -> tuple[float, int]:
    """Seconds of one run of ours on the pages, and the pages it kept."""
    inp = tmp / "pages"
    if not inp.exists():  # one folder of links, so the run reads exactly these files
        inp.mkdir()
        for i, p in enumerate(paths):
            (inp / f"{i:05d}-{p.name}").symlink_to(p)
    out = tmp / f"ours-{language}-{stage_outputs}"
    shutil.rmtree(out, ignore_errors=True)
    cfg_path = tmp / f"ours-{language}-{stage_outputs}.toml"
    cfg_path.write_text(f"""
[run]
name = "bench-pages"
output = "{out}"
cards_dir = "{tmp / 'cards'}"
workers = 1
part_docs = 500
stage_outputs = "{stage_outputs}"
[input]
path = "{inp}"
format = "html"
[[stages]]
name = "html"
[[stages]]
name = "quality"
language = "{'drop' if language else 'off'}"
""")
    t0 = time.perf_counter()
    res = run(load_run_config(cfg_path), progress=False)
    sec = time.perf_counter() - t0
    return sec, res.report["docs_kept"]


def fused_on_pages(paths: list[Path], tmp: Path, rounds: int = 3) -> list[float]:
    """Ours on the real pages, html and quality fused into the read against stage by stage; the
    fused runs' seconds."""
    secs: dict[str, list[float]] = {"all": [], "needed": []}
    kept = set()
    rounds = common.rounds(rounds)
    for _ in range(rounds):
        for mode in ("all", "needed"):
            sec, n = ours_on_pages(paths, tmp, False, mode)
            secs[mode].append(sec)
            kept.add(n)
    paired = sorted(a / f for a, f in zip(secs["all"], secs["needed"]))
    print(f"  ours fused into the read against stage by stage: {statistics.median(secs['needed']):.1f} s against "
          f"{statistics.median(secs['all']):.1f} s, median {statistics.median(paired):.2f}x, "
          f"range {paired[0]:.2f}-{paired[-1]:.2f}x over {rounds} rounds; pages kept: "
          f"{', '.join(map(str, sorted(kept)))}")
    return secs["needed"]


def datatrove_on_pages(paths: list[Path], tmp: Path) -> float:
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.writers import JsonlWriter

    def read_pages(data, rank: int = 0, world_size: int = 1):
        for p in paths:
            raw = gzip.open(p).read() if p.suffix == ".gz" else p.read_bytes()
            yield Document(text=raw.decode("utf-8", "replace"), id=p.name)

    out = tmp / "datatrove"
    shutil.rmtree(out, ignore_errors=True)
    ex = LocalPipelineExecutor(pipeline=[read_pages, Trafilatura(favour_precision=True), GopherRepetitionFilter(),
                                         GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter(),
                                         JsonlWriter(str(out / "kept"))],
                               tasks=1, workers=1, logging_dir=str(out / "logs"))
    t0 = time.perf_counter()
    ex.run()
    sec = time.perf_counter() - t0
    kept = sum(1 for f in (out / "kept").glob("*.jsonl.gz") for _ in gzip.open(f))
    print(f"    DataTrove: {kept:,} kept")
    return sec


def real_pages(tmp: Path) -> None:
    paths = pages()
    if not paths:
        print("real pages: ../shared/data/extraction is not beside the checkout; skipped")
        return
    mb = sum(len(gzip.open(p).read()) if p.suffix == ".gz" else p.stat().st_size for p in paths) / 1e6
    print(f"real pages: {len(paths):,} HTML pages of ../shared/data/extraction, {mb:.1f} MB of HTML, one worker each")
    ours, kept = ours_on_pages(paths, tmp, language=False)
    ours_lang, kept_lang = ours_on_pages(paths, tmp, language=True)
    print(f"    ours: {kept:,} pages kept ({kept_lang:,} with language ID)")
    print(f"  ours, read -> html -> quality:            {ours:6.1f} s  {len(paths) / ours:7.1f} pages/s")
    print(f"  ours, the same with language ID:          {ours_lang:6.1f} s  {len(paths) / ours_lang:7.1f} pages/s")
    runs = [ours, *fused_on_pages(paths, tmp)]
    if not (have_datatrove() and have("trafilatura")):
        print("  DataTrove, trafilatura or spaCy not installed (pip install -e '.[bench]'): no comparison")
        return
    dt = datatrove_on_pages(paths, tmp)
    runs.append(ours_on_pages(paths, tmp, language=False)[0])  # after DataTrove too: a slow spell shows
    print(f"  DataTrove, Trafilatura + Gopher + C4 + FineWeb: {dt:6.1f} s  {len(paths) / dt:7.1f} pages/s")
    mid = statistics.median(runs)
    print(f"  ours is {dt / mid:.1f}x DataTrove's speed (our median of {len(runs)} runs, {mid:.1f} s; "
          f"{dt / max(runs):.1f}-{dt / min(runs):.1f}x against our slowest and fastest; "
          f"{dt / ours_lang:.1f}x with language ID on, one run)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as d:
        tmp = Path(d)
        if "--pages-only" not in sys.argv:
            default_run(tmp)
        real_pages(tmp)


if __name__ == "__main__":
    main()
