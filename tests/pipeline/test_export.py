"""Trainer-format exports (`corpusprep export`) of the default corpus's shards, read back by each
trainer's own reader (megatron-core's IndexedDataset, DataTrove's DatatroveFolderDataset for
nanotron, OLMo-core's NumpyFSLDataset): the same tokens as our Arrow shards, document for document.
The readers come with the `readers` extra that `[test]` pulls in; a test skips only when its reader
cannot be imported, and says why."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipeline.config import load_run_config
from pipeline.devtools.procmem import run_with_peak_rss
from pipeline.errors import ConfigError
from pipeline.export import export
from pipeline.runner import run
from pipeline.shard_format import read_manifest
from tests.conftest import REPO, run_cli, write_config

SHARDS = """
[shards]
variants = {raw = "html"}
budgets = ["250K", "1M"]
validation_tokens = "20K"
tokens_per_shard = 65536
vocab_size = 1024
"""


@pytest.fixture(scope="module")
def shards(tmp_path_factory, sample_corpus) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    cfg = write_config(tmp / "e.toml", sample_corpus["dir"] / "warc", tmp / "out",
                       stages='[[stages]]\nname = "html"\n' + SHARDS, extra_run="workers = 2")
    run(load_run_config(cfg), progress=False)
    return tmp / "out" / "shards"


def reference(folder: Path, variant: str, budget: str) -> list[np.ndarray]:
    """The budget's documents read straight from the Arrow shards with pyarrow: rows in order, a
    row with doc_offset 0 starting a document, cut at the manifest's token count."""
    man = json.loads((folder / "manifest.json").read_text())
    entry = man["validation"] if budget == "validation" else man["variants"][variant]["budgets"][budget]
    docs: list[list[np.ndarray]] = []
    left = entry["tokens"]
    for s in entry["shards"]:
        with pa.memory_map(str(folder / s["path"])) as m:
            t = pa.ipc.open_stream(m).read_all()
        for offset, toks in zip(t["doc_offset"].to_pylist(), t["tokens"].to_numpy(zero_copy_only=False)):
            toks = np.asarray(toks)[:max(left, 0)]
            if not len(toks):
                break
            left -= len(toks)
            if offset == 0:
                docs.append([])
            docs[-1].append(toks)
    return [np.concatenate(d) for d in docs]


def reader(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:  # the readers extra could not install here
        print(f"skipping: {module} cannot be imported ({e}); `pip install -e '.[readers]'`")
        pytest.skip(f"{module} cannot be imported ({e})")


def test_megatron_indexed_dataset_reads_the_budget_document_for_document(shards, tmp_path):
    mod = reader("megatron.core.datasets.indexed_dataset")
    docs = reference(shards, "raw", "250K")
    run_cli("export", str(shards), "--format", "megatron", "--variant", "raw", "--budget", "250K",
            "--out", str(tmp_path / "m"))
    ds = mod.IndexedDataset(str(tmp_path / "m" / "tokens"))
    assert len(ds) == len(docs) == len(ds.document_indices) - 1 == read_manifest(shards).budget("raw", "250K").get(
        "docs")
    assert all(np.array_equal(ds[i], d) for i, d in enumerate(docs))
    assert sum(len(d) for d in docs) == read_manifest(shards).budget("raw", "250K").tokens
    import torch  # Megatron's own writer (preprocess_data.py, NeMo Curator) given the same documents: the same bytes

    builder = mod.IndexedDatasetBuilder(str(tmp_path / "peer.bin"), dtype=np.uint16)
    for d in docs:
        builder.add_document(torch.from_numpy(d.astype(np.int64)), [len(d)])
    builder.finalize(str(tmp_path / "peer.idx"))
    for ext in ("bin", "idx"):
        assert (tmp_path / f"peer.{ext}").read_bytes() == (tmp_path / "m" / f"tokens.{ext}").read_bytes()


def test_nanotron_datatrove_folder_dataset_reads_the_budget(shards, tmp_path):
    mod = reader("datatrove.utils.dataset")
    docs = reference(shards, "raw", "250K")
    flat = np.concatenate(docs)
    m = export(shards, "nanotron", tmp_path / "n", "raw", "250K")
    whole = mod.DatatroveFolderDataset(str(tmp_path / "n"), seq_len=len(flat) - 1, token_size=2,
                                       return_positions=True)  # one window: the whole budget
    assert [Path(f.file_path).name for f in whole.files] == ["tokens.ds"]  # not its .index or .metadata
    assert len(whole) == 1 and m["docs"] == len(docs)
    item = whole[0]
    assert np.array_equal(item["input_ids"].numpy(), flat)
    assert int((item["positions"] == 0).sum()) == len(docs)  # a document starts where a position is 0
    starts = np.flatnonzero(item["positions"].numpy() == 0)
    assert np.array_equal(np.diff(np.append(starts, len(flat))), [len(d) for d in docs])
    windows = mod.DatatroveFolderDataset(str(tmp_path / "n"), seq_len=2047, token_size=2)  # as nanotron trains
    got = np.concatenate([windows[i]["input_ids"].numpy() for i in range(len(windows))])
    assert len(windows) == len(flat) // 2048 and np.array_equal(got, flat[:len(got)])


def test_olmo_numpy_fsl_dataset_reads_the_budget_and_validation(shards, tmp_path):
    mod = reader("olmo_core.data.numpy_dataset")
    for budget in ("250K", "validation"):
        docs = reference(shards, "raw", budget)
        flat = np.concatenate(docs)
        m = export(shards, "npy", tmp_path / budget, *(("raw", "250K") if budget == "250K" else (None, None)),
                   validation=budget == "validation")
        assert m["dtype"] == "uint16" and m["vocab_size"] == 1024 and m["tokens"] == len(flat)
        ds = mod.NumpyFSLDataset(str(tmp_path / budget / "part-00000.npy"), sequence_length=len(flat),
                                 pad_token_id=m["eos_id"], eos_token_id=m["eos_id"], vocab_size=m["vocab_size"],
                                 dtype=np.uint16, generate_doc_lengths=True)
        item = ds[0]
        assert len(ds) == 1 and np.array_equal(item["input_ids"].numpy(), flat)
        assert item["doc_lens"].tolist() == [len(d) for d in docs]
    assert len(reference(shards, "raw", "validation")) == read_manifest(shards).validation.get("docs")


@pytest.mark.parametrize("fmt,part", [("megatron", "tokens.bin"), ("megatron", "tokens.idx"),
                                      ("nanotron", "tokens.ds.index"), ("npy", "part-00000.npy")])
def test_card_verify_passes_an_intact_export_and_fails_on_a_flipped_byte(shards, tmp_path, fmt, part):
    out = tmp_path / fmt
    export(shards, fmt, out, "raw", "250K")
    ok = run_cli("card", "verify", str(out), check=False)
    assert ok.returncode == 0 and "matches its export.json" in ok.stdout
    data = bytearray((out / part).read_bytes())
    data[len(data) // 2] ^= 0x01
    (out / part).write_bytes(bytes(data))
    bad = run_cli("card", "verify", str(out), check=False)
    assert bad.returncode == 1 and f"{out / part} does not match export.json" in bad.stdout


def test_exports_are_listed_in_the_card_reused_and_never_overwritten(shards, tmp_path):
    out = tmp_path / "again"
    first = export(shards, "megatron", out, "raw", "1M")
    again = export(shards, "megatron", out, "raw", "1M")
    assert again.get("reused") and again["tokens"] == first["tokens"] == read_manifest(shards).budget(
        "raw", "1M").tokens
    with pytest.raises(ConfigError, match="exists and is not this export"):
        export(shards, "npy", out, "raw", "1M")
    card = (shards.parent.parent / "cards" / "e" / "README.md").read_text()
    assert "## Exports" in card and f"| megatron | raw | 1M | {first['tokens']:,} |" in card and str(out) in card
    report = json.loads((shards.parent / "report.json").read_text())
    assert {e["path"] for e in report["exports"]} >= {str(out.resolve())}


EXPORT = """
import sys, json
from pipeline.export import export
m = export(sys.argv[1], sys.argv[2], sys.argv[3], "raw", sys.argv[4], buffer_tokens=1 << 16)
print(json.dumps({"seconds": m["seconds"], "tokens": m["tokens"]}))
"""


def test_export_of_a_1m_token_budget_is_fast_and_its_memory_does_not_grow_with_the_budget(shards, tmp_path):
    """Peak RSS (anonymous memory: what the export allocates) at budgets 4x apart, each in a process of
    its own, with a write buffer (64K tokens) smaller than both: memory is the buffer's, one shard's
    and one document's, whatever the budget."""
    peaks = {}
    for fmt in ("megatron", "npy"):
        for budget in ("250K", "1M"):
            out = tmp_path / f"{fmt}-{budget}"
            r = run_with_peak_rss([sys.executable, "-c", EXPORT, str(shards), fmt, str(out), budget], cwd=REPO)
            assert r.returncode == 0
            m = json.loads((out / "export.json").read_text())
            peaks[fmt, budget] = r.one_anon_mb
            if budget == "1M":
                assert m["tokens"] >= 1_000_000
        print(fmt, {b: f"{peaks[fmt, b]:.1f} MB" for b in ("250K", "1M")})
        assert peaks[fmt, "1M"] <= peaks[fmt, "250K"] + 4, peaks
    timed = export(shards, "nanotron", tmp_path / "timed", "raw", "1M")
    print(f"1M-token export: {timed['seconds']:.2f} s")
    assert timed["seconds"] < 10


def test_bad_requests_and_damaged_shards_are_clear_errors_that_write_nothing(shards, tmp_path):
    from pipeline.shard_format import ShardsError

    with pytest.raises(ShardsError, match="variant 'nope' not in the shards; available: raw"):
        export(shards, "npy", tmp_path / "a", "nope", "250K")
    with pytest.raises(ConfigError, match="needs --variant and --budget .* raw: 1M, 250K"):
        export(shards, "npy", tmp_path / "a", "raw", None)
    with pytest.raises(ConfigError, match="give no --variant or --budget"):
        export(shards, "npy", tmp_path / "a", "raw", None, validation=True)
    res = run_cli("export", str(shards), "--format", "npy", "--variant", "raw", "--budget", "3M", "--out",
                  str(tmp_path / "a"), check=False)
    assert res.returncode != 0 and "budget '3M' not in variant 'raw'" in res.stderr and "Traceback" not in res.stderr
    copy = tmp_path / "shards"
    shutil.copytree(shards, copy)
    first = copy / read_manifest(copy).budget("raw", "250K").shards[0].path
    data = bytearray(first.read_bytes())
    data[100] ^= 0x01
    first.write_bytes(bytes(data))
    with pytest.raises(ShardsError, match="cannot export, the shards do not match their manifest"):
        export(copy, "megatron", tmp_path / "b", "raw", "250K")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("fmt", ["megatron", "nanotron", "npy"])
def test_a_vocabulary_past_uint16_is_written_and_read_back_wide(fmt, tmp_path):
    """Token ids past 65,535 (a uint32 shard folder): each writer's wide path, read by its trainer's reader."""
    from pipeline.export_formats import WRITERS, counts

    rng = np.random.default_rng(0)
    docs = [np.append(rng.integers(1, 200_000, n), 0).astype(np.uint32) for n in (5, 300, 1, 77)]
    w = WRITERS[fmt](tmp_path, "uint32", "t")
    w.add(docs[:2])
    w.add(docs[2:])
    w.close()
    flat = np.concatenate(docs)
    assert counts(tmp_path, fmt, "uint32", 0) == (len(flat), len(docs))
    if fmt == "megatron":
        ds = reader("megatron.core.datasets.indexed_dataset").IndexedDataset(str(tmp_path / "tokens"))
        assert ds[0].dtype == np.int32 and all(np.array_equal(ds[i], d) for i, d in enumerate(docs))
    elif fmt == "nanotron":
        ds = reader("datatrove.utils.dataset").DatatroveFolderDataset(str(tmp_path), seq_len=len(flat) - 1,
                                                                      token_size=4)
        assert np.array_equal(ds[0]["input_ids"].numpy(), flat)
    else:
        mod = reader("olmo_core.data.numpy_dataset")
        ds = mod.NumpyFSLDataset(str(tmp_path / "part-00000.npy"), sequence_length=len(flat), pad_token_id=0,
                                 eos_token_id=0, vocab_size=200_000, dtype=np.uint32, generate_doc_lengths=True)
        assert np.array_equal(ds[0]["input_ids"].numpy(), flat)
        assert ds[0]["doc_lens"].tolist() == [len(d) for d in docs]


def test_indexes_copied_and_counted_a_few_entries_at_a_time_are_the_same_bytes(shards, tmp_path, monkeypatch):
    """The per-document side files go into the index and are counted by `card verify` a chunk at a
    time (a million entries); with 7-entry chunks, the same files and the same counts."""
    from pipeline import export_formats

    for fmt in ("megatron", "nanotron", "npy"):
        export(shards, fmt, tmp_path / f"{fmt}-big", "raw", "250K")
    monkeypatch.setattr(export_formats, "CHUNK", 7)
    for fmt in ("megatron", "nanotron", "npy"):
        small = tmp_path / f"{fmt}-small"
        export(shards, fmt, small, "raw", "250K", buffer_tokens=1000)
        m = json.loads((small / "export.json").read_text())
        assert m["files"] == json.loads((tmp_path / f"{fmt}-big" / "export.json").read_text())["files"]
        assert export_formats.counts(small, fmt, "uint16", 0) == (m["tokens"], m["docs"])


def test_an_export_that_fails_midway_leaves_nothing(shards, tmp_path, monkeypatch):
    from pipeline import export_formats

    def broken(self, docs):
        raise OSError("disk full (planted)")

    monkeypatch.setattr(export_formats.NpyWriter, "add", broken)
    with pytest.raises(OSError, match="planted"):
        export(shards, "npy", tmp_path / "x", "raw", "250K")
    assert list(tmp_path.iterdir()) == []
