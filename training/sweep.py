"""Sweeps over model size x token budget x data variant (+ repeated-epoch points), resumable.

A point is finished when its `result.json` exists, so a re-run skips it. Points run in a process
pool, one torch thread each (small models use two cores better as two runs than as one).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import apply_overrides, build, resolve_path
from pipeline.stage import ConfigError
from training.config import ModelConfig, RunSpec, TrainConfig


@dataclass(frozen=True)
class SweepConfig:
    name: str
    shards: str
    output: str
    variants: tuple[str, ...]
    budgets: tuple[str, ...]
    sizes: tuple[dict[str, Any], ...]          # each: name + ModelConfig fields
    repeats: tuple[dict[str, Any], ...] = ()   # each: budget, epochs, sizes = [names]
    workers: int = 2
    model: dict[str, Any] = field(default_factory=dict)   # ModelConfig fields shared by all sizes
    train: dict[str, Any] = field(default_factory=dict)   # TrainConfig fields shared by all runs

    def __post_init__(self) -> None:
        if len(self.sizes) < 1 or len(self.budgets) < 1 or len(self.variants) < 1:
            raise ConfigError("sweep: needs sizes, budgets and variants")
        names = [s.get("name") for s in self.sizes]
        if None in names or len(set(names)) != len(names):
            raise ConfigError("sweep: every size needs a unique name")
        for r in self.repeats:
            if not {"budget", "epochs", "sizes"} <= set(r) or not set(r["sizes"]) <= set(names):
                raise ConfigError(f"sweep: repeats entry {r} needs budget, epochs and sizes (of {names})")


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SweepConfig:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sweep config {p} not found")
    doc = apply_overrides(tomllib.loads(p.read_text()), list(overrides))
    base = p.resolve().parent
    for key in ("shards", "output"):
        if key in doc:
            doc[key] = resolve_path(base, doc[key])
    return build(SweepConfig, doc, "sweep")


def points(cfg: SweepConfig) -> list[tuple[str, RunSpec]]:
    """Every (point name, run spec) of the sweep, in a fixed order."""
    out = []
    sizes = {s["name"]: {k: v for k, v in s.items() if k != "name"} for s in cfg.sizes}

    def spec(variant: str, budget: str, size: str, epochs: float) -> tuple[str, RunSpec]:
        model = build(ModelConfig, {**cfg.model, **sizes[size]}, f"sweep.sizes.{size}")
        train = build(TrainConfig, {**cfg.train, "shards": cfg.shards, "variant": variant, "budget": budget,
                                    "epochs": float(epochs), "threads": 1}, "sweep.train")
        name = f"{variant}/{budget}/{size}" + (f"_e{epochs:g}" if epochs != 1 else "")
        return name, RunSpec(model, train, name.replace("/", "_"))

    for v in cfg.variants:
        for b in cfg.budgets:
            for s in sizes:
                out.append(spec(v, b, s, 1.0))
        for r in cfg.repeats:
            for s in r["sizes"]:
                out.append(spec(v, r["budget"], s, float(r["epochs"])))
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


def run_sweep(cfg: SweepConfig, workers: int | None = None, progress: bool = True) -> Path:
    from tqdm import tqdm

    from pipeline import atomic

    out = Path(cfg.output)
    manifest = Path(cfg.shards) / "manifest.json"
    if not manifest.exists():
        raise ConfigError(f"{manifest} not found: run the pipeline with a [shards] section first")
    shards_sha = shards_fingerprint(manifest)
    stamp = out / "sweep.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("shards_manifest_sha256") != shards_sha:
        raise ConfigError(f"{out} holds results trained on other shards; choose another output or delete it")
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(stamp, dataclasses.asdict(cfg) | {"shards_manifest_sha256": shards_sha})
    todo = [(spec, str(out / name)) for name, spec in points(cfg) if not (out / name / "result.json").exists()]
    total = len(points(cfg))
    bar = tqdm(total=total, initial=total - len(todo), desc=f"sweep {cfg.name}", unit="run", disable=not progress)
    n = workers or cfg.workers
    if n <= 1:
        for t in todo:
            _run_point(t)
            bar.update()
    else:
        import multiprocessing as mp
        with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as pool:
            for fut in as_completed([pool.submit(_run_point, t) for t in todo]):
                fut.result()
                bar.update()
    bar.close()
    return out


def load_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every result.json under a folder (a sweep, or any folder of runs)."""
    res = [json.loads(p.read_text()) for p in sorted(Path(folder).rglob("result.json"))]
    if not res:
        raise ConfigError(f"no result.json under {folder}")
    return res
