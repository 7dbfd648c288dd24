"""Sweep (resumable), `corpusprep fit` on a CSV and on run JSONs, and `corpusprep report`."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from pipeline.devtools.synthetic import synthetic_shards
from tests.conftest import run_cli

TRUE = dict(E=1.8, A=400.0, B=900.0, alpha=0.34, beta=0.3)


def law(N, D, p=TRUE):
    return p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]


def fake_results(folder: Path, variants=("raw", "deduped"), seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for k, v in enumerate(variants):
        for N in np.geomspace(1e5, 3e7, 5):
            for D in np.geomspace(1e7, 1e9, 5):
                loss = law(N, D) * (1 - 0.03 * k) * np.exp(rng.normal(0, 0.005))
                d = folder / v / f"{int(N)}_{int(D)}"
                d.mkdir(parents=True)
                (d / "result.json").write_text(json.dumps({
                    "name": f"{v}_{int(N)}_{int(D)}", "variant": v, "budget": f"{int(D)}", "N": N, "D": D,
                    "val_loss": loss, "unique_tokens": D, "epochs": 1.0, "train_eval_loss": loss - 0.01,
                    "train_val_gap": 0.01, "memorized_share": 0.0}))


def test_fit_from_csv_table_prints_cis_and_plots(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "table.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["N", "D", "loss"])
        for N in np.geomspace(1e6, 3e8, 6):
            for D in np.geomspace(1e8, 1e10, 6):
                w.writerow([N, D, law(N, D) * np.exp(rng.normal(0, 0.01))])
    out = run_cli("fit", "--table", str(path), "--bootstrap", "50").stdout
    assert "alpha" in out and "[" in out and (tmp_path / "fit_all.png").stat().st_size > 1000
    alpha = float(next(l for l in out.splitlines() if l.strip().startswith("alpha")).split()[1])
    assert abs(alpha - TRUE["alpha"]) < 0.05
    bad = tmp_path / "bad.csv"
    bad.write_text("N,D,loss\n1e6,1e8,nan\n2e6,1e8,3.0\n")
    res = run_cli("fit", "--table", str(bad), check=False)
    assert res.returncode == 2 and "NaN" in res.stderr


def test_fit_from_run_jsons_and_report_rebuilds_without_training(tmp_path):
    fake_results(tmp_path / "sweep")
    out = run_cli("fit", str(tmp_path / "sweep"), "--bootstrap", "30").stdout
    assert "[raw]" in out and "[deduped]" in out
    run_cli("report", str(tmp_path / "sweep"))
    rep = (tmp_path / "sweep" / "report" / "report.md").read_text()
    for png in ("loss_vs_tokens.png", "fit_raw.png", "fit_deduped.png"):
        assert (tmp_path / "sweep" / "report" / png).exists()
    assert "`deduped` beats `raw`" in rep  # 3 % lower loss everywhere, noise 0.5 %
    assert "reaches `raw`'s loss" in rep and "95 % CI" in rep


def test_sweep_runs_and_resumes(tmp_path):
    shards = synthetic_shards(tmp_path, 300, 60, ("2K", "4K"))
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(f"""
name = "t"
shards = "{shards}"
output = "{tmp_path / 'sw'}"
workers = 1
variants = ["v"]
budgets = ["2K", "4K"]
sizes = [{{name = "a", n_layer = 1, d_model = 16, n_head = 2}}, {{name = "b", n_layer = 1, d_model = 32, n_head = 2}}]
seeds = [0]
extra = [{{variant = "v", budget = "2K", epochs = 2, sizes = ["a"], seeds = [0, 1]}}]
[model]
context = 16
[train]
batch_size = 4
eval_every = 1000
eval_tokens = 256
memorization_windows = 2
""")
    run_cli("sweep", str(cfg), "--no-progress")
    results = sorted((tmp_path / "sw").rglob("result.json"))
    assert len(results) == 6  # 2 sizes x 2 budgets x 1 seed + the repeated point x 2 seeds
    stamps = [p.stat().st_mtime_ns for p in results]
    e2 = json.loads((tmp_path / "sw" / "v" / "2K" / "a_e2" / "s1" / "result.json").read_text())
    assert abs(e2["epochs"] - 2.0) < 0.05 and e2["seed"] == 1
    # run again on the same shards rebuilt (only the manifest's timings differ): every point is reused
    man = Path(shards) / "manifest.json"
    m = json.loads(man.read_text())
    man.write_text(json.dumps(dict(m, seconds={"total": 123.0})))
    run_cli("sweep", str(cfg), "--no-progress")
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "sw").rglob("result.json"))] == stamps
    # a changed learning rate: every point re-runs, and the sweep says why
    res = run_cli("sweep", str(cfg), "--no-progress", "--set", "train.lr=0.001")
    assert res.stdout.count("re-running") == 6 and "train.lr: 0.003 -> 0.001" in res.stdout
    again = [json.loads(p.read_text()) for p in sorted((tmp_path / "sw").rglob("result.json"))]
    assert all(r["lr"] == 0.001 for r in again) and len(again) == 6


def tiny_sweep(tmp_path: Path, grid: str, train: str = "") -> Path:
    """A sweep config over synthetic shards (one variant, budgets 2K and 4K, 1-block models on 16
    tokens of context); `grid` gives its sizes, seeds and extra or kNN-LM sections."""
    shards = synthetic_shards(tmp_path, 300, 60, ("2K", "4K"))
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(f"""
name = "t"
shards = "{shards}"
output = "{tmp_path / 'sw'}"
workers = 1
variants = ["v"]
budgets = ["2K", "4K"]
{grid}
[model]
context = 16
[train]
batch_size = 4
eval_every = 1000
eval_tokens = 256
{train}
""")
    return cfg


def test_sweep_with_moe_and_knnlm_reports_both_sections(tmp_path):
    cfg = tiny_sweep(tmp_path, """
sizes = [{name = "a", n_layer = 1, d_model = 16, n_head = 2, lr = 3e-3},
         {name = "b", n_layer = 1, d_model = 32, n_head = 2},
         {name = "c", n_layer = 1, d_model = 16, n_head = 2, moe = {experts = 5}, grid = false, lr_from = "a"}]
seeds = [0, 1]
extra = [{variant = "v", budget = "4K", sizes = ["c"]}]
knnlm = {variant = "v", budget = "2K", size = "a", datastores = ["2K", "4K"], k = 8, query_tokens = 480}
""", "lr = 1e-3\nmemorization_windows = 2")
    run_cli("sweep", str(cfg), "--no-progress")
    sw = tmp_path / "sw"
    moe = [json.loads(p.read_text()) for p in sw.rglob("result.json") if "/c/" in str(p)]
    assert len(moe) == 2 and all(r["moe"] and r["lr"] == 3e-3 and r["budget"] == "4K" for r in moe)
    assert not list(sw.glob("v/2K/c"))  # grid = false: only where extra names it
    knn = sorted(sw.rglob("knnlm.json"))
    assert [p.parent.relative_to(sw).as_posix() for p in knn] == ["v/2K/a/s0", "v/2K/a/s1"]
    k0 = json.loads(knn[0].read_text())
    assert [s["budget"] for s in k0["datastores"]] == ["2K", "4K"] and k0["references"][0]["budget"] == "4K"
    rep = (sw / "report" / "report.md").read_text()
    assert "## Sparse experts" in rep and "equal active parameters" in rep and "equal total parameters" in rep
    assert "## Retrieval (kNN-LM)" in rep and "Datastore 4K against training on 4K" in rep
    assert (sw / "report" / "moe.png").stat().st_size > 1000 and (sw / "report" / "knnlm.png").stat().st_size > 1000
    fits = json.loads((sw / "report" / "fits.json").read_text())
    assert fits["fits"]["v"]["approach3"]["n_points"] == 8  # MoE runs stay out of the dense fit
    out = run_cli("fit", str(sw), "--bootstrap", "5", "--out", str(tmp_path / "fit")).stdout
    assert "2 MoE run(s) left out of the dense fits" in out and "on 8 points" in out  # and of `fit`'s
    stamps = [p.stat().st_mtime_ns for p in knn]
    run_cli("sweep", str(cfg), "--no-progress")
    assert [p.stat().st_mtime_ns for p in sorted(sw.rglob("knnlm.json"))] == stamps


def test_grid_seeds_per_size_and_the_costliest_runs_start_first(tmp_path, monkeypatch):
    import training.sweep as sweep

    cfg_path = tmp_path / "sweep.toml"
    cfg_path.write_text(f"""
name = "t"
shards = "{tmp_path / 'shards'}"
output = "{tmp_path / 'sw'}"
variants = ["v"]
budgets = ["2K", "8K"]
sizes = [{{name = "a", n_layer = 1, d_model = 16, n_head = 2}},
         {{name = "b", n_layer = 2, d_model = 32, n_head = 2, seeds = [0]}}]
seeds = [0, 1, 2]
extra = [{{variant = "v", budget = "2K", epochs = 16, sizes = ["a"], seeds = [5]}}]
""")
    cfg = sweep.load_sweep(cfg_path)
    pts = sweep.points(cfg, {"a": 1e-3, "b": 1e-3})
    assert [n for n, _ in pts] == ["v/2K/a/s0", "v/2K/a/s1", "v/2K/a/s2", "v/2K/b/s0",
                                   "v/8K/a/s0", "v/8K/a/s1", "v/8K/a/s2", "v/8K/b/s0", "v/2K/a_e16/s5"]
    started: list[str] = []
    monkeypatch.setattr(sweep, "_run_point", lambda t: started.append(t[1]))
    sweep._run_all([(spec, name) for name, spec in pts], 1, lambda folder: None)
    # compute ~ layers x width^2 x tokens seen: b at 8K (2 x 32^2 x 8K), a over 32K tokens seen
    # (1 x 16^2 x 32K), b at 2K, then a at 8K and a at 2K in config order
    assert started == ["v/8K/b/s0", "v/2K/a_e16/s5", "v/2K/b/s0", "v/8K/a/s0", "v/8K/a/s1", "v/8K/a/s2",
                       "v/2K/a/s0", "v/2K/a/s1", "v/2K/a/s2"]


def test_without_faiss_the_sweep_says_so_before_training_and_skips_only_knnlm(tmp_path):
    """`pip install corpusprep` without the knn extra: faiss hidden by a module that fails to
    import, placed first on the path of the sweep's process."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "faiss.py").write_text("raise ImportError('hidden by the test')\n")
    cfg = tiny_sweep(tmp_path, """
sizes = [{name = "a", n_layer = 1, d_model = 16, n_head = 2, lr = 3e-3},
         {name = "b", n_layer = 1, d_model = 32, n_head = 2}]
seeds = [0]
knnlm = {variant = "v", budget = "2K", size = "a", datastores = ["2K"], k = 8, query_tokens = 480}
""")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])}
    res = run_cli("sweep", str(cfg), "--no-progress", env=env)
    lines = res.stdout.splitlines()
    said = next(i for i, l in enumerate(lines) if "faiss cannot be imported" in l)
    first_run = next(i for i, l in enumerate(lines) if "runs to train" in l)
    assert said < first_run and "kNN-LM section is skipped" in lines[said]
    sw = tmp_path / "sw"
    assert len(list(sw.rglob("result.json"))) == 4 and not list(sw.rglob("knnlm.json"))
    rep = (sw / "report" / "report.md").read_text()
    assert "## Retrieval (kNN-LM)" in rep and "Not run: faiss cannot be imported" in rep


def test_seed_base_shifts_every_seed_and_names_the_runs_by_it(tmp_path):
    from training.sweep import SweepConfig, lr_points, points

    base = dict(name="t", shards=str(tmp_path), output=str(tmp_path / "o"), variants=("v",), budgets=("2K",),
                sizes=({"name": "a", "n_layer": 1, "d_model": 16, "n_head": 2},), seeds=(0, 1),
                lr_search={"variant": "v", "budget": "2K", "grid": [1e-3, 3e-3], "seeds": [0]})
    one, other = SweepConfig(**base), SweepConfig(**base, seed_base=100)
    assert [n for n, _ in points(one)] == ["v/2K/a/s0", "v/2K/a/s1"]
    assert [(n, s.train.seed) for n, s in points(other)] == [("v/2K/a/s100", 100), ("v/2K/a/s101", 101)]
    assert [s.train.seed for _, s in lr_points(other)] == [100, 100]


def test_replicates_are_compared_finding_by_finding(tmp_path):
    from training.replicate import compare

    fake_results(tmp_path / "a")
    fake_results(tmp_path / "b", seed=1)  # the same law, other noise: a replicate
    out = run_cli("report", str(tmp_path / "a"), "--against", str(tmp_path / "b")).stdout
    assert "| agree |" in out and " NO |" not in out
    n = int(out.rsplit("findings agree", 1)[0].split()[-3])
    assert n > 0 and f"{n} of {n} findings agree." in out
    facts = json.loads((tmp_path / "a" / "report" / "fits.json").read_text())["findings"]
    flipped = json.loads(json.dumps(facts))
    key = next(k for k, v in flipped.items() if isinstance(v, dict) and "lo" in v)
    flipped[key].update(lo=-abs(flipped[key]["hi"]) - 1, hi=-abs(flipped[key]["hi"]) - 0.5)  # below 0 now
    rows = {r["finding"]: r for r in compare(facts, flipped)}
    assert rows[key]["agree"] is False and rows[key]["b"] == "below 0" and rows[key]["a"] != "below 0"
    del flipped[key]
    assert {r["finding"]: r for r in compare(facts, flipped)}[key]["agree"] is False  # missing is not agreement


def test_an_irreducible_loss_the_points_cannot_pin_is_called_not_identified(tmp_path):
    """Points of a law with no floor (E = 0): approach 3's E runs off towards 0, and the fit table
    says so instead of printing the number where the optimiser stopped as if it were a finding."""
    from training.report import build_report, table_from_results

    rows = {}
    for name, p in (("floor", TRUE), ("nofloor", dict(TRUE, E=0.0))):
        results = [{"name": f"{name}_{N:.0f}_{D:.0f}", "variant": name, "budget": f"{D:.0f}", "N": N, "D": D,
                    "val_loss": law(N, D, p), "unique_tokens": D, "epochs": 1.0}
                   for N in np.geomspace(1e5, 3e7, 5) for D in np.geomspace(1e7, 1e9, 5)]
        text = build_report(table_from_results(results), tmp_path / name, bootstrap=10).read_text()
        rows[name] = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        rows[name + "_profile"] = "E not identified, so approach 3 with E fixed at" in text
    assert "not identified" in rows["nofloor"] and "not identified" not in rows["floor"]
    assert rows["nofloor_profile"] and not rows["floor_profile"]  # priors shown only where E is not identified
    assert rows["floor"].startswith("| floor | 1.8")  # the true floor, recovered
