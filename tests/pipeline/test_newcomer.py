"""A newcomer's mistakes: every bad input ends in exit 0 with the documents accounted for and a
one-line warning where the input was mostly unusable, or exit 2 with one line naming the file and
the fix, in the words of the interface typed (`input.text_field` in a config, `--text-field` for
`corpusprep stage`); never a traceback; a failed start leaves nothing behind, so the fixed command
just runs. The inputs are real texts and crawl files written by others (../shared/data)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusprep.cli import main
from tests.conftest import REPO, write_config

STAGES = '[[stages]]\nname = "quality"\n[[stages]]\nname = "dedup"\n'


def _texts(shared: Path, n: int) -> list[dict]:
    rows = (shared / "extraction" / "l3s-gn1" / "ground_truth.jsonl").read_text().splitlines()[:n]
    return [{"id": f"d{i}", "text": json.loads(r)["text"]} for i, r in enumerate(rows)]


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def _inputs(shared: Path, tmp: Path) -> dict[str, Path]:
    """The bad inputs of issue 33, each built on real data."""
    d = {}
    d["empty"] = tmp / "empty.jsonl"
    d["empty"].write_text("")
    d["no_text_field"] = _jsonl(tmp / "content.jsonl", [{"id": r["id"], "content": r["text"]}
                                                        for r in _texts(shared, 20)])
    d["plain_text_named_warc"] = tmp / "page.warc.gz"
    d["plain_text_named_warc"].write_text(_texts(shared, 1)[0]["text"])
    d["mixed_folder"] = tmp / "mixed"
    d["mixed_folder"].mkdir()
    (d["mixed_folder"] / "crawl.warc.gz").write_bytes((shared / "warc" / "iipc__jwarc" / "cc.warc.gz").read_bytes())
    _jsonl(d["mixed_folder"] / "notes.jsonl", [{"id": "n", "body": "a note"}])
    d["txt_beside_data"] = tmp / "txt"
    d["txt_beside_data"].mkdir()
    _jsonl(d["txt_beside_data"] / "docs.jsonl", _texts(shared, 20))
    for name in ("README.txt", "todo.txt"):
        (d["txt_beside_data"] / name).write_text("not an input\n")
    d["mostly_skipped"] = _jsonl(tmp / "mostly.jsonl", _texts(shared, 3) + [{"id": f"x{i}", "body": "no text"}
                                                                             for i in range(10)])
    return d


# what each input must end in: (exit code, a phrase of the one line, the file it names)
EXPECT = {
    "empty": (0, "nothing to read (no records)", "empty.jsonl"),
    "no_text_field": (2, "none of its first 20 records has the field 'text' (they have: content, id); set {field}",
                      "content.jsonl"),
    "plain_text_named_warc": (2, "named a WARC file, but its first", "page.warc.gz"),
    "mixed_folder": (2, "none of its first 1 records has the field 'text' (they have: body, id); set {field}",
                     "notes.jsonl"),
    "txt_beside_data": (0, "2 file(s) not read, in no known format (.txt 2); set {format}", "txt"),
    "mostly_skipped": (0, "10 of 13 records skipped as read.missing_text, e.g. mostly.jsonl:4", "mostly.jsonl"),
}


@pytest.mark.parametrize("case", sorted(EXPECT))
def test_bad_input_through_run_and_stage_is_one_clear_line(tmp_path, shared_data, capsys, case):
    inp = _inputs(shared_data, tmp_path)[case]
    code, phrase, named = EXPECT[case]
    for interface in ("run", "stage"):
        out = tmp_path / f"out-{interface}"
        if interface == "run":
            cfg = write_config(tmp_path / "c.toml", inp, out, stages=STAGES, input_extra="")
            rc, _, err = _cli(capsys, "run", str(cfg), "--no-progress")
            words = phrase.format(field="input.text_field", format="input.format")
        else:
            rc, _, err = _cli(capsys, "stage", "quality", "--input", str(inp), "--output", str(out), "--no-progress")
            words = phrase.format(field="--text-field", format="--format")
        lines = [l for l in err.splitlines() if l.strip()]
        assert rc == code, (interface, err)
        assert len(lines) == 1 and words in lines[0] and named in lines[0], (interface, lines)
        if code == 2:
            assert lines[0].startswith(f"corpusprep {interface}: error: ") and not out.exists()
        else:
            assert lines[0].startswith("corpusprep: warning: ")
            stats = json.loads(((out / "00_read") if interface == "run" else (out / "_read")).joinpath(
                "stats.json").read_text())
            assert stats["docs_in"] == stats["docs_out"] + stats["docs_dropped"] and stats["warnings"]


def test_reading_a_folder_of_crawl_files_as_jsonl_is_refused(tmp_path, shared_data, capsys):
    folder = tmp_path / "crawls"
    folder.mkdir()
    for name in ("iipc__jwarc/cc.warc.gz", "oduwsdl__ipwb/mkelly1.warc"):
        (folder / Path(name).name).write_bytes((shared_data / "warc" / name).read_bytes())
    rc, _, err = _cli(capsys, "stage", "quality", "--input", str(folder), "--output", str(tmp_path / "o"),
                      "--format", "jsonl", "--no-progress")
    assert rc == 2 and "lines are no JSON objects" in err and "--format" in err and len(err.splitlines()) == 1


def test_after_a_failed_start_the_fixed_command_just_runs(tmp_path, shared_data, capsys):
    """A missing input, a Parquet file without the text column, and a folder a failed start of
    an older corpusprep left with only run.json: fix the config, run the same command."""
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.toml", tmp_path / "in.parquet", out, stages=STAGES, input_extra="")
    rc, _, err = _cli(capsys, "run", str(cfg), "--no-progress")
    assert rc == 2 and "does not exist" in err and not out.exists()
    rows = _texts(shared_data, 30)
    table = pa.table({"id": [r["id"] for r in rows], "body": [r["text"] for r in rows]})
    pq.write_table(table, tmp_path / "in.parquet")
    rc, _, err = _cli(capsys, "run", str(cfg), "--no-progress")
    assert rc == 2 and "no column 'text' (columns: id, body); set input.text_field" in err and not out.exists()
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"config_hash": "from an older config", "config": {}}))
    write_config(tmp_path / "c.toml", tmp_path / "in.parquet", out, stages=STAGES, input_extra='text_field = "body"\n')
    rc, stdout, err = _cli(capsys, "run", str(cfg), "--no-progress")
    assert rc == 0 and "30 documents in" in stdout, err


def test_stage_resume_with_other_settings_is_refused_naming_them(tmp_path, shared_data, capsys):
    inp = _jsonl(tmp_path / "docs.jsonl", _texts(shared_data, 30))
    out = tmp_path / "out"
    args = ["stage", "quality", "--input", str(inp), "--output", str(out), "--no-progress"]
    assert _cli(capsys, *args)[0] == 0
    kept = json.loads((out / "stats.json").read_text())["docs_out"]
    assert _cli(capsys, *args, "--resume")[0] == 0  # the same settings: resumed (nothing to do)
    rc, _, err = _cli(capsys, *args, "--resume", "--set", "min_language_score=0.9", "--max-record-mb", "8")
    assert rc == 2 and "--set min_language_score: 0.65 -> 0.9" in err and "--max-record-mb: 64 -> 8" in err
    assert json.loads((out / "stats.json").read_text())["docs_out"] == kept  # nothing was rewritten


def test_limit_reads_the_first_n_documents(tmp_path, shared_data, capsys):
    inp = _jsonl(tmp_path / "docs.jsonl", _texts(shared_data, 40))
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", stages=STAGES, input_extra="")
    rc, stdout, err = _cli(capsys, "run", str(cfg), "--no-progress", "--limit", "7")
    assert rc == 0 and "7 documents in" in stdout and "run.limit = 7" in err
    ids = pq.read_table(tmp_path / "out" / "00_read" / "_ids" / "part-00000-00000.parquet")["id"].to_pylist()
    assert ids == [f"d{i}" for i in range(7)]
    rc, stdout, _ = _cli(capsys, "stage", "quality", "--input", str(inp), "--output", str(tmp_path / "s"),
                         "--limit", "5", "--no-progress")
    assert rc == 0 and "read: 5 documents" in stdout


def test_a_closed_pipe_is_no_error():
    """`corpusprep stages | head -1`: the reader stops reading; corpusprep stops without a word."""
    proc = subprocess.Popen([sys.executable, "-m", "corpusprep", "stages"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() in (0, 141) and "Traceback" not in err and "BrokenPipe" not in err, err


def test_an_unreachable_ray_cluster_is_one_line(tmp_path, shared_data, capsys):
    inp = _jsonl(tmp_path / "docs.jsonl", _texts(shared_data, 5))
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", stages=STAGES, input_extra="")
    rc, _, err = _cli(capsys, "run", str(cfg), "--executor", "ray", "--address", "127.0.0.1:9", "--no-progress")
    assert rc == 2 and "cannot join the Ray cluster at '127.0.0.1:9'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_every_path_a_config_gives_resolves_against_its_folder(tmp_path, shared_data, monkeypatch, capsys):
    """Run from another directory: the output, the card (by default beside the config), the input
    and a custom benchmark's file all resolve against the config's folder; a path typed with
    --set resolves against the directory it was typed in."""
    from pipeline.config import load_run_config

    conf = tmp_path / "project"
    (conf / "data").mkdir(parents=True)
    rows = _texts(shared_data, 30)
    _jsonl(conf / "data" / "docs.jsonl", rows)
    _jsonl(conf / "data" / "bench.jsonl", [{"q": " ".join(rows[3]["text"].split()[:40])}])
    (conf / "c.toml").write_text('[run]\nname = "p"\noutput = "out"\n[input]\npath = "data/docs.jsonl"\n'
                                 '[[stages]]\nname = "decontam"\n'
                                 'benchmarks = [{name = "mine", path = "data/bench.jsonl", fields = ["q"]}]\n')
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    cfg = load_run_config(conf / "c.toml")
    assert (cfg.run.output, cfg.run.cards_dir, cfg.input.path) == (str(conf / "out"), str(conf / "data_cards"),
                                                                  str(conf / "data" / "docs.jsonl"))
    assert cfg.stages[0].config.benchmarks[0]["path"] == str(conf / "data" / "bench.jsonl")
    assert load_run_config(conf / "c.toml", ["run.output=typed"]).run.output == str(tmp_path / "elsewhere" / "typed")
    rc, _, _ = _cli(capsys, "run", str(conf / "c.toml"), "--no-progress")
    assert rc == 0 and (conf / "data_cards" / "p" / "README.md").exists()
    drops = pq.read_table(conf / "out" / "01_decontam" / "drops.parquet")["id"].to_pylist()
    assert drops == ["d3"]  # the benchmark was found where the config said


def test_empty_parts_pass_through_every_stage_and_the_shards(tmp_path, shared_data, capsys):
    """Three sources: real pages, pages the html stage empties, and an empty file. Every stage and
    the shards step meet empty parts and go on, and every document is accounted for."""
    import gzip

    pages = sorted((shared_data / "extraction" / "dragnet" / "html").iterdir())[:60]
    (tmp_path / "in").mkdir()
    _jsonl(tmp_path / "in" / "pages.jsonl", [{"id": p.name, "text": gzip.decompress(p.read_bytes()).decode(
        "utf-8", "replace")} for p in pages])
    _jsonl(tmp_path / "in" / "blank.jsonl", [{"id": f"b{i}", "text": "<html><body> </body></html>"} for i in range(5)])
    (tmp_path / "in" / "nothing.jsonl").write_text("")
    stages = "".join(f'[[stages]]\nname = "{s}"\n' for s in ("html", "safety", "quality", "dedup", "decontam"))
    shards = ('[shards]\nvariants = {raw = "html", clean = "decontam"}\nbudgets = ["5K"]\nvalidation_tokens = "1K"\n'
              'vocab_size = 300\ntokens_per_shard = 4096\n')
    cfg = write_config(tmp_path / "c.toml", tmp_path / "in", tmp_path / "out", stages=stages + shards, input_extra="")
    rc, stdout, err = _cli(capsys, "run", str(cfg), "--no-progress")
    assert rc == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["docs_in"] == 65 and report["docs_kept"] + report["docs_dropped"] == 65
    assert report["stages"][1]["drops"].get("html.no_main_text", 0) >= 5  # the blank part leaves html empty
    assert json.loads((tmp_path / "out" / "shards" / "manifest.json").read_text())["variants"]["clean"]["budgets"]
