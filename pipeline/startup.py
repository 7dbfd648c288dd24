"""What a run checks about its output folder before it starts anything (Ray included).

A folder that holds a finished part of a run is resumed only with --resume and only by the same
config (the differing settings are named); a folder that holds nothing but the record of a start
that failed (run.json, no finished work) is begun again, so fixing the config and running the
same command works.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from pipeline import stage_folder
from pipeline.errors import RunError


def has_work(out: Path, record: str) -> bool:
    """Whether `out` holds any file besides the run's record (a finished part, a marker)."""
    return out.exists() and any(p.is_file() and p.name != record and not p.name.endswith(".tmp")
                                for p in out.rglob("*"))


def check_output(out: Path, config_hash: str, config: dict[str, Any], resume: bool, record: str = stage_folder.RECORD,
                 flag: str = "run.output") -> dict:
    """The record of the attempts before this one ({} for a fresh start, or after a start that
    failed before any work), or RunError when the folder holds other work: anything without
    --resume, or work of other settings (which are named)."""
    if not has_work(out, record):
        return {}
    if not resume:
        raise RunError(f"output folder {out} is not empty; pass --resume to continue what it holds, or choose "
                       f"another {flag}")
    prior = json.loads((out / record).read_text()) if (out / record).exists() else {}
    if prior and prior["config_hash"] != config_hash:
        changed = differences(prior.get("config", {}), config)
        raise RunError(f"{out} holds work of other settings ({'; '.join(changed[:6]) or 'the config differs'}); "
                       f"resuming would mix outputs: resume with the settings it was started with, or choose "
                       f"another {flag}")
    return prior


def differences(before: Any, now: Any, where: str = "", default: Callable[[str], str] | None = None) -> list[str]:
    """`key: old -> new` for every setting that differs, as dotted keys (stages by name); a key one
    side does not set shows as `default(key)` where given, else as (not set)."""
    if isinstance(before, dict) and isinstance(now, dict):
        out = []
        for k in sorted(set(before) | set(now), key=str):
            out += differences(before.get(k), now.get(k), f"{where}.{k}" if where else str(k), default)
        return out
    if isinstance(before, list) and isinstance(now, list) and all(isinstance(x, dict) and "name" in x
                                                                  for x in before + now):
        return differences({x["name"]: x for x in before}, {x["name"]: x for x in now}, where, default)
    if before == now:
        return []
    unset = default(where) if default else "(not set)"
    return [f"{where}: {unset if before is None else repr(before)} -> {unset if now is None else repr(now)}"]
