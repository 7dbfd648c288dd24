"""The pipeline on Ray: the same part-level tasks, so the same bytes as the local pool, through
worker deaths, a killed driver, and resumes under another executor or worker count.

Runs start their own local Ray instance (2 CPUs) and stop it, or join a running one by its
address, as on a cluster. Ray comes with the test extra
(`corpusprep[ray]`), and the tests skip, saying why, only where it cannot be installed.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.config import load_run_config
from pipeline.runner import run
from tests.conftest import REPO, run_cli, write_config
from tests.pipeline.test_runner import data_files

try:
    import ray  # noqa: F401
except ImportError as e:  # pragma: no cover - ray is in the test extra
    pytest.skip(f"ray cannot be imported ({e}); install it with pip install 'corpusprep[ray]'",
                allow_module_level=True)

STAGES = '[[stages]]\nname = "html"\n[[stages]]\nname = "dedup"\n'  # dedup: global steps as tasks too


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory, sample_corpus) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("ray_ref")
    inp = sample_corpus["dir"] / "warc"
    run(load_run_config(write_config(tmp / "ref.toml", inp, tmp / "ref", stages=STAGES,
                                     extra_run="part_docs = 150\nworkers = 2")), progress=False)
    return inp, tmp / "ref"


def _funnel(out: Path) -> list[dict]:
    keys = ("docs_in", "docs_out", "drops", "bytes_in", "bytes_out")
    return [{k: json.loads((d / "stats.json").read_text())[k] for k in keys} for d in sorted(out.glob("0*_*"))]


def _config(tmp: Path, inp: Path, out: str, executor: str = "local", workers: int = 2) -> Path:
    return write_config(tmp / f"{out}.toml", inp, tmp / out, stages=STAGES,
                        extra_run=f'part_docs = 150\nworkers = {workers}\nexecutor = "{executor}"')


def _ray_task_pids() -> list[int]:
    """Ray worker processes running one of our tasks (Ray titles them `ray::<function>`)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "cmdline").read_bytes().startswith(b"ray::_released"):
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def test_run_under_ray_with_a_worker_killed_is_byte_identical_to_the_local_pool(tmp_path, local_reference):
    """A local Ray instance started by the run; one of its workers is killed mid-task, Ray retries
    the task, and the output is the local pool's, byte for byte."""
    import ray

    inp, ref = local_reference
    killed: list[int] = []

    def killer() -> None:
        deadline = time.time() + 120
        while not killed and time.time() < deadline:
            pids = _ray_task_pids()
            if pids and len(list((tmp_path / "ray").glob("01_html/_done/*.json"))) >= 2:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.02)

    cfg = _config(tmp_path, inp, "ray", "ray")
    t = threading.Thread(target=killer, daemon=True)
    t.start()
    res = run(load_run_config(cfg), progress=False)
    t.join()
    assert killed, "no Ray worker was seen running a task"
    assert not ray.is_initialized()  # the instance the run started is stopped with it
    assert data_files(tmp_path / "ray") == data_files(ref) and len(data_files(ref)) > 20
    assert _funnel(tmp_path / "ray") == _funnel(ref)
    assert not list((tmp_path / "ray").rglob(".*.tmp"))
    # where it ran is not part of what it computed
    local = load_run_config(cfg, ["run.executor=local", "run.workers=1"])
    assert res.report["config_hash"] == local.config_hash()
    assert local.config_hash() != load_run_config(cfg, ["run.part_docs=100"]).config_hash()


@pytest.fixture
def ray_cluster():
    """A running Ray instance whose address the test's runs join (`--address`), as they would a
    cluster's; it outlives their drivers, and is stopped after the test."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _start_and_kill(cfg: Path, out: Path, markers: int, *extra: str) -> None:
    """Start `corpusprep run --resume CFG EXTRA` and SIGKILL it once `markers` more parts are done."""
    before = len(list(out.glob("*/_done/*.json")))
    proc = subprocess.Popen([sys.executable, "-m", "corpusprep", "run", str(cfg), "--resume", "--no-progress",
                             *extra], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list(out.glob("*/_done/*.json"))) >= before + markers:
            proc.kill()
            break
        time.sleep(0.01)
    proc.wait()
    assert not (out / "report.json").exists(), "the run finished before it could be killed"
    # its pool workers die with it (they would otherwise wait on their queue forever)
    deadline = time.time() + 10
    while time.time() < deadline and _processes_naming(cfg):
        time.sleep(0.05)
    assert not _processes_naming(cfg)


def _finished_markers(out: Path) -> list[Path]:
    """Markers of finished work: the parts of the sources the read finished, with html's (html
    runs in the read task: a source cut short is read again whole, and its parts redone), and
    dedup's parts (dedup runs alone)."""
    read, html = out / "00_read", out / "01_html"
    names = [n for s in read.glob("_sources/*.json") for n in json.loads(s.read_text())["parts"]]
    later = [p for p in out.glob("*/_done/*.json") if p.parent.parent not in (read, html)]
    return [d / "_done" / f"{n}.json" for d in (read, html) for n in names] + later


def _processes_naming(cfg: Path) -> list[int]:
    """Processes whose command line names `cfg` (Linux /proc)."""
    out = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if str(cfg).encode() in (d / "cmdline").read_bytes():
                out.append(int(d.name))
        except OSError:
            pass
    return out


def test_resume_across_worker_counts_and_executors_redoes_nothing(tmp_path, local_reference, ray_cluster):
    """Killed with 2 local workers, resumed with 1, killed again, killed once more under a Ray
    instance its driver started, finished on a running Ray instance joined by its address:
    finished parts are never redone, the output is the reference's."""
    inp, ref = local_reference
    cfg, out = _config(tmp_path, inp, "x"), tmp_path / "x"
    _start_and_kill(cfg, out, 4)
    _start_and_kill(cfg, out, 4, "--workers", "1")
    _start_and_kill(cfg, out, 2, "--executor", "ray")  # the driver of its own Ray instance killed
    done = {p: p.stat().st_mtime_ns for p in _finished_markers(out)}
    run_cli("run", str(cfg), "--resume", "--no-progress", "--executor", "ray", "--address", ray_cluster)
    changed = sorted(str(p.relative_to(out)) for p in done if p.stat().st_mtime_ns != done[p])
    assert not changed  # finished parts untouched
    assert data_files(out) == data_files(ref) and _funnel(out) == _funnel(ref)


def _raylet_of(pid: int) -> int | None:
    """The raylet (one per Ray node) that a worker process descends from, by /proc parents."""
    while pid > 1:
        try:
            if b"raylet" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]:
                return pid
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return None
    return None


def test_two_node_cluster_runs_tasks_on_both_nodes_survives_a_node_killed_and_matches_the_local_pool(
        tmp_path, local_reference):
    """A 2-node Ray cluster on one machine (`ray.cluster_utils.Cluster`: a head and a worker node,
    one CPU each, each with its own raylet): the run joins it by address, its tasks run on both
    nodes (seen as the raylets their worker processes descend from), the worker node is killed
    mid-run, Ray retries its tasks on the head, and the output is the local pool's, byte for byte."""
    from ray.cluster_utils import Cluster

    inp, ref = local_reference
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    raylets: dict[int, set[int]] = {}  # raylet -> task worker pids seen under it
    killed: list[int] = []

    def watch() -> None:
        deadline = time.time() + 300
        while not killed and time.time() < deadline:
            for pid in _ray_task_pids():
                r = _raylet_of(pid)
                if r is not None:
                    raylets.setdefault(r, set()).add(pid)
            if len(raylets) >= 2 and len(list((tmp_path / "c").glob("01_html/_done/*.json"))) >= 2:
                cluster.remove_node(worker, allow_graceful=False)  # its raylet and workers SIGKILLed
                killed.append(1)
            time.sleep(0.02)

    try:
        cfg = _config(tmp_path, inp, "c", "ray")
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        run(load_run_config(cfg, [f"run.address={cluster.address}"]), progress=False)
        t.join()
    finally:
        cluster.shutdown()
    print(f"\n[ray cluster] task workers seen per node: {[len(v) for v in raylets.values()]}; "
          f"worker node killed: {bool(killed)}")
    assert len(raylets) == 2, f"tasks ran under {len(raylets)} raylet(s): {raylets}"
    assert killed, "the worker node was not killed mid-run"
    assert data_files(tmp_path / "c") == data_files(ref) and len(data_files(ref)) > 20
    assert _funnel(tmp_path / "c") == _funnel(ref)
