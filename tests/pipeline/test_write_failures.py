"""Writes under failure: a full disk and SIGTERM stop a run cleanly, leave no half-written file,
and `--resume` finishes with output byte-identical to an undisturbed run."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusprep.cli import main
from pipeline import atomic
from pipeline.config import load_run_config
from pipeline.runner import run
from tests.conftest import REPO, write_config
from tests.pipeline.test_runner import data_files

PART_DOCS = "part_docs = 60"


@pytest.fixture(scope="module")
def reference(tmp_path_factory, sample_corpus) -> tuple[Path, Path]:
    """(input, output of an undisturbed run) of the html stage on the default corpus."""
    tmp = tmp_path_factory.mktemp("ref")
    inp = sample_corpus["dir"] / "warc"
    run(load_run_config(write_config(tmp / "ref.toml", inp, tmp / "ref", extra_run=PART_DOCS)), progress=False)
    return inp, tmp / "ref"


def _same_as_reference(out: Path, ref: Path) -> None:
    assert data_files(out) == data_files(ref)
    for stage in ("00_read", "01_html"):
        a, b = (json.loads((d / stage / "stats.json").read_text()) for d in (out, ref))
        assert {k: a[k] for k in ("docs_in", "docs_out", "drops", "bytes_in", "bytes_out")} == \
               {k: b[k] for k in ("docs_in", "docs_out", "drops", "bytes_in", "bytes_out")}


def _leftovers(out: Path) -> list[Path]:
    return sorted(out.rglob(".*.tmp"))


def test_full_disk_stops_with_a_clear_message_and_resume_is_identical(tmp_path, reference, monkeypatch, capsys):
    inp, ref = reference
    cfg = write_config(tmp_path / "full.toml", inp, tmp_path / "out", extra_run=PART_DOCS)
    real, writes = atomic.write_parquet, []

    def filling_up(path, table):
        """The 30th Parquet write finds the disk full halfway through its temp file."""
        writes.append(path)
        if len(writes) < 30:
            return real(path, table)
        with atomic.atomic_path(path) as tmp:
            tmp.write_bytes(b"PAR1" + bytes(4096))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    monkeypatch.setattr(atomic, "write_parquet", filling_up)
    assert main(["run", str(cfg), "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert "no space left on the device" in err and "--resume" in err and "Traceback" not in err
    assert _leftovers(tmp_path / "out") == []
    assert not Path(writes[-1]).exists()  # the write that failed left nothing under its name
    monkeypatch.setattr(atomic, "write_parquet", real)
    assert main(["run", str(cfg), "--resume", "--no-progress"]) == 0
    _same_as_reference(tmp_path / "out", ref)


def test_sigterm_stops_cleanly_and_resume_is_identical(tmp_path, reference):
    inp, ref = reference
    cfg = write_config(tmp_path / "term.toml", inp, tmp_path / "out", extra_run=f"{PART_DOCS}\nworkers = 2")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "corpusprep", "run", str(cfg), "--no-progress"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and len(list(out.glob("01_html/_done/*.json"))) < 6:
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before SIGTERM could be sent"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "stopped" in err and "--resume" in err, err
    assert "Traceback" not in err, err
    assert _leftovers(out) == [] and not (out / "report.json").exists()
    for marker in out.glob("*/_done/*.json"):  # a marker only ever points at whole files
        folder = marker.parent.parent
        assert (folder / "_drops" / f"{marker.stem}.parquet").exists()
        if folder.name == "01_html":  # the run's result (the raw input's parts: not written, html runs in the read)
            assert (folder / f"{marker.stem}.parquet").exists()
    res = subprocess.run([sys.executable, "-m", "corpusprep", "run", str(cfg), "--resume", "--no-progress"],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    _same_as_reference(out, ref)
