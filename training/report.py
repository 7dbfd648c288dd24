"""The scaling report: fits per data variant, plots, and a plain-language summary, from results.

Reads only result JSONs (or a CSV table), so `corpusprep report` rebuilds everything without
training. Every number in the report comes from the runs or from fits to them.
"""
from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import atomic
from training.fit import FitError, fit_all


def table_from_results(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"N": r["N"], "D": r["D"], "loss": r["val_loss"], "variant": r.get("variant", ""),
             "unique": r.get("unique_tokens", r["D"]), "epochs": r.get("epochs", 1.0),
             "train_loss": r.get("train_eval_loss"), "gap": r.get("train_val_gap"),
             "memorized": r.get("memorized_share"), "budget": r.get("budget", ""),
             "name": r.get("name", "")} for r in results]


def table_from_csv(path: str | Path) -> list[dict[str, Any]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"N", "D", "loss"} <= set(rows[0]):
        raise FitError(f"{path}: needs columns N, D, loss (and optionally variant)")
    return [{"N": float(r["N"]), "D": float(r["D"]), "loss": float(r["loss"]) if r["loss"] not in ("", "nan") else math.nan,
             "variant": r.get("variant", ""), "unique": float(r.get("unique") or r["D"]), "epochs": 1.0}
            for r in rows]


def by_variant(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["variant"] or "all"].append(r)
    return dict(sorted(out.items()))


def fit_rows(rows: list[dict[str, Any]], bootstrap: int = 200) -> dict[str, Any]:
    """Fits on single-epoch points; repeated-epoch points enter through effective data."""
    one = [r for r in rows if r["epochs"] <= 1.05]
    arr = lambda rs, k: np.array([r[k] for r in rs], float)  # noqa: E731
    fits = fit_all(arr(one, "N"), arr(one, "D"), arr(one, "loss"), bootstrap=bootstrap)
    if len(one) < len(rows):
        fits["approach3_effective_data"] = fit_all(arr(rows, "N"), arr(rows, "D"), arr(rows, "loss"),
                                                   unique=arr(rows, "unique"), bootstrap=bootstrap).get(
            "approach3_effective_data")
    return fits


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    _plt().close(fig)


def plot_fit(rows: list[dict[str, Any]], fits: dict[str, Any], path: Path, title: str) -> None:
    """Points and fitted curves: loss against tokens, one curve per model size."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    p = fits["approach3"]["params"]
    Ns = sorted({r["N"] for r in rows})
    cmap = plt.get_cmap("viridis")
    for i, n in enumerate(Ns):
        pts = sorted((r["D"], r["loss"]) for r in rows if r["N"] == n and r["epochs"] <= 1.05)
        c = cmap(i / max(1, len(Ns) - 1))
        if pts:
            ax.scatter(*zip(*pts), color=c, s=18)
        d = np.geomspace(min(r["D"] for r in rows), max(r["D"] for r in rows), 50)
        ax.plot(d, p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"], color=c, lw=1, label=f"N={n:,.0f}")
    ax.set_xscale("log")
    ax.set_xlabel("tokens D")
    ax.set_ylabel("validation loss")
    ax.set_title(title)
    ax.legend(fontsize=7)
    _save(fig, path)


def _solve_D(p: dict[str, float], N: float, L: float) -> float:
    """Tokens a fitted law needs at size N to reach loss L (inf when below its floor)."""
    rest = L - p["E"] - p["A"] / N ** p["alpha"]
    return (p["B"] / rest) ** (1 / p["beta"]) if rest > 0 else math.inf


def summary(variants: dict[str, list[dict[str, Any]]], fits: dict[str, dict[str, Any]]) -> list[str]:
    """How quality shifted the curves, in words, with intervals; says when a difference is noise."""
    names = list(variants)
    if len(names) < 2:
        return ["Only one data variant: no quality comparison."]
    ref = "raw" if "raw" in names else names[0]
    lines = []
    nmax = max(r["N"] for r in variants[ref])
    dmax = max(r["D"] for r in variants[ref] if r["epochs"] <= 1.05)
    pr = fits[ref]["approach3"]["params"]
    l_ref = pr["E"] + pr["A"] / nmax ** pr["alpha"] + pr["B"] / dmax ** pr["beta"]
    for v in names:
        if v == ref:
            continue
        pv = fits[v]["approach3"]["params"]
        d_need = _solve_D(pv, nmax, l_ref)
        # measured, cell by cell: equal N and equal budget
        ref_cells = {(r["N"], r["budget"]): r["loss"] for r in variants[ref] if r["epochs"] <= 1.05}
        diffs = [ref_cells[(r["N"], r["budget"])] - r["loss"] for r in variants[v]
                 if r["epochs"] <= 1.05 and (r["N"], r["budget"]) in ref_cells]
        wins = sum(d > 0 for d in diffs)
        mean = float(np.mean(diffs)) if diffs else math.nan
        se = float(np.std(diffs, ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else math.nan
        lo, hi = mean - 1.96 * se, mean + 1.96 * se
        verdict = ("beats" if lo > 0 else "is worse than" if hi < 0 else "is within noise of")
        lines.append(f"At equal tokens, `{v}` {verdict} `{ref}`: it has the lower validation loss in "
                     f"{wins} of {len(diffs)} (model size, budget) cells; mean loss difference "
                     f"{mean:+.4f} (95 % CI {lo:+.4f} .. {hi:+.4f}, {ref} minus {v}).")
        boot = fits[v].get("_boot_D")
        ci = f" [95 % CI {boot[0]:,.0f} .. {boot[1]:,.0f}]" if boot else ""
        if math.isfinite(d_need):
            lines.append(f"By the fitted laws, at N = {nmax:,.0f} `{v}` reaches `{ref}`'s loss at {dmax:,.0f} tokens "
                         f"({l_ref:.3f}) with {d_need:,.0f} tokens{ci} ({d_need / dmax:.2f}x).")
        else:
            lines.append(f"By the fitted laws, at N = {nmax:,.0f} `{v}` does not reach `{ref}`'s loss at "
                         f"{dmax:,.0f} tokens ({l_ref:.3f}) with any number of tokens.")
        lines.append("Note: losses are on one shared validation split drawn from the cleanest variant and "
                     "held out of every variant together with its near copies; differences within the "
                     "interval are noise.")
    return lines


def _boot_D(samples: dict[str, list[float]], p_ref: dict[str, float], nmax: float,
            dmax: float) -> tuple[float, float] | None:
    """95 % interval of the tokens needed to reach the reference loss, over the bootstrap fits."""
    l_ref = p_ref["E"] + p_ref["A"] / nmax ** p_ref["alpha"] + p_ref["B"] / dmax ** p_ref["beta"]
    ds = [_solve_D({k: samples[k][i] for k in samples}, nmax, l_ref) for i in range(len(samples["E"]))]
    ds = [d for d in ds if math.isfinite(d)]
    return (float(np.percentile(ds, 2.5)), float(np.percentile(ds, 97.5))) if len(ds) > 10 else None


def build_report(rows: list[dict[str, Any]], out: str | Path, bootstrap: int = 200) -> Path:
    plt = _plt()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    variants = by_variant(rows)
    fits: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for v, rs in variants.items():
        try:
            fits[v] = fit_rows(rs, bootstrap)
        except FitError as e:
            errors[v] = str(e)
    ref = "raw" if "raw" in fits else (next(iter(fits)) if fits else None)
    if ref:
        nmax = max(r["N"] for r in variants[ref])
        dmax = max(r["D"] for r in variants[ref] if r["epochs"] <= 1.05)
        for v in fits:
            if v != ref:
                fits[v]["_boot_D"] = _boot_D(fits[v]["approach3"]["samples"], fits[ref]["approach3"]["params"],
                                             nmax, dmax)
    L = ["# Scaling report", "", f"{len(rows)} runs, {len(variants)} data variant(s): {', '.join(variants)}.", ""]
    if errors:
        L += [f"- fit for `{v}` failed: {e}" for v, e in errors.items()] + [""]
    if fits:
        L += ["## Summary", ""] + [f"- {s}" for s in summary({v: variants[v] for v in fits}, fits)] + [""]
        L += ["## Fitted L(N, D) = E + A/N^alpha + B/D^beta (Chinchilla approach 3, Huber 1e-3 on log loss, "
              "L-BFGS from a grid; 95 % bootstrap intervals)", "",
              "| variant | E | A | B | alpha | beta | points | tokens/parameter at the optimum |", "|---|---|---|---|---|---|---:|---:|"]
        for v, f in fits.items():
            a3 = f["approach3"]
            cell = lambda k: f"{a3['params'][k]:.3g} [{a3['ci95'][k][0]:.3g}, {a3['ci95'][k][1]:.3g}]"  # noqa: E731
            fit_obj = _fit_from(a3)
            C = 6 * max(r["N"] for r in variants[v]) * max(r["D"] for r in variants[v])
            n_opt, d_opt = fit_obj.optimum(C)
            L.append(f"| {v} | {cell('E')} | {cell('A')} | {cell('B')} | {cell('alpha')} | {cell('beta')} | "
                     f"{a3['n_points']} | {d_opt / n_opt:.1f} (at C = {C:.2e}) |")
        L += [""]
        for v, f in fits.items():
            a3 = f["approach3"]
            wide = [k for k, (lo, hi) in a3["ci95"].items() if lo > 0 and hi / lo > 100]
            if a3["params"]["E"] < 0.5 or wide:
                L.append(f"- The `{v}` fit is poorly constrained by this sweep (E = {a3['params']['E']:.3g}"
                         + (f"; intervals over 100x wide: {', '.join(wide)}" if wide else "")
                         + "): the losses are far from the irreducible term, so its extrapolations "
                         "(optimum, tokens needed) are indicative only; train longer or larger to pin it down.")
        L += [""]
        for v, f in fits.items():
            plot_fit(variants[v], f, out / f"fit_{v}.png", f"{v}: fitted L(N, D)")
        L += ["Fitted curves per variant, side by side:", ""] + [f"![{v}](fit_{v}.png)" for v in fits] + [""]
        for v, f in fits.items():
            extra = []
            for k in ("approach1", "approach2"):
                if f.get(k):
                    extra.append(f"{k}: N_opt ~ C^{f[k]['N_opt']['exponent']:.2f}, D_opt ~ C^{f[k]['D_opt']['exponent']:.2f}")
                else:
                    extra.append(f"{k}: the grid does not allow it")
            for k, d in f.get("kaplan", {}).items():
                extra.append(f"Kaplan {k}: exponent {d['exponent']:.3f}")
            if f.get("approach3_effective_data"):
                e = f["approach3_effective_data"]["params"]
                extra.append(f"with repeated-epoch points and Muennighoff effective data: alpha {e['alpha']:.3g}, beta {e['beta']:.3g}, E {e['E']:.3g}")
            L += [f"- `{v}`: " + "; ".join(extra)]
        L += [""]
    # plots of the raw results
    fig, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 3.8), squeeze=False)
    for ax, (v, rs) in zip(axes[0], variants.items()):
        for n in sorted({r["N"] for r in rs}):
            pts = sorted((r["D"], r["loss"]) for r in rs if r["N"] == n and r["epochs"] <= 1.05)
            ax.plot(*zip(*pts), marker="o", label=f"N={n:,.0f}")
        ax.set_xscale("log")
        ax.set_title(f"{v}: loss vs tokens")
        ax.set_xlabel("tokens")
        ax.set_ylabel("validation loss")
        ax.legend(fontsize=7)
    _save(fig, out / "loss_vs_tokens.png")
    fig, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 3.8), squeeze=False)
    for ax, (v, rs) in zip(axes[0], variants.items()):
        for b in sorted({r["D"] for r in rs if r["epochs"] <= 1.05}):
            pts = sorted((r["N"], r["loss"]) for r in rs if r["D"] == b and r["epochs"] <= 1.05)
            ax.plot(*zip(*pts), marker="o", label=f"D={b:,.0f}")
        ax.set_xscale("log")
        ax.set_title(f"{v}: loss vs parameters")
        ax.set_xlabel("non-embedding parameters")
        ax.legend(fontsize=7)
    _save(fig, out / "loss_vs_params.png")
    fig, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 3.8), squeeze=False)
    for ax, (v, rs) in zip(axes[0], variants.items()):
        one = [r for r in rs if r["epochs"] <= 1.05]
        C = np.array([6 * r["N"] * r["D"] for r in one])
        bins = np.round(np.log2(C))
        for b in sorted(set(bins)):
            grp = sorted((r["N"], r["loss"]) for r, cb in zip(one, bins) if cb == b)
            if len(grp) >= 2:
                ax.plot(*zip(*grp), marker=".", label=f"C~2^{b:.0f}")
                n, l = min(grp, key=lambda t: t[1])
                ax.scatter([n], [l], color="red", zorder=3, s=25)
        ax.set_xscale("log")
        ax.set_title(f"{v}: iso-FLOP (red: best per compute)")
        ax.set_xlabel("non-embedding parameters")
        ax.legend(fontsize=6)
    _save(fig, out / "isoflop.png")
    L += ["## Plots", "", "![loss vs tokens](loss_vs_tokens.png)", "", "![loss vs parameters](loss_vs_params.png)",
          "", "![iso-FLOP](isoflop.png)", ""]
    # overfitting and memorisation
    L += ["## Overfitting and memorisation", "",
          "| run | N | D | epochs | train loss | val loss | gap | memorised windows |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["variant"], r["D"], r["N"], r["epochs"])):
        if r.get("train_loss") is None:
            continue
        L.append(f"| {r['name']} | {r['N']:,.0f} | {r['D']:,.0f} | {r['epochs']:.1f} | {r['train_loss']:.3f} | "
                 f"{r['loss']:.3f} | {r['gap']:+.3f} | {100 * (r['memorized'] or 0):.0f} % |")
    flips = []
    for v, rs in variants.items():
        for d in sorted({r["D"] for r in rs}):
            for e in sorted({r["epochs"] for r in rs if r["D"] == d}):
                seq = sorted((r["N"], r["loss"]) for r in rs if r["D"] == d and r["epochs"] == e)
                for (n1, l1), (n2, l2) in zip(seq, seq[1:]):
                    if l2 > l1:
                        flips.append(f"`{v}`, D = {d:,.0f}, {e:g} epoch(s): N = {n2:,.0f} loses to N = {n1:,.0f} "
                                     f"({l2:.3f} > {l1:.3f})")
    L += ["", "Where a larger model loses to a smaller one at the same data (the data ran short):", ""]
    L += [f"- {f}" for f in flips] or ["- nowhere in this sweep"]
    atomic.write_json(out / "fits.json", {v: {k: x for k, x in f.items()} for v, f in fits.items()})
    path = out / "report.md"
    atomic.write_text(path, "\n".join(L) + "\n")
    return path


def _fit_from(a3: dict[str, Any]):
    from training.fit import ChinchillaFit

    return ChinchillaFit(a3["params"], {k: tuple(v) for k, v in a3["ci95"].items()}, a3["n_points"], a3["bootstrap"])
