"""A run's identity: the settings that decide its result, flat, and how two stored ones differ.

A finished sweep point is reused and a checkpoint resumed only when nothing that decides the
result differs. A key a stored spec lacks reads as its default, since a field added later
defaults to what runs did before it existed: adding a model or training option re-runs nothing.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.settings import default_of
from training.config import RunSpec

# Fields that change how a run is executed, never what it computes: a resume may differ in them.
EXECUTION_ONLY = {"train.threads", "train.checkpoint_every"}


def spec_dict(spec: RunSpec, vocab_size: int, data_fingerprint: str) -> dict[str, Any]:
    """Everything that decides a run's result, flat (`model.d_model`, `train.lr`, `data`)."""
    model = dataclasses.replace(spec.model, vocab_size=spec.model.vocab_size or vocab_size)
    flat = {f"model.{k}": v for k, v in dataclasses.asdict(model).items()}
    flat |= {f"train.{k}": v for k, v in dataclasses.asdict(spec.train).items()}
    flat["data"] = data_fingerprint
    return {k: v for k, v in flat.items() if k not in EXECUTION_ONLY}


def spec_defaults(spec: RunSpec) -> dict[str, Any]:
    """Each spec key's default, from the config classes as they are now (a nested table's as a
    dict): what a key that a stored spec lacks meant when it was stored, since a field added
    later defaults to what runs did before it existed."""
    out = {}
    for prefix, obj in (("model", spec.model), ("train", spec.train)):
        for f in dataclasses.fields(obj):
            d = default_of(f)
            out[f"{prefix}.{f.name}"] = dataclasses.asdict(d) if dataclasses.is_dataclass(d) else d
    return out


def spec_differences(old: dict[str, Any], new: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """`key: old -> new` for every setting that differs, a key one spec lacks read as its default
    (`spec_defaults`): adding a model or training option re-runs nothing that did not change."""
    missing = object()

    def value(spec: dict[str, Any], key: str) -> Any:
        v = spec.get(key, defaults.get(key, missing))
        return {**defaults[key], **v} if isinstance(v, dict) and isinstance(defaults.get(key), dict) else v

    def shown(v: Any) -> str:
        return "(none)" if v is missing else repr(v)

    return [f"{k}: {shown(value(old, k))} -> {shown(value(new, k))}"
            for k in sorted(set(old) | set(new)) if value(old, k) != value(new, k)]
