"""Shared fixtures: the default corpus (built once per test session) and ../shared data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.resources import shared_data_dir

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two test processes share the machine's cores: each runs OpenMP/BLAS work (torch, faiss) on
    # one thread, here and in the subprocesses it starts. On two threads a short training run took
    # 22-27 s beside a busy process, against 11-13 s on one (and 9-10 s on two with the machine to
    # itself): most likely OpenMP threads spinning for a core the other process held.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not beside the checkout")
    return d


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory) -> dict:
    """The full default corpus, built once per test session, with its build time for the
    acceptance check. Under pytest-xdist the first worker builds it (under a file lock) into the
    folder the workers share, and the others read it: built twice, it cost each worker ~20 s."""
    import fcntl

    from pipeline.sample.build import build_sample

    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    out, built = root / "sample", root / "sample-built.json"
    with open(root / "sample.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            t0 = time.perf_counter()
            build_sample(out, seed=0)
            built.write_text(json.dumps({"seconds": time.perf_counter() - t0}))
    manifest = json.loads((out / "manifest.json").read_text())
    return {"dir": out, "manifest": manifest, **json.loads(built.read_text())}


def write_config(path: Path, input_path: Path, output: Path, stages: str = '[[stages]]\nname = "html"\n',
                 extra_run: str = "", input_extra: str = 'format = "warc"\n') -> Path:
    path.write_text(textwrap.dedent(f"""\
        [run]
        name = "{path.stem}"
        output = "{output}"
        cards_dir = "{output.parent / 'cards'}"
        {extra_run}
        [input]
        path = "{input_path}"
        {input_extra}
        """) + stages)
    return path


def run_cli(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "corpusprep", *args], capture_output=True,
                         text=True, cwd=kw.pop("cwd", REPO), **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"corpusprep {' '.join(args)} failed ({res.returncode}):\n"
                             f"{res.stdout}\n{res.stderr}")
    return res


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]
