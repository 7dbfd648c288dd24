"""Runs: accounting, determinism across runs and worker counts, resume after SIGKILL, CLI errors."""
from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import load_run_config
from pipeline.errors import InputError, RunError
from pipeline.executor import LocalExecutor
from pipeline.read_step import run_read
from pipeline.readers import InputConfig
from pipeline.runner import run
from tests.conftest import REPO, run_cli, write_config


def data_files(out: Path) -> dict[str, str]:
    """sha256 of every Parquet file of a run (what must be byte-identical)."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def small_input(tmp_path_factory, sample_corpus) -> Path:
    return sample_corpus["dir"] / "warc"


def test_accounting_every_stage_and_run(tmp_path, small_input):
    cfg = load_run_config(write_config(tmp_path / "acc.toml", small_input, tmp_path / "out",
                                       extra_run="part_docs = 400"))
    res = run(cfg, progress=False)
    total_dropped = 0
    for s in res.report["stages"]:
        assert s["docs_in"] == s["docs_out"] + s["docs_dropped"], s["stage"]
        assert s["docs_dropped"] == sum(s["drops"].values())
        total_dropped += s["docs_dropped"]
    stages = res.report["stages"]
    for a, b in zip(stages, stages[1:]):
        assert a["docs_out"] == b["docs_in"]
    assert res.report["docs_in"] == res.report["docs_kept"] + total_dropped
    # counts equal what is on disk
    kept = sum(pq.read_metadata(p).num_rows for p in (tmp_path / "out" / "01_html").glob("part-*.parquet"))
    drops = pq.read_table(tmp_path / "out" / "01_html" / "drops.parquet")
    assert kept == stages[-1]["docs_out"] and drops.num_rows == stages[-1]["docs_dropped"]
    assert set(drops.column("reason").to_pylist()) <= set(stages[-1]["drops"])
    assert res.card_path.exists()


def test_same_input_and_config_give_identical_outputs(tmp_path, small_input):
    outs = []
    for name, workers in (("a", 1), ("b", 2)):
        cfg = load_run_config(write_config(tmp_path / f"{name}.toml", small_input, tmp_path / name,
                                           extra_run=f"workers = {workers}\npart_docs = 300"))
        run(cfg, progress=False)
        outs.append(data_files(tmp_path / name))
    assert outs[0] == outs[1] and len(outs[0]) > 10


def test_output_folder_is_not_silently_mixed(tmp_path, small_input):
    cfg = load_run_config(write_config(tmp_path / "m.toml", small_input, tmp_path / "o",
                                       extra_run="part_docs = 1000"))
    first = run(cfg, progress=False).report
    with pytest.raises(RunError, match="not empty; pass --resume"):
        run(cfg, progress=False)
    # a resume that finds everything done: the card keeps the whole run's wall time
    again = run(cfg, resume=True, progress=False)
    assert again.report["seconds"] >= first["seconds"] > again.report["seconds_this_attempt"]
    assert f"wall time {again.report['seconds']:.1f} s over all attempts" in again.card_path.read_text()
    other = load_run_config(tmp_path / "m.toml", ["stages.html.parser=bs4"])
    with pytest.raises(RunError, match=r"other settings \(stages\.html\.parser: \(not set\) -> 'bs4'\)"):
        run(other, resume=True, progress=False)


def test_resume_after_sigkill_three_times_is_byte_identical(tmp_path, small_input):
    ref_cfg = write_config(tmp_path / "ref.toml", small_input, tmp_path / "ref", extra_run="part_docs = 60")
    run(load_run_config(ref_cfg), progress=False)
    cfg = write_config(tmp_path / "k.toml", small_input, tmp_path / "k", extra_run="part_docs = 60")
    out = tmp_path / "k"
    kills = 0
    markers_seen = 0
    for _ in range(6):
        if kills == 3:
            break
        proc = subprocess.Popen([sys.executable, "-m", "corpusprep", "run", str(cfg), "--resume",
                                 "--no-progress"], cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            n = len(list(out.glob("*/_done/*.json")))
            if n >= markers_seen + 8:  # some new work finished: kill mid-way through the rest
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                markers_seen = n
                break
            time.sleep(0.01)
        else:
            proc.wait()
    assert kills == 3, "the run finished before it could be killed three times"
    assert not (out / "report.json").exists()
    run_cli("run", str(cfg), "--resume", "--no-progress")
    assert data_files(out) == data_files(tmp_path / "ref")
    ref_stats = json.loads((tmp_path / "ref" / "01_html" / "stats.json").read_text())
    got_stats = json.loads((out / "01_html" / "stats.json").read_text())
    for key in ("docs_in", "docs_out", "drops", "bytes_in", "bytes_out"):
        assert got_stats[key] == ref_stats[key]


def test_cli_errors_are_clear_and_exit_2(tmp_path, small_input):
    bad = write_config(tmp_path / "bad.toml", small_input, tmp_path / "o",
                       stages='[[stages]]\nname = "html"\nparsr = "bs4"\n')
    res = run_cli("run", str(bad), check=False)
    assert res.returncode == 2 and "unknown key(s) parsr; available: parser" in res.stderr
    assert "Traceback" not in res.stderr
    res = run_cli("run", str(write_config(tmp_path / "u.toml", small_input, tmp_path / "o2",
                                          stages='[[stages]]\nname = "nope"\n')), check=False)
    assert res.returncode == 2 and "unknown stage 'nope'; available: html" in res.stderr
    res = run_cli("stage", "html", "--input", str(tmp_path / "missing.jsonl"), "--output",
                  str(tmp_path / "x"), check=False)
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = run_cli("run", str(write_config(tmp_path / "w.toml", small_input, tmp_path / "o3",
                                          extra_run="workers = 0")), check=False)
    assert res.returncode == 2 and "run.workers = 0: must be >= 1" in res.stderr
    twice = write_config(tmp_path / "t.toml", small_input, tmp_path / "o4",
                         stages='[[stages]]\nname = "html"\n[[stages]]\nname = "html"\n')
    res = run_cli("run", str(twice), check=False)
    assert res.returncode == 2 and "stage 'html' is already in the run" in res.stderr and "Traceback" not in res.stderr


def test_stage_command_contract(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"d{i}", "text": f"<html><body><main><p>Document number {i} "
                                       "has a paragraph of text that is long enough.</p></main></body></html>",
                                       "url": f"http://x/{i}"}) + "\n" for i in range(5))
                   + '{"id": "bad", "text": \n' + json.dumps({"id": "e", "text": "  "}) + "\n")
    run_cli("stage", "html", "--input", str(inp), "--output", str(tmp_path / "out"), "--no-progress")
    out = tmp_path / "out"
    kept = pq.read_table(next(out.glob("part-*.parquet")))
    assert {"id", "text", "url"} <= set(kept.column_names)
    assert kept.column("id").to_pylist() == [f"d{i}" for i in range(5)]
    assert kept.column("text")[0].as_py() == "Document number 0 has a paragraph of text that is long enough."
    drops = pq.read_table(out / "drops.parquet").to_pylist()
    assert [(d["id"], d["reason"]) for d in drops] == [("e", "html.empty")]
    read_drops = pq.read_table(out / "_read" / "drops.parquet").to_pylist()
    assert [(d["id"], d["reason"]) for d in read_drops] == [("in.jsonl:6", "read.invalid_json")]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["docs_in"] == 6 and stats["docs_out"] == 5 and stats["drops"] == {"html.empty": 1}
    # a stage's output folder is a valid input for the next stage
    run_cli("stage", "html", "--input", str(out), "--output", str(tmp_path / "again"), "--no-progress")
    assert json.loads((tmp_path / "again" / "stats.json").read_text())["docs_in"] == 5


def test_duplicate_input_ids_are_a_clear_error(tmp_path):
    inp = tmp_path / "dup.jsonl"
    inp.write_text('{"id": "same", "text": "a"}\n{"id": "same", "text": "b"}\n')
    res = run_cli("stage", "html", "--input", str(inp), "--output", str(tmp_path / "o"), check=False)
    assert res.returncode == 2 and "ids are not unique" in res.stderr and "dup.jsonl:1" in res.stderr


def test_duplicate_ids_are_found_when_the_first_stages_run_in_the_read(tmp_path):
    """html runs fused into the read and drops both documents (too short): the raw parts are never
    written, and the check still names both records."""
    inp = tmp_path / "dup.jsonl"
    inp.write_text('{"id": "same", "text": "a"}\n{"id": "other", "text": "b"}\n{"id": "same", "text": "c"}\n')
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", input_extra="")
    with pytest.raises(InputError, match=r"'same' at dup.jsonl:1, dup.jsonl:3"):
        run(load_run_config(cfg), progress=False)
    assert not list((tmp_path / "out" / "00_read").glob("part-*.parquet"))
    assert len(list((tmp_path / "out" / "01_html" / "_done").glob("*.json"))) == 1


def test_a_source_read_without_its_ids_file_is_read_again(tmp_path):
    """A run started by a corpusprep that wrote no ids files, resumed: its finished sources are
    read again, so the uniqueness check still sees their ids."""
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.jsonl").write_text('{"id": "same", "text": "a"}\n')
    (inp / "b.jsonl").write_text('{"id": "same", "text": "b"}\n')
    cfg, out = InputConfig(path=str(inp)), tmp_path / "out"
    with pytest.raises(InputError, match="'same'"):
        run_read(cfg, out, LocalExecutor(1), 10, progress=False)
    assert len(list((out / "_sources").glob("*.json"))) == 2
    old = sorted((out / "_ids").glob("*.parquet"))[0]
    old.unlink()
    with pytest.raises(InputError, match=r"'same' at a.jsonl:1, b.jsonl:1"):
        run_read(cfg, out, LocalExecutor(1), 10, progress=False)
    assert old.exists()


def test_id_check_in_several_hash_range_passes(tmp_path):
    """The uniqueness check splits ids into hash ranges when there are many; the result is the same."""
    from pipeline.read_step import check_unique_ids as _check_unique_ids

    rows = [{"id": f"r{i}", "text": "t"} for i in range(50)]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ex = LocalExecutor(1)
    run_read(InputConfig(path=str(inp)), tmp_path / "ok", ex, 7, progress=False)
    _check_unique_ids(tmp_path / "ok", ids_per_pass=4)  # 13 passes, no repeat: no error
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows + [{"id": "r17", "text": "again"}]))
    with pytest.raises(InputError, match=r"1 id\(s\) repeat, e.g. 'r17' at in.jsonl:18, in.jsonl:51"):
        run_read(InputConfig(path=str(inp)), tmp_path / "bad", ex, 7, progress=False)
    with pytest.raises(InputError, match="'r17'"):
        _check_unique_ids(tmp_path / "bad", ids_per_pass=4)


def _without_seconds(x):
    if isinstance(x, dict):
        return {k: _without_seconds(v) for k, v in x.items() if not k.endswith("seconds")}
    return [_without_seconds(v) for v in x] if isinstance(x, list) else x


def test_fused_stages_give_the_per_stage_outputs(tmp_path, small_input):
    """html + safety + quality run fused into the read (one task per source, no Parquet in
    between) and give the same kept documents, drops, stats and card funnel as stage by stage;
    only the kept parts no later step reads (the raw input's among them) are not written."""
    stages = ('[[stages]]\nname = "html"\n[[stages]]\nname = "safety"\n[[stages]]\nname = "quality"\n'
              'word_split = "whitespace"\n')
    outs, reports, cards = {}, {}, {}
    for mode in ("needed", "all"):
        cfg = load_run_config(write_config(tmp_path / f"{mode}.toml", small_input / "part-00001.warc.gz",
                                           tmp_path / mode, stages,
                                           extra_run=f'workers = 2\npart_docs = 150\nstage_outputs = "{mode}"'))
        res = run(cfg, progress=False)
        outs[mode], reports[mode] = data_files(tmp_path / mode), res.report
        funnel = res.card_path.read_text().split("## Funnel")[1].split("\n## ")[0]
        cards[mode] = [row.rsplit("|", 2)[0] for row in funnel.splitlines() if row.startswith("|")]
    fused, per_stage = outs["needed"], outs["all"]
    assert {k: per_stage[k] for k in fused} == fused and len(fused) > 15
    missing = set(per_stage) - set(fused)
    assert missing and {m.split("/")[0] for m in missing} == {"00_read", "01_html", "02_safety"}  # read: fused too
    assert all(Path(m).name.startswith("part-") for m in missing)
    assert _without_seconds(reports["needed"]["stages"]) == _without_seconds(reports["all"]["stages"])
    assert reports["needed"]["stages"][3]["docs_in"] > 400 and len(reports["needed"]["stages"]) == 4
    assert cards["needed"] == cards["all"]
    # which files a finished part has depends on the setting: a resume must keep it
    other = load_run_config(tmp_path / "needed.toml", ['run.stage_outputs="all"'])
    with pytest.raises(RunError, match="stage_outputs"):
        run(other, resume=True, progress=False)
