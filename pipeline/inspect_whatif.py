"""`corpusprep inspect RUN --what-if stages.quality.min_words=30`: what other thresholds would have
decided, from the measures the stage stored, without re-running it.

Exact by construction: the stage measured every document it saw with every family (kept and
dropped alike), and `redecide` is the decision code the stage itself runs. Only settings that
decide without changing what is measured may change (a rule's threshold, a family's mode, except
C4's, whose line filter changes the text the later families measure); anything else is an error
that says so. Before answering, the stored measures must reproduce the run's own drops.
"""
from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import Any

import pyarrow as pa

from pipeline.errors import ConfigError
from pipeline.formatting import excerpt
from pipeline.inspect_run import RunView
from pipeline.settings import parse_override


def parse_settings(settings: list[str]) -> tuple[str, list[str]]:
    """`stages.STAGE.KEY=V` (or `STAGE.KEY=V`) -> the one stage and its KEY=V overrides."""
    stages, local = set(), []
    for s in settings:
        path, _ = parse_override(s)
        if path[0] == "stages":
            path = path[1:]
        if len(path) != 2:
            raise ConfigError(f"--what-if {s!r}: expected stages.STAGE.KEY=VALUE, e.g. stages.quality.min_words=30")
        stages.add(path[0])
        local.append(f"{path[1]}={s.split('=', 1)[1]}")
    if len(stages) != 1:
        raise ConfigError(f"--what-if: one stage at a time (got {', '.join(sorted(stages))})")
    return stages.pop(), local


def _changed(old: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    a, b = dataclasses.asdict(old), dataclasses.asdict(new)
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def _check_decidable(stage: Any, old: Any, changed: dict[str, tuple[Any, Any]]) -> None:
    fams = stage.families_of(old)
    allowed = set().union(*(f.thresholds() for f in fams)) if fams else set()
    for key, (a, b) in changed.items():
        if key not in allowed:
            raise ConfigError(f"--what-if: {stage.name}.{key} changes what is measured, not only what is decided; "
                              f"re-run the stage to see it. Settings the stored measures decide: "
                              f"{', '.join(sorted(allowed))}")
        if isinstance(a, dict) and set(a) != set(b):
            raise ConfigError(f"--what-if: {stage.name}.{key} keeps its keys {sorted(a)} (each is a stored measure); "
                              "change their values only")


def what_if(view: RunView, settings: list[str], n: int = 3, seed: int = 0) -> dict[str, Any]:
    """Per changed setting set: the stage's verdicts re-made from its stored measures, against the
    run's; counts, bytes (as the documents reached the stage) and examples of both directions."""
    name, overrides = parse_settings(settings)
    old, new = view.stage_config(name), view.stage_config(name, overrides)
    stage = view.stage(name, old)
    measures = view.measures(name)
    if measures is None or not hasattr(stage, "families_of"):
        raise ConfigError(f"--what-if: stage {name!r} of {view.root} stored no measures (quality does, with "
                          "store_measures = true)")
    changed = _changed(old, new)
    _check_decidable(stage, old, changed)
    before, after = stage.redecide(old, measures), stage.redecide(new, measures)
    _check_reproduces(view, name, measures, before)
    ids, size = measures["id"].to_pylist(), measures["bytes"].to_pylist()
    dropped = [i for i, (a, b) in enumerate(zip(before, after)) if a is None and b is not None]
    kept = [i for i, (a, b) in enumerate(zip(before, after)) if a is not None and b is None]
    rng = random.Random(seed)

    def side(rows: list[int], reasons: list[str | None]) -> dict[str, Any]:
        shown = sorted(rng.sample(rows, min(n, len(rows))))
        return {"docs": len(rows), "bytes": sum(size[i] for i in rows),
                "by_reason": dict(Counter(f"{name}.{reasons[i]}" for i in rows).most_common()),
                "examples": [_example(view, name, new, ids[i], after[i] or before[i]) for i in shown]}

    return {"stage": name, "changed": changed, "docs_in": len(ids),
            "kept_before": before.count(None), "kept_after": after.count(None),
            "drops_after": dict(sorted(Counter(f"{name}.{r}" for r in after if r).items())),
            "dropped_bytes_after": dict(sorted(_bytes_by_reason(name, after, size).items())),
            "newly_dropped": side(dropped, after), "newly_kept": side(kept, before),
            "reason_changed": sum(a is not None and b is not None and a != b for a, b in zip(before, after))}


def _bytes_by_reason(name: str, reasons: list[str | None], size: list[int]) -> Counter:
    out: Counter = Counter()
    for r, b in zip(reasons, size):
        if r:
            out[f"{name}.{r}"] += b
    return out


def _check_reproduces(view: RunView, name: str, measures: pa.Table, before: list[str | None]) -> None:
    """The stored measures under the run's own settings give the run's own drops, or nothing is said."""
    drops = view.drops(name, ["id", "reason"])
    real = dict(zip(drops["id"].to_pylist(), drops["reason"].to_pylist())) if len(drops) else {}
    ours = {i: f"{name}.{r}" for i, r in zip(measures["id"].to_pylist(), before) if r}
    if ours != real:
        bad = sorted(set(ours.items()) ^ set(real.items()))[:3]
        raise ConfigError(f"{view.root}: {name}'s stored measures do not reproduce its drops (e.g. {bad}); "
                          "they were written by another version: re-run the stage")


def _example(view: RunView, name: str, config: Any, doc_id: str, reason: str) -> dict[str, Any]:
    drop = view.drop_of(name, doc_id)
    text = drop["text"] if drop and drop["text"] else view.text_into(name, doc_id) or view.kept_text(name, doc_id)
    return {"id": doc_id, "reason": f"{name}.{reason}", "excerpt": excerpt(text or "", 0, 0, 300)}
