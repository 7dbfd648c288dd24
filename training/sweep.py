"""Sweeps over model size x token budget x data variant x seed (+ extra points), resumable.

A point is reused when its `result.json` exists and was trained with the same run spec (model,
training settings, and the exact shards); a point whose spec differs is re-run, and the sweep
says which keys differed. Before the grid, sizes without a fixed `lr` get one from a small
learning-rate search (recorded in `lr_search.json` and the report). Points run in a process pool,
one torch thread each (small models use two cores better as two runs than as one).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pipeline.errors import ConfigError
from pipeline.settings import apply_overrides, build, read_toml, resolve_path
from training.config import ModelConfig, RunSpec, TrainConfig

# Size entries: a name and ModelConfig fields (`moe = {...}` included); optionally a fixed `lr`, or
# `lr_from = "<size>"` (that size's rate: an MoE model at a dense model's active size trains at its
# rate, as Switch did), `grid = false` for a size that runs only where an `extra` entry names it, and
# `seeds = [...]` for its grid points (default: the sweep's; fewer where a size is expensive).
SIZE_KEYS = {"name", "lr", "lr_from", "grid", "seeds"}
KNNLM_KEYS = {"variant", "budget", "size", "seeds", "datastores", "k", "query_tokens"}


@dataclass(frozen=True)
class SweepConfig:
    name: str = field(metadata={"help": "sweep name"})
    shards: str = field(metadata={"help": "shard folder (a run's shards)"})
    output: str = field(metadata={"help": "output folder of the sweep"})
    variants: tuple[str, ...] = field(metadata={"help": "shard variants to train on"})
    budgets: tuple[str, ...] = field(metadata={"help": "token budgets (nested) of each variant"})
    sizes: tuple[dict[str, Any], ...] = field(
        metadata={"help": "model sizes: each a name, ModelConfig fields and an optional lr or lr_from"})
    seeds: tuple[int, ...] = field(default=(0,),
        metadata={"help": "seeds of every grid point (a size may carry its own)"})
    seed_base: int = field(default=0, metadata={
        "help": "added to every seed (grid, extra, lr search, kNN-LM; run folders name the seed used): "
                "the same sweep at another seed base is an independent replicate of its findings"})
    extra: tuple[dict[str, Any], ...] = field(default=(),
        metadata={"help": "extra runs: each variant, budget, sizes = [names], epochs = 1, seeds"})
    lr_search: dict[str, Any] = field(default_factory=dict,
        metadata={"help": "variant, budget, grid = [lrs], seeds: the learning rate of each size without one"})
    # kNN-LM after training: the runs of `size` on `variant`/`budget` (each seed of `seeds`) with
    # datastores of nested budgets, beside the same size trained on those budgets
    knnlm: dict[str, Any] = field(default_factory=dict,
        metadata={"help": "kNN-LM after training: variant, budget, size, datastores, seeds, k, query_tokens"})
    workers: int = field(default=2, metadata={"help": "training runs in parallel"})
    model: dict[str, Any] = field(default_factory=dict, metadata={"help": "ModelConfig fields shared by all sizes"})
    train: dict[str, Any] = field(default_factory=dict, metadata={"help": "TrainConfig fields shared by all runs"})

    def __post_init__(self) -> None:
        if len(self.sizes) < 1 or len(self.budgets) < 1 or len(self.variants) < 1 or len(self.seeds) < 1:
            raise ConfigError("sweep: needs sizes, budgets, variants and seeds")
        names = [s.get("name") for s in self.sizes]
        if None in names or len(set(names)) != len(names):
            raise ConfigError("sweep: every size needs a unique name")
        for s in self.sizes:
            if s.get("lr_from") is not None and (s["lr_from"] not in names or "lr_from" in
                                                 next(x for x in self.sizes if x["name"] == s["lr_from"])):
                raise ConfigError(f"sweep: size {s['name']}: lr_from = {s['lr_from']!r} must name a size that has its "
                                  f"own learning rate (of {names})")
        k = self.knnlm
        if k and (not {"variant", "budget", "size"} <= set(k) or set(k) - KNNLM_KEYS or k["size"] not in names):
            raise ConfigError(f"sweep.knnlm needs variant, budget, size (of {names}) and optionally datastores, "
                              f"seeds, k, query_tokens; got {sorted(k)}")
        for r in self.extra:
            if not {"variant", "budget", "sizes"} <= set(r) or not set(r["sizes"]) <= set(names) \
                    or set(r) - {"variant", "budget", "sizes", "epochs", "seeds"}:
                raise ConfigError(f"sweep: extra entry {r} needs variant, budget, sizes (of {names}) and "
                                  "optionally epochs and seeds (default: the sweep's)")
        if any("lr" not in s and "lr_from" not in s for s in self.sizes) and self.lr_search:
            if not {"variant", "budget", "grid"} <= set(self.lr_search) <= {"variant", "budget", "grid", "seeds"} \
                    or len(self.lr_search["grid"]) < 2:
                raise ConfigError("sweep.lr_search needs variant, budget, a grid of at least two learning rates, "
                                  "and optionally seeds")


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SweepConfig:
    p = Path(path)
    doc = apply_overrides(read_toml(p, "sweep config"), list(overrides))
    base = p.resolve().parent
    for key in ("shards", "output"):
        if key in doc:
            doc[key] = resolve_path(base, doc[key])
    return build(SweepConfig, doc, "sweep")


def _spec(cfg: SweepConfig, variant: str, budget: str, size: str, epochs: float, seed: int,
          lr: float | None, name: str) -> RunSpec:
    entry = next(s for s in cfg.sizes if s["name"] == size)
    model = build(ModelConfig, {**cfg.model, **{k: v for k, v in entry.items() if k not in SIZE_KEYS}},
                  f"sweep.sizes.{size}")
    train = {**cfg.train, "shards": cfg.shards, "variant": variant, "budget": budget, "epochs": float(epochs),
             "seed": seed, "threads": 1}
    if lr is not None:
        train["lr"] = lr
    return RunSpec(model, build(TrainConfig, train, "sweep.train"), name.replace("/", "_"))


def lr_points(cfg: SweepConfig) -> list[tuple[str, RunSpec]]:
    """The learning-rate search: each size without a fixed lr, at every lr of the grid and every
    seed of the search (`seeds`, default [0]): one lucky seed should not pick a rate."""
    s = cfg.lr_search
    out = []
    for size in (x["name"] for x in cfg.sizes if "lr" not in x and "lr_from" not in x):
        for lr in s["grid"]:
            for seed in (cfg.seed_base + int(x) for x in s.get("seeds", [0])):
                name = f"lr_search/{size}/lr{lr:g}/s{seed}"
                out.append((name, _spec(cfg, s["variant"], s["budget"], size, 1.0, int(seed), float(lr), name)))
    return out


def chosen_lrs(cfg: SweepConfig, out: Path) -> tuple[dict[str, float], dict[str, str]]:
    """Each size's lr (fixed in the config, or the search's lowest mean validation loss over its
    seeds), and the search's mean losses per size in words."""
    lrs = {x["name"]: float(x["lr"]) for x in cfg.sizes if "lr" in x}
    losses: dict[str, dict[float, list[float]]] = {}
    for name, spec in (lr_points(cfg) if cfg.lr_search else []):
        res = json.loads((out / name / "result.json").read_text())
        losses.setdefault(name.split("/")[1], {}).setdefault(spec.train.lr, []).append(res["val_loss"])
    words = {}
    for size, by_lr in losses.items():
        mean = {lr: sum(v) / len(v) for lr, v in by_lr.items()}
        lrs[size] = min(mean, key=mean.get)
        words[size] = ", ".join(f"{lr:g}: {m:.3f}" for lr, m in mean.items())
    for x in cfg.sizes:
        if "lr_from" in x and x["lr_from"] in lrs:
            lrs[x["name"]] = lrs[x["lr_from"]]
            words[x["name"]] = f"that of {x['lr_from']}"
    return lrs, words


def points(cfg: SweepConfig, lrs: dict[str, float] | None = None) -> list[tuple[str, RunSpec]]:
    """Every (point name, run spec) of the sweep, in a fixed order."""
    lrs = lrs or {}
    out = []

    def add(variant: str, budget: str, size: str, epochs: float, seeds: tuple[int, ...] = cfg.seeds) -> None:
        for seed in (cfg.seed_base + int(x) for x in seeds):
            name = f"{variant}/{budget}/{size}" + (f"_e{epochs:g}" if epochs != 1 else "") + f"/s{seed}"
            out.append((name, _spec(cfg, variant, budget, size, epochs, seed, lrs.get(size), name)))

    for v in cfg.variants:
        for b in cfg.budgets:
            for s in cfg.sizes:
                if s.get("grid", True):
                    add(v, b, s["name"], 1.0, tuple(s.get("seeds", cfg.seeds)))
    for r in cfg.extra:
        for s in r["sizes"]:
            add(r["variant"], r["budget"], s, float(r.get("epochs", 1)), tuple(r.get("seeds", cfg.seeds)))
    return out


def _run_point(task: tuple[RunSpec, str]) -> str:
    from training.train import train

    spec, out = task
    train(spec, out)
    return out


def shards_fingerprint(manifest: Path) -> str:
    """sha256 of a shards manifest without its timings. The manifest names every shard file with
    its sha256, so this changes exactly when the shards do — not when identical shards are
    rebuilt (a fresh pipeline run), which should resume a sweep rather than refuse it."""
    m = json.loads(manifest.read_text())
    m.pop("seconds", None)
    return hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest()


def stale(spec: RunSpec, folder: Path) -> list[str]:
    """Why a point's finished or partial output cannot be reused for `spec` ([] = it can)."""
    from pipeline.shard_format import ShardsError, read_manifest
    from training.run_identity import spec_defaults, spec_dict, spec_differences

    res, ckpt = folder / "result.json", folder / "checkpoint.pt"
    if res.exists():
        old = json.loads(res.read_text()).get("spec")
    elif ckpt.exists():
        import torch
        old = json.loads(torch.load(ckpt, weights_only=True, map_location="cpu").get("spec", "null"))
    else:
        return []
    man = read_manifest(spec.train.shards)  # the manifest names the data; no shard is read here
    try:
        identity = man.identity(spec.train.variant, spec.train.budget)
    except ShardsError:
        return ["(its variant or budget is no longer in the shards)"]
    new = spec_dict(spec, man.tokenizer.vocab_size, identity)
    return ["(no run spec stored)"] if old is None else spec_differences(old, new, spec_defaults(spec))


def _cost(spec: RunSpec) -> float:
    """A run's compute, roughly (layers x width^2 x tokens): the pool starts the largest runs
    first, so that the last minutes of a phase are not one long run beside an idle worker."""
    from pipeline.shard_format import parse_tokens

    m = spec.model
    tokens = spec.train.tokens or parse_tokens(spec.train.budget or 0) * (spec.train.epochs or 1.0)
    return m.n_layer * m.d_model ** 2 * tokens


def _run_all(tasks: list[tuple[RunSpec, str]], workers: int, finished: Callable[[str], None]) -> None:
    tasks = sorted(tasks, key=lambda t: -_cost(t[0]))  # stable: equal costs keep config order
    if workers <= 1:
        for t in tasks:
            finished(_run_point(t))
        return
    import multiprocessing as mp
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        for fut in as_completed([pool.submit(_run_point, t) for t in tasks]):
            finished(fut.result())


def _run_phase(phase: str, pts: list[tuple[str, RunSpec]], out: Path, workers: int, progress: bool,
               say: Callable[[str], None]) -> None:
    """Run the points without a reusable result; a point whose stored spec differs is re-run."""
    from tqdm import tqdm

    todo = []
    for name, spec in pts:
        folder = out / name
        why = stale(spec, folder)
        if why:
            say(f"re-running {name}: its stored run differs ({'; '.join(why)})")
            shutil.rmtree(folder)
        if not (folder / "result.json").exists():
            todo.append((spec, str(folder)))
    bar = tqdm(total=len(pts), initial=len(pts) - len(todo), desc=phase, unit="run", disable=not progress or not pts)
    done = len(pts) - len(todo)
    if not progress and pts:  # without a bar, a line a run: a long sweep is not silent
        say(f"{phase}: {len(todo)} of {len(pts)} runs to train ({done} reused)")

    def finished(folder: str) -> None:
        nonlocal done
        done += 1
        bar.update()
        if not progress:
            say(f"{phase}: {done}/{len(pts)} done ({Path(folder).relative_to(out)})")

    _run_all(todo, workers, finished)
    bar.close()


def run_sweep(cfg: SweepConfig, workers: int | None = None, progress: bool = True,
              say: Callable[[str], None] = print) -> Path:
    """The learning-rate search, then every point; finished points with the same spec are reused."""
    from pipeline import atomic

    out = Path(cfg.output)
    manifest = Path(cfg.shards) / "manifest.json"
    if not manifest.exists():
        raise ConfigError(f"{manifest} not found: run the pipeline with a [shards] section first")
    out.mkdir(parents=True, exist_ok=True)
    skipped = knnlm_skipped(cfg)
    if skipped:
        say(f"sweep.knnlm: {skipped}; the kNN-LM section is skipped (the rest of the sweep runs)")
        atomic.write_json(out / KNN_SKIPPED, {"why": skipped})
    else:
        (out / KNN_SKIPPED).unlink(missing_ok=True)
    atomic.write_json(out / "sweep.json",
                      dataclasses.asdict(cfg) | {"shards_manifest_sha256": shards_fingerprint(manifest)})
    n = workers or cfg.workers
    if cfg.lr_search:
        _run_phase("lr search", lr_points(cfg), out, n, progress, say)
    lrs, losses = chosen_lrs(cfg, out)
    atomic.write_json(out / "lr_search.json", {"chosen": lrs, "losses": losses, "search": cfg.lr_search})
    _run_phase("sweep", points(cfg, lrs), out, n, progress, say)
    if cfg.knnlm and not skipped:
        run_knnlm_phase(cfg, out, say)
    return out


KNN_SKIPPED = "knnlm_skipped.json"  # why the last run of the sweep skipped kNN-LM


def knnlm_skipped(cfg: SweepConfig) -> str | None:
    """Why this sweep's kNN-LM phase cannot run here (None: it has none, or it can)."""
    from training.knnlm import faiss_problem

    return faiss_problem() if cfg.knnlm else None


def knnlm_runs(cfg: SweepConfig, out: Path) -> list[tuple[Path, dict[str, Path]]]:
    """(run folder, {datastore budget: dense reference run}) for each seed of the kNN-LM study."""
    k = cfg.knnlm
    point = lambda budget, seed: out / k["variant"] / budget / k["size"] / f"s{seed}"  # noqa: E731
    return [(point(k["budget"], seed), {b: point(b, seed) for b in k.get("datastores", [k["budget"]])
                                       if b != k["budget"] and (point(b, seed) / "result.json").exists()})
            for seed in (cfg.seed_base + int(x) for x in k.get("seeds", cfg.seeds))]


def run_knnlm_phase(cfg: SweepConfig, out: Path, say: Callable[[str], None]) -> None:
    """kNN-LM on the configured runs; a stored knnlm.json is reused when its settings, its run
    and its references are unchanged."""
    from training.knnlm import KnnLMConfig, run_knnlm

    k = cfg.knnlm
    kc = KnnLMConfig(datastores=tuple(k.get("datastores", [k["budget"]])), k=int(k.get("k", 64)),
                     query_tokens=int(k.get("query_tokens", 16384)))
    for run, refs in knnlm_runs(cfg, out):
        if not (run / "result.json").exists():
            raise ConfigError(f"sweep.knnlm: {run} is not a point of this sweep (add it to the grid or to extra)")
        done = run / "knnlm.json"
        if done.exists():
            old = json.loads(done.read_text())
            spec = json.loads((run / "result.json").read_text()).get("spec")
            if old.get("settings") == dataclasses.asdict(kc) | {"datastores": list(kc.datastores)} \
                    and old.get("spec") == spec \
                    and sorted(r["run"] for r in old["references"]) == sorted(map(str, refs.values())):
                continue
        say(f"kNN-LM on {run.relative_to(out)}")
        run_knnlm(run, kc, references=refs, say=lambda s: None)


def build_sweep_report(folder: str | Path) -> Path:
    """The report of a sweep folder: its results and its learning-rate search."""
    from training.report import build_report, table_from_results

    folder = Path(folder)
    lr = folder / "lr_search.json"
    knn = [json.loads(p.read_text()) for p in sorted(folder.rglob("knnlm.json"))]
    skipped = folder / KNN_SKIPPED
    return build_report(table_from_results(load_results(folder)), folder / "report",
                        lr_search=json.loads(lr.read_text()) if lr.exists() else None, knnlm=knn,
                        knnlm_skipped=json.loads(skipped.read_text())["why"] if skipped.exists() else None)


def load_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every result.json under a folder (a sweep, or any folder of runs)."""
    res = [json.loads(p.read_text()) for p in sorted(Path(folder).rglob("result.json"))]
    if not res:
        raise ConfigError(f"no result.json under {folder}")
    return res
