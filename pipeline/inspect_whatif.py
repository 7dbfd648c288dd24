"""`corpusprep inspect RUN --what-if stages.quality.min_words=30`: what other thresholds would have
decided, from the measures the stage stored, without re-running it.

Exact by construction: the stage measured every document it saw with every family (kept and
dropped alike), and `redecide` is the decision code the stage itself runs. Memory: one batch of
measures and a sample of examples, whatever the corpus size. Only settings that
decide without changing what is measured may change (a rule's threshold, a family's mode, except
C4's, whose line filter changes the text the later families measure); anything else is an error
that says so. Before answering, the stored measures must reproduce the run's own drops.
"""
from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import ConfigError
from pipeline.formatting import excerpt
from pipeline.inspect_run import RunView
from pipeline.settings import parse_override
from pipeline.stage_folder import DROPS_FILE, MEASURES_FILE


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
    allowed = stage.decidable_settings(old)
    for key, (a, b) in changed.items():
        if key not in allowed:
            raise ConfigError(f"--what-if: {stage.name}.{key} changes what is measured, not only what is decided; "
                              f"re-run the stage to see it. Settings the stored measures decide: "
                              f"{', '.join(sorted(allowed))}")
        if isinstance(a, dict) and set(a) != set(b):
            raise ConfigError(f"--what-if: {stage.name}.{key} keeps its keys {sorted(a)} (each is a stored measure); "
                              "change their values only")


BATCH = 10_000  # measures re-decided at a time: memory follows this, not the corpus


class _Tally:
    """Counts, bytes and a seeded sample of the documents whose verdict changed, kept as the
    measures stream by."""

    def __init__(self, name: str, n: int, seed: int):
        self.name, self.n, self.rng = name, n, random.Random(seed)
        self.docs_in = self.kept_before = self.kept_after = self.reason_changed = 0
        self.drops: Counter = Counter()
        self.dropped_bytes: Counter = Counter()
        self.sides = {k: {"docs": 0, "bytes": 0, "by_reason": Counter(), "sample": []} for k in ("dropped", "kept")}

    def add(self, ids: list[str], size: list[int], before: list[str | None], after: list[str | None]) -> None:
        for i, b, a, z in zip(ids, before, after, size):
            self.docs_in += 1
            self.kept_before += b is None
            self.kept_after += a is None
            if a:
                self.drops[f"{self.name}.{a}"] += 1
                self.dropped_bytes[f"{self.name}.{a}"] += z
            side = "dropped" if b is None and a else "kept" if b and a is None else None
            self.reason_changed += bool(b and a and a != b)
            if side:
                self._count(self.sides[side], i, z, f"{self.name}.{a or b}")

    def _count(self, s: dict[str, Any], doc_id: str, size: int, reason: str) -> None:
        s["docs"] += 1
        s["bytes"] += size
        s["by_reason"][reason] += 1
        if len(s["sample"]) < self.n:  # reservoir sampling: any n of them, equally likely, seeded
            s["sample"].append((doc_id, reason))
        else:
            j = self.rng.randrange(s["docs"])
            if j < self.n:
                s["sample"][j] = (doc_id, reason)


def what_if(view: RunView, settings: list[str], n: int = 3, seed: int = 0) -> dict[str, Any]:
    """The stage's verdicts re-made from its stored measures under `settings`, against the run's:
    counts, bytes (as the documents reached the stage) and examples of both directions. The
    measures stream by in batches; they must first reproduce the run's own drops."""
    name, overrides = parse_settings(settings)
    old, new = view.stage_config(name), view.stage_config(name, overrides)
    stage = view.stage(name, old)
    path = view.folder(name) / MEASURES_FILE
    if not path.exists() or not stage.decidable_settings(old):
        raise ConfigError(f"--what-if: stage {name!r} of {view.root} stored no measures (quality and safety "
                          "do, with store_measures = true)")
    changed = _changed(old, new)
    _check_decidable(stage, old, changed)
    tally, real = _Tally(name, n, seed), _drop_stream(view, name)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        t = pa.Table.from_batches([batch])
        before, after = stage.redecide(old, t), stage.redecide(new, t)
        ids = t["id"].to_pylist()
        _check_reproduces(view, name, ids, before, real)
        tally.add(ids, t["bytes"].to_pylist(), before, after)
    if next(real, None) is not None:
        raise ConfigError(f"{view.root}: {name} dropped documents its stored measures do not hold; re-run the stage")

    def side(key: str) -> dict[str, Any]:
        s = tally.sides[key]
        return {"docs": s["docs"], "bytes": s["bytes"], "by_reason": dict(s["by_reason"].most_common()),
                "examples": [_example(view, name, i, r) for i, r in sorted(s["sample"])]}

    return {"stage": name, "changed": changed, "docs_in": tally.docs_in, "kept_before": tally.kept_before,
            "kept_after": tally.kept_after, "drops_after": dict(sorted(tally.drops.items())),
            "dropped_bytes_after": dict(sorted(tally.dropped_bytes.items())),
            "newly_dropped": side("dropped"), "newly_kept": side("kept"), "reason_changed": tally.reason_changed}


def _drop_stream(view: RunView, name: str) -> Iterator[tuple[str, str]]:
    """The stage's drops (id, reason) in run order: the order of its stored measures."""
    f = view.folder(name) / DROPS_FILE
    if not f.exists():
        return
    for b in pq.ParquetFile(f).iter_batches(batch_size=BATCH, columns=["id", "reason"]):
        yield from zip(b.column(0).to_pylist(), b.column(1).to_pylist())


def _check_reproduces(view: RunView, name: str, ids: list[str], before: list[str | None],
                      real: Iterator[tuple[str, str]]) -> None:
    """The stored measures under the run's own settings give the run's own drops, in order, or
    nothing is said."""
    for doc_id, r in zip(ids, before):
        if r is None:
            continue
        got = next(real, None)
        if got != (doc_id, f"{name}.{r}"):
            raise ConfigError(f"{view.root}: {name}'s stored measures do not reproduce its drops (at {doc_id}: "
                              f"{name}.{r} from the measures, {got} in drops.parquet); they were written by another "
                              "version or changed since: re-run the stage")


def _example(view: RunView, name: str, doc_id: str, reason: str) -> dict[str, Any]:
    drop = view.drop_of(name, doc_id)
    text = drop["text"] if drop and drop["text"] else view.text_into(name, doc_id) or view.kept_text(name, doc_id)
    return {"id": doc_id, "reason": reason, "excerpt": excerpt(text or "", 0, 0, 300)}
