"""The scaling report: findings with intervals in plain words, fits per data variant, plots.

Reads only result JSONs (or a CSV table), so `corpusprep report` rebuilds everything without
training. Every number in the report comes from the runs, from fits to them, or from the shards
manifest facts each result carries (composition, validation overlap); the comparisons live in
`training.analysis` and are put in words in
`training.findings`, the plots are `training.plots`'s.
"""
from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import atomic
from training import analysis as an
from training import plots
from training.findings import cannot_resolve, findings
from training.fit import FitError, effective_data, fit_all, fit_chinchilla
from training.fit_constrained import fit_data_constrained
from training.report_knnlm import knnlm_section
from training.report_moe import moe_section


def table_from_results(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row a run; learning-rate search runs (`lr_search/...`) are left out."""
    return [{"N": r["N"], "N_total": r.get("N_total", r["N"]), "D": r["D"], "loss": r["val_loss"],
             "variant": r.get("variant", ""), "unique": r.get("unique_tokens", r["D"]), "epochs": r.get("epochs", 1.0),
             "train_loss": r.get("train_eval_loss"), "gap": r.get("train_val_gap"),
             "memorized": r.get("memorized_share"), "budget": r.get("budget", ""), "seed": r.get("seed", 0),
             "lr": r.get("lr"), "mix": (r.get("data") or {}).get("mix"), "data": r.get("data") or {},
             "by_source": r.get("train_loss_by_source") or {}, "name": r.get("name", ""),
             "moe": r.get("moe"), "N_all": r.get("N_all_experts", r["N"])}
            for r in results if not r.get("name", "").startswith("lr_search")]


def table_from_csv(path: str | Path) -> list[dict[str, Any]]:
    """The points of a CSV with columns N, D, loss (and optionally variant; U, or unique, for the
    unique tokens behind D, so D / U epochs; UN for the parameter count U_N of the
    data-constrained law); a value that is not a number is a FitError naming its line and column
    (an empty or nan loss is a point that did not train)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise FitError(f"{path}: cannot be read as a CSV ({e})") from None
    if not rows or not {"N", "D", "loss"} <= set(rows[0]):
        raise FitError(f"{path}: needs columns N, D, loss (and optionally variant; U for unique tokens, UN)")

    def number(r: dict[str, str], key: str, line: int, missing: float | None = None) -> float:
        value = (r.get(key) or "").strip()
        if missing is not None and value in ("", "nan"):
            return missing
        try:
            return float(value)
        except ValueError:
            raise FitError(f"{path} line {line}: {key} = {value!r} is not a number") from None

    out = []
    for i, r in enumerate(rows, 2):
        D = number(r, "D", i)
        unique = number(r, "U" if "U" in r else "unique", i, D)
        out.append({"N": number(r, "N", i), "D": D, "loss": number(r, "loss", i, math.nan),
                    "variant": r.get("variant", ""), "unique": unique, "epochs": D / unique,
                    "UN": number(r, "UN", i, math.nan)})
    return out


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
        De = effective_data(arr(rows, "D"), arr(rows, "unique"))
        fits["approach3_effective_data"] = fit_chinchilla(arr(rows, "N"), De, arr(rows, "loss"),
                                                          bootstrap=bootstrap).to_dict()
        try:  # R_D* and R_N* with the single-epoch law as the base, as the paper obtained its own
            fits["data_constrained"] = fit_data_constrained(
                arr(rows, "N"), arr(rows, "D"), arr(rows, "unique"), arr(rows, "loss"),
                base=fits["approach3"]["params"], bootstrap=min(bootstrap, 100)).to_dict()
        except FitError as e:
            fits["data_constrained"] = {"error": str(e)}
    return fits


def plot_fit(rows: list[dict[str, Any]], fits: dict[str, Any], path: Path, title: str) -> None:
    """Points and fitted curves: loss against tokens, one curve per model size."""
    fig, ax = plots.plt().subplots(figsize=(6, 4))
    p = fits["approach3"]["params"]
    Ns = sorted({r["N"] for r in rows})
    cmap = plots.plt().get_cmap("viridis")
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
    plots.save(fig, path)


def _solve_D(p: dict[str, float], N: float, L: float) -> float:
    """Tokens a fitted law needs at size N to reach loss L (inf when below its floor)."""
    rest = L - p["E"] - p["A"] / N ** p["alpha"]
    return (p["B"] / rest) ** (1 / p["beta"]) if rest > 0 else math.inf


def _boot_D(samples: dict[str, list[float]], p_ref: dict[str, float], nmax: float,
            dmax: float) -> tuple[float, float] | None:
    """95 % interval of the tokens needed to reach the reference loss, over the bootstrap fits."""
    l_ref = p_ref["E"] + p_ref["A"] / nmax ** p_ref["alpha"] + p_ref["B"] / dmax ** p_ref["beta"]
    ds = [_solve_D({k: samples[k][i] for k in samples}, nmax, l_ref) for i in range(len(samples["E"]))]
    ds = [d for d in ds if math.isfinite(d)]
    return (float(np.percentile(ds, 2.5)), float(np.percentile(ds, 97.5))) if len(ds) > 10 else None


def build_report(rows: list[dict[str, Any]], out: str | Path, bootstrap: int = 100,
                 lr_search: dict[str, Any] | None = None, knnlm: list[dict[str, Any]] | None = None,
                 knnlm_skipped: str | None = None) -> Path:
    """report.md, fits.json and plots under `out`. MoE runs are kept out of the dense fits and
    findings and compared with dense runs in their own section, as are kNN-LM results."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    moe_rows = [r for r in rows if r.get("moe")]
    rows = [r for r in rows if not r.get("moe")]
    variants = by_variant(rows)
    fits, errors = _fit_variants(variants, bootstrap)
    seeds = ", ".join(map(str, sorted({r["seed"] for r in rows})))
    moe_note = f" (and {len(moe_rows)} MoE runs)" if moe_rows else ""
    L = ["# Scaling report", "", f"{len(rows)} runs{moe_note}, {len(variants)} data variant(s): "
         f"{', '.join(variants)}; seeds {seeds}.", ""]
    if errors:
        L += [f"- fit for `{v}` failed: {e}" for v, e in errors.items()] + [""]
    found, facts = findings(variants, rows)
    found += _equal_loss_tokens(fits, variants)
    L += ["## Summary", ""] + [f"- {s}" for s in found] + [""]
    unresolved = cannot_resolve(rows, facts, fits) + _lr_edge_note(lr_search)
    L += ["## What this sweep cannot resolve", ""] + [f"- {s}" for s in unresolved] + [""]
    L += _lr_section(lr_search) + _sizes_section(rows) + _fits_section(fits, variants, out)
    L += _plots_section(variants, fits, facts, out)
    if moe_rows:
        L += moe_section(rows, moe_rows, out)
    L += knnlm_section(knnlm or [], out, knnlm_skipped)
    L += overfitting_table(rows)
    atomic.write_json(out / "fits.json", {"fits": fits, "findings": facts})
    path = out / "report.md"
    atomic.write_text(path, "\n".join(L) + "\n")
    return path


def _fit_variants(variants: dict[str, list[dict[str, Any]]], bootstrap: int
                  ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """L(N, D) fitted per variant with at least two budgets (mixes have one: compared, not fitted)."""
    fits: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for v, rs in variants.items():
        if len({r["D"] for r in an.one_epoch(rs)}) < 2:
            continue
        try:
            fits[v] = fit_rows(rs, bootstrap)
        except FitError as e:
            errors[v] = str(e)
    return fits, errors


def _equal_loss_tokens(fits: dict[str, dict[str, Any]], variants: dict[str, list[dict[str, Any]]]) -> list[str]:
    """By the fitted laws: the tokens each variant needs to reach the reference variant's loss at
    the largest size and budget, with a bootstrap interval."""
    ref = "raw" if "raw" in fits else (next(iter(fits)) if fits else None)
    if not ref or len(fits) < 2:
        return []
    nmax = max(r["N"] for r in variants[ref])
    dmax = max(r["D"] for r in an.one_epoch(variants[ref]))
    pr = fits[ref]["approach3"]["params"]
    l_ref = pr["E"] + pr["A"] / nmax ** pr["alpha"] + pr["B"] / dmax ** pr["beta"]
    out = []
    for v in fits:
        if v == ref:
            continue
        boot = _boot_D(fits[v]["approach3"]["samples"], pr, nmax, dmax)
        d_need = _solve_D(fits[v]["approach3"]["params"], nmax, l_ref)
        ci = f" [95 % CI {boot[0]:,.0f} .. {boot[1]:,.0f}]" if boot else ""
        where = f"By the fitted laws, at N = {nmax:,.0f} `{v}`"
        out.append(f"{where} reaches `{ref}`'s loss at {dmax:,.0f} tokens ({l_ref:.3f}) with {d_need:,.0f} "
                   f"tokens{ci} ({d_need / dmax:.2f}x)." if math.isfinite(d_need) else
                   f"{where} does not reach `{ref}`'s loss at {dmax:,.0f} tokens ({l_ref:.3f}) with any number "
                   "of tokens.")
    return out


def _lr_section(lr_search: dict[str, Any] | None) -> list[str]:
    if not lr_search or not lr_search.get("chosen"):
        return []
    s = lr_search.get("search") or {}
    losses = lr_search.get("losses", {})
    head = (f"Per size, the lowest mean validation loss over {s['grid']} at `{s['variant']}` {s['budget']}, seeds "
            f"{s.get('seeds', [0])} (`lr_search/` holds the runs):" if s else
            "Fixed in the sweep config for every size (no search ran):")
    table = ["| size | learning rate | mean loss at each rate |", "|---|---:|---|"]
    edges = _lr_edges(lr_search)
    return ["## Learning rates", "", head, ""] + table + [
        f"| {k} | {v:g}{f' ({edges[k]} of the grid)' if k in edges else ''} | "
        f"{losses.get(k) or ('searched' if s else 'fixed')} |"
        for k, v in lr_search["chosen"].items()
    ] + [""]


def _lr_edges(lr_search: dict[str, Any] | None) -> dict[str, str]:
    """Sizes whose searched rate is the grid's lowest or highest: a minimum on the grid's edge is
    a bound, not an optimum (with warm-up 100 the default sweep's xs and m moved to the top of a
    grid that ended at 8e-3)."""
    grid = sorted(((lr_search or {}).get("search") or {}).get("grid") or [])
    if len(grid) < 2:
        return {}
    losses = lr_search.get("losses", {})
    return {k: "lowest" if v == grid[0] else "highest" for k, v in lr_search["chosen"].items()
            if v in (grid[0], grid[-1]) and ": " in str(losses.get(k, ""))}  # searched, not taken from another


def _lr_edge_note(lr_search: dict[str, Any] | None) -> list[str]:
    edges = _lr_edges(lr_search)
    if not edges:
        return []
    where = "; ".join(f"{k}: {lr_search['chosen'][k]:g}, the {e}" for k, e in sorted(edges.items()))
    return [f"Learning rates on the search grid's edge ({where}): the best rate of those sizes may lie beyond "
            "the grid: their losses may be above what the size reaches at its best rate, which biases size "
            "comparisons against them."]


def _sizes_section(rows: list[dict[str, Any]]) -> list[str]:
    sizes = sorted({(r["N"], r["N_total"]) for r in rows})
    return ["## Model sizes", "", "N in the fits and the text is non-embedding parameters (Kaplan et al.); with "
            "embeddings (input, and output unless tied) for comparison:", "",
            "| N (non-embedding) | with embeddings | embedding share |", "|---:|---:|---:|"] + [
        f"| {n:,.0f} | {t:,.0f} | {100 * (t - n) / t:.0f} % |" for n, t in sizes] + [""]


def _fits_section(fits: dict[str, dict[str, Any]], variants: dict[str, list[dict[str, Any]]], out: Path) -> list[str]:
    """The fitted laws with intervals, the other approaches' exponents, and a plot per variant."""
    if not fits:
        return []
    L = ["## Fitted L(N, D) = E + A/N^alpha + B/D^beta (Chinchilla approach 3, Huber 1e-3 on log loss, "
         "L-BFGS from a grid; every seed a point; 95 % bootstrap intervals)", "",
         "| variant | E | A | B | alpha | beta | points | tokens/parameter at the optimum |",
         "|---|---|---|---|---|---|---:|---:|"]
    for v, f in fits.items():
        a3 = f["approach3"]
        cell = {k: f"{a3['params'][k]:.3g} [{a3['ci95'][k][0]:.3g}, {a3['ci95'][k][1]:.3g}]"
                for k in ("E", "A", "B", "alpha", "beta")}
        if "e_profile" in f:  # fit_all profiles E where it ran off to 0 (`e_runs_off`) on the same points
            cell["E"] += " (-> 0: not identified)"
        C = 6 * max(r["N"] for r in variants[v]) * max(r["D"] for r in variants[v])
        n_opt, d_opt = _fit_from(a3).optimum(C)
        L.append(f"| {v} | {cell['E']} | {cell['A']} | {cell['B']} | {cell['alpha']} | {cell['beta']} | "
                 f"{a3['n_points']} | {d_opt / n_opt:.1f} (at C = {C:.2e}) |")
    L += [""]
    for v, f in fits.items():
        L += [f"- `{v}`: " + "; ".join(_other_approaches(f))]
        plot_fit(variants[v], f, out / f"fit_{v}.png", f"{v}: fitted L(N, D)")
    return L + [""]


def _other_approaches(f: dict[str, Any]) -> list[str]:
    extra = []
    a1, a2 = f.get("approach1"), f.get("approach2")
    extra.append(f"approach1: N_opt ~ C^{a1['N_opt']['exponent']:.2f}, D_opt ~ C^{a1['D_opt']['exponent']:.2f}"
                 if a1 else "approach1: the grid does not allow it")
    if a2:
        ci = {k: a2[k].get("ci95", [math.nan, math.nan]) for k in ("N_opt", "D_opt")}
        levels = ", ".join(f"C = {c:.2g}: N_opt {n:,.0f}, {d / n:.0f} tokens/parameter" for c, n, d in a2["levels"])
        extra.append(f"approach2 (IsoFLOP profiles at {len(a2['levels'])} compute budgets: {levels}): "
                     f"N_opt ~ C^{a2['N_opt']['exponent']:.2f} (95 % CI {ci['N_opt'][0]:.2f} .. {ci['N_opt'][1]:.2f}), "
                     f"D_opt ~ C^{a2['D_opt']['exponent']:.2f} (95 % CI {ci['D_opt'][0]:.2f} .. {ci['D_opt'][1]:.2f}; "
                     f"{a2.get('resamples', 0)} of {a2.get('bootstrap', 0)} seed resamples gave profiles)")
    else:
        extra.append("approach2: fewer than two compute budgets have an IsoFLOP profile with its minimum inside its "
                     "sizes")
    for k, d in f.get("kaplan", {}).items():
        extra.append(f"Kaplan {k}: exponent {d['exponent']:.3f}")
    if f.get("approach3_effective_data"):
        e = f["approach3_effective_data"]["params"]
        extra.append(f"with repeated-epoch points and Muennighoff effective data (the paper's R_D* = 15.4): "
                     f"alpha {e['alpha']:.3g}, beta {e['beta']:.3g}, E {e['E']:.3g}")
    if f.get("data_constrained"):
        extra.append(_constrained_line(f["data_constrained"]))
    if f.get("e_profile"):
        extra.append(e_profile_line(f["e_profile"]))
    return extra


def e_profile_line(profile: list[dict[str, Any]], moves: float = 0.2) -> str:
    """Approach 3 at each assumed E, and which exponents the assumption sets: one whose estimate
    changes by more than `moves` (relative) over the priors is the prior's, not the points'."""
    Es = ", ".join(f"{p['E']:.2f}" for p in profile)
    fracs = ", ".join(f"{p['fraction']:g}" for p in profile)
    parts, verdict = [], []
    for k in ("alpha", "beta"):
        vals = [p["params"][k] for p in profile]
        parts.append(f"{k} " + ", ".join(f"{p['params'][k]:.3g} [{p['ci95'][k][0]:.3g}, {p['ci95'][k][1]:.3g}]"
                                         for p in profile))
        verdict.append(f"{k} follows the prior, not the points" if max(vals) - min(vals) > moves * min(vals)
                       else f"{k} barely moves: the points set it")
    return (f"E not identified, so approach 3 with E fixed at {Es} nats ({fracs} of the lowest loss: priors, "
            f"not results): {'; '.join(parts)}. So {', and '.join(verdict)}")


def _constrained_line(dc: dict[str, Any]) -> str:
    """The data-constrained law's R* fitted on this sweep's repeated-epoch points."""
    if "error" in dc:
        return f"data-constrained law (Muennighoff et al.): not fitted ({dc['error']})"
    parts = []
    for k in ("R_D*", "R_N*"):
        lo, hi = dc["ci95"][k]
        parts.append(f"{k} not identified by these points" if k in dc["unidentified"]
                     else f"{k} {dc['params'][k]:.3g} (95 % CI {lo:.3g} .. {hi:.3g})")
    return (f"data-constrained law (Muennighoff et al.) on {dc['n_points']} points with the single-epoch law "
            f"above as its base: " + ", ".join(parts) + " (the paper: 15.4 and 5.3)")


def _plots_section(variants: dict[str, list[dict[str, Any]]], fits: dict[str, dict[str, Any]],
                   facts: dict[str, Any], out: Path) -> list[str]:
    plots.overlay({v: variants[v] for v in variants if len({r["D"] for r in an.one_epoch(variants[v])}) >= 2}, fits,
                  out / "loss_vs_tokens.png")
    L = ["## Plots", "", "Loss against tokens per model size, variants overlaid (band: seed min..max; dashed: the "
         "variant's fitted law):", "", "![loss vs tokens](loss_vs_tokens.png)", ""]
    dose = [d for k, x in facts.items() if k.startswith("dose_response_") for d in x]
    if dose:
        plots.dose(dose, out / "dose_response.png")
        L += ["![dose-response](dose_response.png)", ""]
    worth = [w for k, x in facts.items() if k.startswith("repeat_value_") for w in x]
    if facts.get("repeat_or_dirtier") or worth:
        plots.repeat(facts.get("repeat_or_dirtier", []), worth, dose, out / "repeat_or_dirtier.png")
        L += ["![repeat or add dirtier data](repeat_or_dirtier.png)", ""]
    return L


def overfitting_table(rows: list[dict[str, Any]]) -> list[str]:
    """Per cell, means over seeds: training and validation loss, the gap, and memorisation."""
    L = ["## Overfitting and memorisation (means over seeds)", "",
         "| variant | budget | N | epochs | seeds | train loss | val loss | gap | memorised windows |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("train_loss") is not None:
            groups[(r["variant"], r["budget"], r["N"], round(r["epochs"], 1))].append(r)
    for (v, b, n, e), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[1][0]["unique"], kv[0][2], kv[0][3])):
        m = lambda k: float(np.mean([r[k] or 0 for r in rs]))  # noqa: E731
        L.append(f"| {v} | {b} | {n:,.0f} | {e:g} | {len(rs)} | {m('train_loss'):.3f} | {m('loss'):.3f} | "
                 f"{m('gap'):+.3f} | {100 * m('memorized'):.0f} % |")
    return L + [""]


def _fit_from(a3: dict[str, Any]):
    from training.fit import ChinchillaFit

    return ChinchillaFit(a3["params"], {k: tuple(v) for k, v in a3["ci95"].items()}, a3["n_points"], a3["bootstrap"])
