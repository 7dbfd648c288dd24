"""Decontamination: planted leaks on the default corpus, config-only benchmarks, redaction."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import load_run_config
from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.io import read_part
from pipeline.runner import run
from pipeline.stage_folder import part_files
from pipeline.stages.decontam import DecontamStage, redact
from pipeline.stages.decontam_index import lm_eval_words
from pipeline.stages.decontam_settings import Config
from tests.conftest import write_config


def stage(tmp_path: Path, cfg: Config) -> DecontamStage:
    st = DecontamStage(cfg, tmp_path)
    st.setup()
    (tmp_path / "common.json").write_text(json.dumps({"hashes": []}))
    st.load_state()
    return st


def test_planted_leaks_on_default_corpus(tmp_path, sample_corpus, shared_data):
    cfg = write_config(tmp_path / "d.toml", sample_corpus["dir"] / "warc", tmp_path / "out",
                       stages='[[stages]]\nname = "html"\n[[stages]]\nname = "decontam"\n',
                       input_extra=f'format = "warc"\nlabels = "{sample_corpus["dir"] / "labels.jsonl"}"\n')
    st = run(load_run_config(cfg), progress=False).report["stages"][-1]
    gt = st["ground_truth"]
    clean_fp = gt["clean_dropped"] / gt["clean_in"]
    print(f"\n[decontam on planted leaks] recall by variant {gt['recall_by_variant']}, "
          f"false positives on clean {clean_fp:.4f}")
    assert gt["recall_by_variant"]["verbatim"] >= 0.98
    assert gt["recall_by_variant"]["edited"] >= 0.9
    assert gt["recall_by_variant"]["split"] >= 0.9
    assert clean_fp <= 0.005
    rep = st["decontam"]["benchmarks"]
    assert set(rep) == {"gsm8k", "humaneval", "mmlu_redux"}
    assert rep["gsm8k"]["items"] == 1319 and rep["gsm8k"]["docs_affected"] > 10 and rep["gsm8k"]["examples"]


def test_new_benchmark_from_field_mapping_only(tmp_path):
    """A TSV file (a format the shipped benchmarks don't use), described only in config."""
    bench = tmp_path / "trivia.tsv"
    bench.write_text("id\tprompt\tgold\n"
                     "1\tWhich river flows through the ancient city of Thebes in Upper Egypt\tThe Nile river\n"
                     "2\tWhat is the name of the longest bone in the human body\tThe femur\n")
    inp = tmp_path / "in.jsonl"
    docs = [{"id": "leak", "text": "Quiz night! which river flows through the ancient city of Thebes in "
                                   "upper Egypt? The Nile river, of course."},
            {"id": "clean", "text": "The river was quiet and the city slept under the stars of the valley."}]
    inp.write_text("".join(json.dumps(d) + "\n" for d in docs))
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", input_extra="",
                       stages='[[stages]]\nname = "decontam"\n'
                              f'benchmarks = [{{name = "trivia", path = "{bench}", fields = ["prompt", "gold"]}}]\n')
    st = run(load_run_config(cfg), progress=False).report["stages"][-1]
    assert st["drops"] == {"decontam.contaminated": 1}
    assert st["decontam"]["benchmarks"]["trivia"]["items_contaminated"] == 1
    assert st["decontam"]["benchmarks"]["trivia"]["items"] == 2


def test_redaction_exact_output(tmp_path):
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"q": "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu"}) + "\n")
    cfg = Config(benchmarks=({"name": "b", "path": str(bench), "fields": ["q"]},), policy="redact",
                 redact_margin=10, min_piece_chars=20)
    st = stage(tmp_path, cfg)
    head = "This opening part of the document is long enough to keep."
    tail = "And this closing part is also long enough to stay here."
    text = f"{head} xxxxxxxx Alpha, beta gamma DELTA epsilon zeta eta theta iota kappa lambda mu nu! yyyyyyyy {tail}"
    out = st.process(Document("d", text))
    assert isinstance(out, Document)
    assert out.text == f"{head}\n\n{tail}"
    assert out.meta["decontam"]["redacted"] == 1
    pieces, cuts = redact("a" * 50 + "MATCH" + "b" * 50, [(50, 55)], 10, 30)
    assert pieces == ["a" * 40, "b" * 40] and cuts == 1


def test_redaction_drops_documents_split_too_often(tmp_path):
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"q": "one two three four five six seven eight nine ten eleven twelve "
                                      "thirteen"}) + "\n")
    cfg = Config(benchmarks=({"name": "b", "path": str(bench), "fields": ["q"]},), policy="redact",
                 redact_margin=5, min_piece_chars=10, max_splits=2)
    st = stage(tmp_path, cfg)
    leak = "one two three four five six seven eight nine ten eleven twelve thirteen"
    text = " filler text between matches here ".join([leak] * 3)
    out = st.process(Document("d", text))
    assert isinstance(out, Drop) and out.reason == "too_many_splits"


def test_normalisation_as_lm_eval_harness():
    assert lm_eval_words("Don't STOP, it's 3.5!\nNew-line") == ["dont", "stop", "its", "35", "newline"]


def test_bad_benchmark_config_fails_at_startup(tmp_path):
    with pytest.raises(ConfigError, match="needs path and fields"):
        Config(benchmarks=({"name": "x"},))
    with pytest.raises(ConfigError, match="not found"):
        DecontamStage(Config(benchmarks=({"name": "x", "path": str(tmp_path / "no.jsonl"), "fields": ["q"]},))).setup()
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"question": "a"}) + "\n")
    with pytest.raises(ConfigError, match="has no field"):
        DecontamStage(Config(benchmarks=({"name": "x", "path": str(bench), "fields": ["q"]},))).setup()


def _one_item_bench(path: Path, data: bytes, tmp_path: Path) -> dict:
    """Run decontam with one benchmark file holding 'prompt' items; return the stage's stats."""
    path.write_bytes(data)
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "leak", "text": "Today: which river flows through the ancient city of Thebes in "
                                                     "upper Egypt and into the sea? The Nile river."}) + "\n")
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", input_extra="",
                       stages='[[stages]]\nname = "decontam"\n'
                              f'benchmarks = [{{name = "b", path = "{path}", fields = ["prompt"]}}]\n')
    return run(load_run_config(cfg), progress=False).report["stages"][-1]


ITEMS = [{"prompt": "Which river flows through the ancient city of Thebes in Upper Egypt and into the sea"},
         {"prompt": "What is the name of the longest bone in the human body and where is it"}]


@pytest.mark.parametrize("name,data", [
    ("jsonl_named.json", "".join(json.dumps(r) + "\n" for r in ITEMS).encode()),
    ("array_named.jsonl", json.dumps(ITEMS).encode()),
    ("gzipped_without_suffix.json", __import__("gzip").compress("".join(json.dumps(r) + "\n" for r in ITEMS).encode())),
])
def test_benchmark_files_are_read_by_content_not_name(tmp_path, name, data):
    st = _one_item_bench(tmp_path / name, data, tmp_path)
    assert st["decontam"]["benchmarks"]["b"]["items"] == 2 and st["drops"] == {"decontam.contaminated": 1}


def test_folder_of_one_object_a_task(tmp_path):
    (tmp_path / "tasks").mkdir()
    for i, r in enumerate(ITEMS):
        (tmp_path / "tasks" / f"task_{i}.json").write_text(json.dumps(dict(r, task_id=i)))
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "d", "text": ITEMS[1]["prompt"].lower() + " today"}) + "\n")
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", input_extra="",
                       stages='[[stages]]\nname = "decontam"\n'
                              f'benchmarks = [{{name = "t", path = "{tmp_path / "tasks"}", fields = ["prompt"]}}]\n')
    st = run(load_run_config(cfg), progress=False).report["stages"][-1]
    assert st["decontam"]["benchmarks"]["t"]["items"] == 2 and st["docs_dropped"] == 1


def test_malformed_benchmark_file_fails_at_start_up_naming_file_line_and_fix(tmp_path):
    from tests.conftest import run_cli

    bad = tmp_path / "bench.json"
    bad.write_text(json.dumps(ITEMS[0]) + "\n" + json.dumps(ITEMS[1]) + "\n" + '{"prompt": "cut off\n')
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "d", "text": "some text"}) + "\n")
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", input_extra="",
                       stages='[[stages]]\nname = "decontam"\n'
                              f'benchmarks = [{{name = "b", path = "{bad}", fields = ["prompt"]}}]\n')
    res = run_cli("run", str(cfg), check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{bad} line 3" in res.stderr and "fix that line" in res.stderr
    assert not (tmp_path / "out" / "00_read").exists()  # at start-up, before any data is read


@pytest.mark.parametrize("policy", ["redact", "tag"])
def test_documents_the_scan_found_nothing_in_are_judged_as_a_full_lookup_would(tmp_path, sample_corpus,
                                                                                shared_data, policy):
    """The run keeps documents without a match in the prepare scan unread; judging every document
    by a second lookup gives the same kept texts, tags and drops. Real text with the planted leaks
    (GSM8K, HumanEval, MMLU-Redux items), and a low common-n-gram limit so that some matches are
    common phrases and the documents holding only those must be kept."""
    rows = [json.loads(l) for l in gzip.open(sample_corpus["dir"] / "expected.jsonl.gz")]
    leaks = {r["id"] for r in map(json.loads, open(sample_corpus["dir"] / "labels.jsonl")) if r["kind"] == "leak"}
    rows = [r for r in rows if r["id"] in leaks] + [r for r in rows if r["id"] not in leaks][:300]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in sorted(rows, key=lambda r: r["id"])))
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", input_extra="", extra_run="part_docs = 100",
                       stages=f'[[stages]]\nname = "decontam"\npolicy = "{policy}"\nmax_docs_per_ngram = 2\n')
    run(load_run_config(cfg), progress=False)
    out = tmp_path / "out" / "01_decontam"
    common = json.loads((out / "_state" / "common.json").read_text())["hashes"]
    full = DecontamStage(load_run_config(cfg).stages[0].config, out / "_state")
    full.setup()
    full.load_state()  # no part begun: every document is looked up
    res = full.apply([d for p in part_files(tmp_path / "out" / "00_read") for d in read_part(p)])
    kept = [d for p in part_files(out) for d in read_part(p)]
    assert [(d.id, d.text, d.meta) for d in kept] == [(d.id, d.text, d.meta) for d in res.kept]
    drops = pq.read_table(out / "drops.parquet").to_pylist()
    assert [(r["id"], r["reason"], r["detail"]) for r in drops] == \
           [(d.id, d.reason, d.detail) for d in res.dropped]
    changed = sum("decontam" in d.meta for d in kept) + len(drops)
    assert common and changed >= 0.9 * len(leaks) and len(kept) + len(drops) == len(rows)
