"""TOML run configs as frozen dataclasses, read by one strict loader.

Strict because a typo in a threshold name that silently falls back to a default is the worst
kind of data bug: unknown keys, wrong types and out-of-range values all fail at start-up with
the key's full path and what would be accepted.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.readers import InputConfig

EXECUTORS = ("local", "ray")
STAGE_OUTPUTS = ("needed", "all")
# where the work runs (and where its card goes) is not part of what it computes: these stay out
# of the config hash
WHERE_IT_RUNS = ("workers", "executor", "address", "stage_outputs", "cards_dir")


@dataclass(frozen=True)
class RunSettings:
    """How a run executes; none of these change its output."""

    name: str = field(metadata={"help": "run name: the data card goes to data_cards/<name>/"})
    output: str = field(metadata={"help": "output folder of the run"})
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
        "help": "where data cards are written (relative to the config file, as every path in it)"})
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
    name: str
    config: Any


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


def _check_type(value: Any, tp: Any, where: str) -> Any:
    """`value` as type `tp` (ints widen to float, lists to tuples, nested tables to dataclasses),
    or a ConfigError naming the setting and what it expected."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):  # a nested settings table, e.g. model.moe
        return value if isinstance(value, tp) else build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        return _check_union(value, tp, where)
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where} = {value!r}: expected nothing")
    if tp in (int, float, str, bool):
        return _check_scalar(value, tp, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} = {value!r}: expected a list")
        args = typing.get_args(tp)
        item_t = args[0] if args else Any
        return tuple(_check_type(v, item_t, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        return _check_table(value, tp, where)
    return value


def _check_union(value: Any, tp: Any, where: str) -> Any:
    for arg in typing.get_args(tp):
        try:
            return _check_type(value, arg, where)
        except ConfigError:
            continue
    raise ConfigError(f"{where} = {value!r}: expected {tp}")


def _check_scalar(value: Any, tp: type, where: str) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where} = {value!r}: expected {tp.__name__}")


def _check_table(value: Any, tp: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} = {value!r}: expected a table")
    kt, vt = typing.get_args(tp) or (Any, Any)
    out = {}
    for k, v in value.items():
        key = int(k) if kt is int and isinstance(k, str) and k.lstrip("-").isdigit() else k
        out[_check_type(key, kt, f"{where}.{k}")] = _check_type(v, vt, f"{where}.{k}")
    return out


def build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Make frozen dataclass `cls` from a mapping; unknown keys and wrong types are errors."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{where}] must be a table, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"[{where}] unknown key(s) {', '.join(unknown)}; "
                          f"available: {', '.join(known) or '(none)'}")
    kwargs = {k: _check_type(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    missing = [n for n, f in known.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]  # type: ignore[misc]
    if missing:
        raise ConfigError(f"[{where}] missing required key(s): {', '.join(missing)}")
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"[{where}] {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"[{where}] {e}") from None


def default_of(f: dataclasses.Field) -> Any:
    """A dataclass field's default (made by its factory where it has one); None when required."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (['a','b'], value); the value is read as TOML, else taken as a string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(doc: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `--set` overrides; `stages.<name>.<key>` addresses a stage by its name."""
    for ov in overrides:
        path, value = parse_override(ov)
        target: Any = doc
        if path[0] == "stages" and len(path) >= 3:
            matches = [s for s in doc.get("stages", []) if s.get("name") == path[1]]
            if not matches:
                raise ConfigError(f"--set {ov}: no stage named {path[1]!r} in this run")
            target, path = matches[0], path[2:]
        for p in path[:-1]:
            target = target.setdefault(p, {})
        target[path[-1]] = value
    return doc


def resolve_path(base: Path, value: str) -> str:
    """Paths in a config are relative to the config file's folder ("default" is a name)."""
    if value == "default":
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def read_toml(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A TOML file as a dict, or a ConfigError naming the file (missing, not UTF-8, not TOML)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


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
    for key in ("output", "cards_dir"):
        if key in run_vals:
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
        stages.append(StageSpec(name, build(cls.Config, resolved, f"stages.{name}")))
    shards = None
    if "shards" in doc:
        from pipeline.shards import ShardsConfig
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
        from pipeline.shards import ShardsConfig
        owner = ShardsConfig
    fields = {f.name: f for f in dataclasses.fields(owner)} if owner else {}
    if len(parts) == 2 and parts[1] in fields:
        return f"(default: {default_of(fields[parts[1]])!r})"
    return "(not set)"
