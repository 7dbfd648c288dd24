"""A run's config: the run's own settings, its input, its stages and shards, composed from one
TOML file by the strict loader of pipeline/settings.py (which every config shares)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.readers import InputConfig
from pipeline.settings import apply_overrides, build, default_of, parse_override, read_toml, resolve_path

EXECUTORS = ("local", "ray")
STAGE_OUTPUTS = ("needed", "all")
# where the work runs (and where its card goes) is not part of what it computes: these stay out
# of the config hash
WHERE_IT_RUNS = ("workers", "executor", "address", "stage_outputs", "cards_dir", "scratch")


@dataclass(frozen=True)
class RunSettings:
    """How a run executes; none of these change its output."""

    name: str = field(metadata={"help": "run name: the data card goes to data_cards/<name>/"})
    output: str = field(metadata={"help": "output folder of the run: a path or an fsspec URL (s3://, gs://, hf://)"})
    workers: int = field(default=1, metadata={"help": "worker processes (local) or CPUs of a local Ray instance"})
    executor: str = field(default="local", metadata={
        "help": "local (a process pool) or ray (a local Ray instance, or the cluster at run.address)"})
    address: str = field(default="", metadata={
        "help": "with executor = ray: the cluster to join (e.g. auto, or ray://host:10001); empty = start a local one"})
    part_docs: int = field(default=2000, metadata={
        "help": "documents per part file: the unit of parallelism, resume and memory"})
    keep_dropped_text: bool = field(default=True, metadata={
        "help": "store dropped documents' text in drops.parquet for inspection"})
    cards_dir: str = field(default="data_cards", metadata={
        "help": "where data cards are written (relative to the config file, as every path in it; or a URL)"})
    scratch: str = field(default="", metadata={
        "help": "with remote paths (a URL as input.path, run.output or run.cards_dir): the local folder that "
                "holds their copies while the run works (empty: one under the system temp dir); on a "
                "multi-node Ray cluster, a filesystem every node shares"})
    limit: int = field(default=0, metadata={
        "help": "read only the input's first N documents (0: all), for a quick trial of a config; sources "
                "are then read in order, one at a time"})
    stage_outputs: str = field(default="needed", metadata={
        "help": "needed: stages that need no whole-stream pass run fused, one task per part, and "
                "write their kept documents only where the run reads them (the next stage, shard "
                "variants); all: stage by stage, every stage's kept documents written (to inspect "
                "them). Drops, stats and the card are the same either way"})

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\ "):
            raise ConfigError(f"run.name = {self.name!r}: must be a non-empty name without "
                              "slashes or spaces")
        if self.workers < 1:
            raise ConfigError(f"run.workers = {self.workers}: must be >= 1")
        if self.executor not in EXECUTORS:
            raise ConfigError(f"run.executor = {self.executor!r}: unknown; available: {', '.join(EXECUTORS)}")
        if self.limit < 0:
            raise ConfigError(f"run.limit = {self.limit}: must be >= 0 (0 reads everything)")
        if self.part_docs < 1:
            raise ConfigError(f"run.part_docs = {self.part_docs}: must be >= 1")
        if self.stage_outputs not in STAGE_OUTPUTS:
            raise ConfigError(f"run.stage_outputs = {self.stage_outputs!r}: unknown; available: "
                              f"{', '.join(STAGE_OUTPUTS)}")


@dataclass(frozen=True)
class StageSpec:
    """A stage of a run: its name, its built Config, and the class it names (resolved once)."""

    name: str
    config: Any
    cls: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.cls is None:
            from pipeline.stages import get_stage  # the registry imports every stage module

            object.__setattr__(self, "cls", get_stage(self.name))


@dataclass(frozen=True)
class RunConfig:
    run: RunSettings
    input: InputConfig  # type: ignore[valid-type]  (made from the readers table)
    stages: tuple[StageSpec, ...]
    source: dict[str, Any]  # the TOML as read (after overrides), for hashing and the card
    shards: Any = None      # ShardsConfig when the run ends with token shards

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the config: what a card and a manifest point back to.
        Where the work runs (workers, executor, address) is left out: it does not change the
        output, so a run may resume under another worker count or executor."""
        run = {k: v for k, v in self.source.get("run", {}).items() if k not in WHERE_IT_RUNS}
        blob = json.dumps(dict(self.source, run=run), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def load_run_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """A run config from a TOML file and `--set` overrides. Paths the file gives resolve against
    its folder (so a config works from any directory); paths given on the command line resolve
    against the current directory, where the user typed them."""
    from pipeline.stages import get_stage  # local: the registry imports stage modules

    path = Path(path)
    doc = apply_overrides(read_toml(path), list(overrides))
    unknown = sorted(set(doc) - {"run", "input", "stages", "shards"})
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(unknown)}; "
                          "available: run, input, stages, shards")
    typed = {tuple(parse_override(o)[0]) for o in overrides}

    def base(*key: str) -> Path:
        return Path.cwd() if key in typed else path.resolve().parent

    run_vals = dict(doc.get("run", {}), cards_dir=doc.get("run", {}).get("cards_dir", "data_cards"))
    for key in ("output", "cards_dir", "scratch"):
        if run_vals.get(key):
            run_vals[key] = resolve_path(base("run", key), run_vals[key])
    run = build(RunSettings, run_vals, "run")
    inp_vals = dict(doc.get("input", {}))
    for key in ("path", "labels"):
        if inp_vals.get(key):
            inp_vals[key] = resolve_path(base("input", key), inp_vals[key])
    inp = build(InputConfig, inp_vals, "input")
    stages = []
    for i, s in enumerate(doc.get("stages", [])):
        s = dict(s)
        name = s.pop("name", None)
        if name is None:
            raise ConfigError(f"{path}: [[stages]] #{i + 1} has no name")
        if name in (x.name for x in stages):  # shard variants, drops and overrides name stages
            raise ConfigError(f"{path}: [[stages]] #{i + 1}: stage {name!r} is already in the run; a stage "
                              "runs once (change its settings in the first one)")
        cls = get_stage(name)
        resolved = resolve_stage_paths(cls, s, lambda key, n=name: base("stages", n, key))
        stages.append(StageSpec(name, build(cls.Config, resolved, f"stages.{name}"), cls))
    shards = None
    if "shards" in doc:
        from pipeline.shards_settings import ShardsConfig
        sv = dict(doc["shards"])
        if sv.get("tokenizer"):
            sv["tokenizer"] = resolve_path(base("shards", "tokenizer"), sv["tokenizer"])
        shards = build(ShardsConfig, sv, "shards")
        names = [s.name for s in stages]
        for variant, stage in shards.variants.items():
            if stage not in names:
                raise ConfigError(f"[shards] variant {variant!r} names stage {stage!r}, which is not in "
                                  f"this run; stages: {', '.join(names)}")
        if not shards.variants:
            raise ConfigError("[shards] variants is empty; e.g. variants = {raw = \"html\", clean = \"decontam\"}")
    return RunConfig(run, inp, tuple(stages), doc, shards)


def resolve_stage_paths(cls: type, values: dict[str, Any], base: Any) -> dict[str, Any]:
    """Fields marked `metadata={"path": True}` resolved against `base(field name)`: a path, a list
    of paths, or a list of tables whose `path` is one (decontam's benchmarks)."""
    out = dict(values)
    for f in dataclasses.fields(cls.Config):
        if f.metadata.get("path") and out.get(f.name):
            v, where = out[f.name], base(f.name)
            if isinstance(v, list):
                out[f.name] = [dict(x, path=resolve_path(where, x["path"])) if isinstance(x, dict) and x.get("path")
                               else x if isinstance(x, dict) else resolve_path(where, x) for x in v]
            else:
                out[f.name] = resolve_path(where, v)
    return out


def default_setting(key: str) -> str:
    """How a run config key that a config does not set reads: `(default: value)`, from the
    dataclass that defines it (run.*, input.*, stages.<name>.*, shards.*)."""
    from pipeline.stages import STAGES, get_stage

    parts = key.split(".")
    owner: Any = {"run": RunSettings, "input": InputConfig}.get(parts[0])
    if parts[0] == "stages" and len(parts) == 3:
        owner, parts = (get_stage(parts[1]).Config if parts[1] in STAGES else None), parts[1:]
    elif parts[0] == "shards":
        from pipeline.shards_settings import ShardsConfig
        owner = ShardsConfig
    fields = {f.name: f for f in dataclasses.fields(owner)} if owner else {}
    if len(parts) == 2 and parts[1] in fields:
        return f"(default: {default_of(fields[parts[1]])!r})"
    return "(not set)"
