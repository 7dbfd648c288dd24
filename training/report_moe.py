"""The report's section on sparse experts: MoE runs beside dense ones, at equal active
parameters (same compute a token) and at equal total parameters (same memory).

It says what its comparisons rest on (seeds paired by cell) and gives intervals, as the rest of
the report does.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from training import analysis as an
from training import plots
from training.findings import nats

SWITCH_DROPPED = 0.05  # share of assignments dropped at capacity factor 1.25 with the balance loss on


def _closest(dense_ns: list[float], target: float, tolerance: float) -> float | None:
    best = min(dense_ns, key=lambda n: abs(math.log(n / target)), default=None)
    return best if best is not None and abs(math.log(best / target)) <= tolerance else None


def moe_section(dense: list[dict[str, Any]], moe: list[dict[str, Any]], out: Path) -> list[str]:
    """MoE against dense at equal active parameters (same compute a token) and at equal total
    parameters (same memory), in the same (variant, budget, epochs) cells, seeds paired by cell."""
    L = ["## Sparse experts (Switch MoE)", "",
         "Every routed MLP is E experts behind a top-k router; N (active) counts the parameters a token meets, "
         "which set FLOPs a token and MFU; 'all experts' counts every expert. Differences are MoE minus dense loss "
         "(< 0: MoE better) with a bootstrap interval from the sweep's pooled seed noise.", "",
         "| variant | budget | experts | N active | N all experts | seeds | loss | dropped at capacity |",
         "|---|---|---:|---:|---:|---:|---:|---:|"]
    sigma = an.seed_noise(dense + moe)
    cells: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in moe:
        cells[(r["variant"], r["budget"], round(r["epochs"], 1), r["N"], r["N_all"])].append(r)
    found, pairs = [], []
    for (v, b, e, n, n_all), rs in sorted(cells.items()):
        settings = rs[0]["moe"]["settings"]
        losses = [r["loss"] for r in rs]
        dropped = float(np.mean([r["moe"]["dropped_share"] for r in rs]))
        L.append(f"| {v} | {b} | {settings['experts']} (top-{settings['top_k']}) | {n:,.0f} | {n_all:,.0f} | "
                 f"{len(rs)} | {np.mean(losses):.3f} | {dropped:.1%} |")
        if dropped > SWITCH_DROPPED:
            found.append(f"`{v}` {b}: {dropped:.1%} of assignments dropped at capacity factor "
                         f"{settings['capacity_factor']:g}, above Switch's range (under {SWITCH_DROPPED:.0%}): a "
                         "dropped token skips its expert MLP, so part of the gap below is that lost compute "
                         "(capacity_factor = experts drops none).")
        same = [r for r in dense if (r["variant"], r["budget"], round(r["epochs"], 1)) == (v, b, e)]
        for what, target, tol in (("active", n, 0.1), ("total", n_all, 0.25)):
            match = _closest(sorted({r["N"] for r in same}), target, tol)
            if match is None:
                found.append(f"`{v}` {b}: no dense size within {tol:.0%} of the MoE's {what} N = {target:,.0f}; "
                             "add one to compare at equal " + what + " parameters")
                continue
            ref = [r["loss"] for r in same if r["N"] == match]
            d = an.paired_difference([(losses, ref)], sigma=sigma)
            pairs.append((what, n, n_all, match, np.mean(ref)))
            found.append(f"`{v}` {b}, equal {what} parameters (MoE {target:,.0f} vs dense {match:,.0f}): "
                         f"MoE - dense = {nats(d)}" + (" — inside seed noise" if d["lo"] < 0 < d["hi"] else ""))
    budgets, configs = {k[1] for k in cells}, {json.dumps(rs[0]["moe"]["settings"], sort_keys=True)
                                          for rs in cells.values()}
    if len(budgets) < 2 or len(configs) < 2:
        found.append(f"Not resolved here: how the MoE gap moves with "
                     f"{'budget' if len(budgets) < 2 else 'the expert count'} "
                     f"({len(budgets)} budget(s), {len(configs)} expert setting(s) measured).")
    L += [""] + [f"- {s}" for s in found] + [""]
    if moe:
        plots.moe(dense, list(cells.items()), out / "moe.png")
        L += ["![MoE against dense](moe.png)", ""]
    return L
