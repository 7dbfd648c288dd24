"""Shared fixtures: the default corpus (built once per test session) and ../shared data."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.resources import shared_data_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not beside the checkout")
    return d


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory) -> dict:
    """The full default corpus, built once; with its build time for the acceptance check."""
    from pipeline.sample.build import build_sample

    out = tmp_path_factory.mktemp("sample")
    t0 = time.perf_counter()
    manifest = build_sample(out, seed=0)
    return {"dir": out, "manifest": manifest, "seconds": time.perf_counter() - t0}


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
    res = subprocess.run([sys.executable, "-m", "training.cli", *args], capture_output=True,
                         text=True, cwd=kw.pop("cwd", REPO), **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"corpusprep {' '.join(args)} failed ({res.returncode}):\n"
                             f"{res.stdout}\n{res.stderr}")
    return res


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]
