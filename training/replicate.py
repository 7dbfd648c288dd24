"""Do two sweeps reach the same conclusions? The same study at two seed bases (`seed_base`), or on
two machines, compared finding by finding from their reports' fits.json.

A finding with an interval (a difference of mean losses, a dose-response slope, a repeat value)
agrees when both runs put it on the same side: the interval above 0 in both, below 0 in both,
or containing 0 in both ("within noise"). The size axis agrees when both runs' share of pairs
the larger model wins is at least `size_share` (the issue's 95 %). A finding one run has and the
other lacks is listed as missing, never counted as agreement."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from pipeline.errors import ConfigError


def verdict(d: dict[str, Any]) -> str:
    """'above 0', 'below 0' or 'within noise' of an interval."""
    return "above 0" if d["lo"] > 0 else "below 0" if d["hi"] < 0 else "within noise"


def _intervals(facts: dict[str, Any], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (dotted name, {mean, lo, hi, ...}) among the findings' numbers."""
    for k, v in sorted(facts.items()):
        name = f"{where}.{k}" if where else str(k)
        if isinstance(v, dict):
            if {"lo", "hi"} <= set(v) and all(isinstance(v[x], (int, float)) for x in ("lo", "hi")):
                yield name, v
            else:
                yield from _intervals(v, name)


def compare(a: dict[str, Any], b: dict[str, Any], size_share: float = 0.95) -> list[dict[str, Any]]:
    """One row per finding: its name, each run's verdict and value, and whether they agree."""
    rows = []
    ia, ib = dict(_intervals(a)), dict(_intervals(b))
    for name in sorted(set(ia) | set(ib)):
        va, vb = ia.get(name), ib.get(name)
        rows.append({"finding": name, "a": va and verdict(va), "b": vb and verdict(vb),
                     "a_mean": va and va.get("mean"), "b_mean": vb and vb.get("mean"),
                     "agree": bool(va and vb and verdict(va) == verdict(vb))})
    lw_a, lw_b = a.get("larger_wins", {}), b.get("larger_wins", {})
    if lw_a.get("pairs") or lw_b.get("pairs"):
        sa, sb = lw_a.get("share"), lw_b.get("share")
        rows.append({"finding": "larger_wins.share", "a": sa, "b": sb, "a_mean": sa, "b_mean": sb,
                     "agree": sa is not None and sb is not None and sa >= size_share and sb >= size_share})
    return rows


def compare_sweeps(a: str | Path, b: str | Path) -> tuple[list[dict[str, Any]], str]:
    """The rows of `compare` for two sweep folders (their report/fits.json) and a Markdown table."""
    facts = []
    for folder in (a, b):
        path = Path(folder) / "report" / "fits.json"
        if not path.exists():
            raise ConfigError(f"{path} not found: run `corpusprep report {folder}` first")
        facts.append(json.loads(path.read_text())["findings"])
    rows = compare(*facts)
    fmt = lambda x: "missing" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)  # noqa: E731
    lines = [f"| finding | {a} | {b} | agree |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['finding']} | {fmt(r['a'])} ({fmt(r['a_mean'])}) | {fmt(r['b'])} ({fmt(r['b_mean'])}) | "
                     f"{'yes' if r['agree'] else 'NO'} |")
    agree = sum(r["agree"] for r in rows)
    lines.append(f"\n{agree} of {len(rows)} findings agree.")
    return rows, "\n".join(lines)
