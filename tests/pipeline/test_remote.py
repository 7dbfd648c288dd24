"""Input, output and card on S3: a real S3 API (moto's server, started and stopped here on
localhost) serves the default corpus, and a run whose input, output and card folder are s3://
URLs writes the same bytes as a local run of the same config. moto and s3fs come with the test
extra; the tests skip, saying why, only where they cannot be imported."""
from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest

from tests.conftest import run_cli

try:
    import s3fs
    from moto.server import ThreadedMotoServer
except ImportError as e:  # pragma: no cover - both are in the test extra
    pytest.skip(f"moto or s3fs cannot be imported ({e}); pip install 'corpusprep[test]'", allow_module_level=True)

STAGES = '[[stages]]\nname = "html"\n[[stages]]\nname = "quality"\n[[stages]]\nname = "dedup"\n'
# what records where the run ran and its paths, not what it computed (compared by their counts)
RECORDS = ("run.json", "report.json", "README.md")


@pytest.fixture(scope="module")
def s3(sample_corpus):
    """A moto S3 server on a free local port, a bucket holding the default corpus's WARC files
    and labels, and the environment that points boto (in the run's process) at it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    fs = s3fs.S3FileSystem(key="test", secret="test", client_kwargs={"endpoint_url": env["AWS_ENDPOINT_URL"]})
    fs.mkdir("corpus")
    fs.put(str(sample_corpus["dir"] / "warc"), "corpus/in/warc", recursive=True)
    fs.put_file(str(sample_corpus["dir"] / "labels.jsonl"), "corpus/in/labels.jsonl")
    try:
        yield fs, env
    finally:
        server.stop()


def _config(path: Path, inp: str, labels: str, out: str, cards: str, scratch: Path | None = None) -> Path:
    path.write_text(f'[run]\nname = "s3run"\noutput = "{out}"\ncards_dir = "{cards}"\npart_docs = 150\nworkers = 2\n'
                    + (f'scratch = "{scratch}"\n' if scratch else "")
                    + f'[input]\npath = "{inp}"\nformat = "warc"\nlabels = "{labels}"\n' + STAGES)
    return path


def _untimed(o):
    """A JSON record without its `seconds` (a part's or a stage's wall time)."""
    if isinstance(o, dict):
        return {k: _untimed(v) for k, v in o.items() if k != "seconds"}
    return [_untimed(v) for v in o] if isinstance(o, list) else o


def _digests(files: dict[str, bytes]) -> dict[str, str]:
    return {k: hashlib.sha256(json.dumps(_untimed(json.loads(v)), sort_keys=True).encode() if k.endswith(".json")
                              else v).hexdigest() for k, v in files.items() if Path(k).name not in RECORDS}


def _local(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _remote(fs, root: str) -> dict[str, bytes]:
    return {k[len(root) + 1:]: fs.cat_file(k) for k in sorted(fs.find(root))}


def _funnel(report: dict) -> list:
    return [(s["stage"], s["docs_in"], s["docs_out"], s.get("drops")) for s in report["stages"]]


def test_a_run_with_input_output_and_card_on_s3_writes_the_bytes_of_a_local_run(s3, sample_corpus, tmp_path):
    fs, env = s3
    corpus = sample_corpus["dir"]
    local = _config(tmp_path / "local.toml", str(corpus / "warc"), str(corpus / "labels.jsonl"),
                    str(tmp_path / "out"), str(tmp_path / "cards"))
    run_cli("run", str(local), "--no-progress", env=env)
    remote = _config(tmp_path / "remote.toml", "s3://corpus/in/warc", "s3://corpus/in/labels.jsonl",
                     "s3://corpus/out", "s3://corpus/cards", tmp_path / "scratch")
    res = run_cli("run", str(remote), "--no-progress", env=env)
    assert "data card" in res.stdout

    here, there = _local(tmp_path / "out"), _remote(fs, "corpus/out")
    assert sorted(there) == sorted(here)  # every file, parts, drops and markers alike, nothing else
    assert any(k.endswith(".parquet") for k in there) and _digests(there) == _digests(here)
    rep_here, rep_there = json.loads(here["report.json"]), json.loads(there["report.json"])
    assert _funnel(rep_there) == _funnel(rep_here) and rep_there["config"]["input"]["path"] == "s3://corpus/in/warc"
    card = _remote(fs, "corpus/cards")
    assert {"s3run/README.md", "s3run/report.json", "s3run/funnel.png"} <= set(card)
    assert _funnel(json.loads(card["s3run/report.json"])) == _funnel(rep_here)

    # resumed on a machine without the scratch copy: fetched from S3, nothing redone (no part
    # uploaded again), nothing changed
    stamps = {k: fs.info(k)["LastModified"] for k in fs.find("corpus/out") if k.endswith(".parquet")}
    again = run_cli("run", str(_config(tmp_path / "again.toml", "s3://corpus/in/warc", "s3://corpus/in/labels.jsonl",
                                       "s3://corpus/out", "s3://corpus/cards", tmp_path / "scratch2")),
                    "--resume", "--no-progress", env=env)
    assert "data card" in again.stdout
    after = _remote(fs, "corpus/out")
    assert sorted(after) == sorted(there) and _digests(after) == _digests(there)
    fs.invalidate_cache()
    assert {k: fs.info(k)["LastModified"] for k in stamps} == stamps

    # a second start on a non-empty URL without --resume is refused before any work
    refused = run_cli("run", str(remote), "--no-progress", env=env, check=False)
    assert refused.returncode != 0 and "s3://corpus/out is not empty" in refused.stderr


def test_a_scheme_whose_filesystem_is_not_installed_fails_at_start_naming_the_package(tmp_path, sample_corpus):
    cfg = _config(tmp_path / "gs.toml", "gs://bucket/warc", "", str(tmp_path / "out"), str(tmp_path / "cards"))
    res = run_cli("run", str(cfg), "--no-progress", check=False)
    assert res.returncode != 0 and "gcsfs" in res.stderr and not (tmp_path / "out").exists()
