"""The scaling report: findings with intervals in plain words, fits per data variant, plots.

Reads only result JSONs (or a CSV table), so `corpusprep report` rebuilds everything without
training. Every number in the report comes from the runs, from fits to them, or from the shards
manifest facts each result carries (composition, validation overlap); the comparisons live in
`training.analysis`, the plots in `training.plots`.
"""
from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import atomic
from training import analysis as an
from training import plots
from training.fit import FitError, effective_data, fit_all, fit_chinchilla
from training.sparse_and_retrieval import knnlm_section, moe_section


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
    """The points of a CSV with columns N, D, loss (and optionally variant, unique); a value that
    is not a number is a FitError naming its line and column (an empty or nan loss is a point
    that did not train)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise FitError(f"{path}: cannot be read as a CSV ({e})") from None
    if not rows or not {"N", "D", "loss"} <= set(rows[0]):
        raise FitError(f"{path}: needs columns N, D, loss (and optionally variant)")

    def number(r: dict[str, str], key: str, line: int, missing: float | None = None) -> float:
        value = (r.get(key) or "").strip()
        if missing is not None and value in ("", "nan"):
            return missing
        try:
            return float(value)
        except ValueError:
            raise FitError(f"{path} line {line}: {key} = {value!r} is not a number") from None

    return [{"N": number(r, "N", i), "D": number(r, "D", i), "loss": number(r, "loss", i, math.nan),
             "variant": r.get("variant", ""), "unique": number(r, "unique", i, number(r, "D", i)), "epochs": 1.0}
            for i, r in enumerate(rows, 2)]


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


def _ci(lo: float, hi: float, fmt: str = "+.3f") -> str:
    return f"95 % CI {lo:{fmt}} .. {hi:{fmt}}"


def _size_names(rows: list[dict[str, Any]]) -> dict[float, str]:
    return {n: f"N = {n:,.0f}" for n in sorted({r["N"] for r in rows})}


def explain_variants(rows: list[dict[str, Any]], a: str, b: str) -> list[str]:
    """Why `a` and `b` differ, from what their budgets hold and where their training loss is low."""
    L = []
    big = [r for r in an.one_epoch(rows) if r["variant"] == a]
    if not big:
        return L
    nmax, dmax = max(r["N"] for r in big), max(r["D"] for r in big)
    top = [r for r in big if r["N"] == nmax and r["D"] == dmax]
    comp = top[0]["data"].get("composition") or {}
    total = sum(comp.values()) or 1
    dropped = {k: v for k, v in comp.items() if k != "kept"}
    if dropped:
        L.append(f"What `{a}` holds that `{b}` does not: of its {top[0]['budget']} budget, "
                 + ", ".join(f"{100 * v / total:.1f} % in documents the {k} "
                             f"stage drops" for k, v in sorted(dropped.items()))
                 + f"; {100 * comp.get('kept', 0) / total:.1f} % is text `{b}` also has.")
    gaps = {v: float(np.mean([r["gap"] for r in an.one_epoch(rows)
                              if r["variant"] == v and r["gap"] is not None] or [math.nan]))
            for v in (a, b)}
    src: dict[str, list[float]] = defaultdict(list)
    for r in top:
        for k, x in r["by_source"].items():
            src[k].append(x)
    if src:
        val = float(np.mean([r["loss"] for r in top]))
        parts = ", ".join(f"{k} {np.mean(x):.2f}" for k, x in sorted(src.items()))
        easiest = min(src, key=lambda k: np.mean(src[k]))
        L.append(f"Train-validation gap after one epoch, mean over all cells: `{a}` {gaps[a]:+.3f}, `{b}` "
                 f"{gaps[b]:+.3f} nats. "
                 f"Where it comes from ({a}, N = {nmax:,.0f}, {top[0]['budget']}): the model's loss on its "
                 f"training text "
                 f"by the stage that drops each document is {parts} (validation: {val:.2f}). "
                 + (f"Text the `{easiest}` stage drops is far easier to predict than the rest: "
                    f"so `{a}`'s low training loss is that text's, not memorised validation-like text."
                    if easiest != "kept" and np.mean(src[easiest]) < np.mean(src.get("kept", [val])) - 0.2 else
                    "No kind of text is much easier than the rest."))
    ov = {v: r["data"].get("validation_overlap_13gram") for v in (a, b)
          for r in rows if r["variant"] == v and r["data"].get("validation_overlap_13gram") is not None}
    if ov:
        L.append("Validation leakage is not the cause: validation 13-grams found in 1 to 10 training documents of "
                 "the largest budget: " + ", ".join(f"`{v}` {100 * x:.2f} %" for v, x in ov.items()) + ".")
    return L


def findings(variants: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """The summary's findings in plain words, and the numbers behind them (for fits.json)."""
    facts: dict[str, Any] = {}
    main = [v for v, rs in variants.items() if len({r["D"] for r in an.one_epoch(rs)}) >= 2 and not rs[0].get("mix")]
    ref = "raw" if "raw" in main else (main[0] if main else None)
    L = _size_findings(rows, facts) + _variant_findings(rows, main, ref, facts) + _dose_findings(rows, facts)
    L += _repeat_findings(rows, facts) + _consistency_findings(variants, main, ref, facts)
    L += _repeat_value_findings(rows, facts)
    return L, facts


def _size_findings(rows: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """Does the larger model win at equal tokens?"""
    L: list[str] = []
    lw = an.larger_wins(rows)
    facts["larger_wins"] = lw
    if lw["pairs"]:
        L.append(f"Model size: at equal tokens and one epoch, the larger model of a pair has the lower validation loss "
                 f"(mean over seeds) in {lw['wins']} of {lw['pairs']} (smaller, larger) pairs within each (variant, "
                 f"budget) "
                 f"({100 * lw['share']:.0f} %)" + ("." if not lw["exceptions"] else "; exceptions: " + "; ".join(
                     f"`{e['variant']}` {e['budget']}: N = {e['larger']:,.0f} {e['loss_larger']:.3f} vs "
                     f"N = {e['smaller']:,.0f} {e['loss_smaller']:.3f}" for e in lw["exceptions"]) + "."))
    return L


def _variant_findings(rows: list[dict[str, Any]], main: list[str], ref: str | None, facts: dict[str, Any]) -> list[str]:
    """Each variant against the reference, at equal tokens, with an interval."""
    L: list[str] = []
    for v in main:
        if v == ref:
            continue
        d = an.variant_difference(rows, ref, v)
        if d is None:
            continue
        facts[f"difference_{ref}_minus_{v}"] = d
        verdict = "beats" if d["lo"] > 0 else "is worse than" if d["hi"] < 0 else "is within noise of"
        L.append(f"At equal tokens, `{v}` {verdict} `{ref}`: it has the lower validation loss (mean over seeds) in "
                 f"{d['wins_b']} of {d['cells']} (model size, budget) cells; mean loss difference {d['mean']:+.4f} "
                 f"({_ci(d['lo'], d['hi'], '+.4f')}, {ref} minus {v}; bootstrap over cells and seeds).")
        L += explain_variants(rows, ref, v)
    return L


def _dose_findings(rows: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """The quality dose-response of each mix base: loss by dropped share, and what a dropped token is worth."""
    L: list[str] = []
    bases = sorted({r["mix"]["base"] for r in rows if r.get("mix")})
    for base in bases:
        dose = an.dose_response(rows, base)
        facts[f"dose_response_{base}"] = dose
        mono = an.monotone_in_share(dose)
        for n in sorted({d["N"] for d in dose}):
            ds = sorted((d for d in dose if d["N"] == n), key=lambda d: d["share"])
            seq = ", ".join(f"{100 * d['share']:.0f} % {d['loss']:.3f} [{d['loss_ci'][0]:.3f}, "
                            f"{d['loss_ci'][1]:.3f}]" for d in ds)
            mult = "; ".join(f"`{d['variant']}` {d['multiplier']:.2f} [{d['multiplier_ci'][0]:.2f}, "
                             f"{d['multiplier_ci'][1]:.2f}]"
                             for d in ds if d["share"] > 0)
            worth = [d for d in ds if d["share"] > 0]
            L.append(f"Quality dose-response (`{base}` with dropped text at equal tokens, N = {n:,.0f}): "
                     f"validation loss "
                     f"by dropped "
                     f"share {seq}: " + ("rises with every step" if mono[n] else "does NOT rise with every step "
                     "(see the intervals: neighbouring shares overlap)") + f". Effective-data multiplier (clean tokens "
                     f"one token of the variant is worth, 95 % CI): {mult}. One dropped token is worth "
                     + ", ".join(f"{d['dropped_token_worth']:.2f} [{d['dropped_token_worth_ci'][0]:.2f}, "
                                 f"{d['dropped_token_worth_ci'][1]:.2f}]" for d in worth)
                     + " clean tokens (0 = useless, < 0 = harmful).")
    return L


def _repeat_findings(rows: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """Repeat the clean data, or add dirtier data? Per comparison, then the answer for the sweep's range."""
    L: list[str] = []
    choice = an.repeat_or_dirtier(rows)
    facts["repeat_or_dirtier"] = choice
    for c in choice:
        verdict = ("adding the dirtier data is better" if c["ci"][0] > 0 else
                   "repeating the clean data is better" if c["ci"][1] < 0 else "the two are within noise")
        L.append(f"Repeat or add dirtier data (N = {c['N']:,.0f}, U = {c['unique']:,.0f} clean tokens, "
                 f"D = {c['seen']:,.0f} tokens seen): {c['epochs']:g} epochs of `{c['base']}` reach "
                 f"{c['loss_repeat']:.3f}, "
                 f"`{c['mix']}` (the same clean tokens plus fresh dropped ones) {c['loss_mix']:.3f}: {verdict} "
                 f"(repeat minus mix {c['difference']:+.3f}, {_ci(*c['ci'])}).")
    if choice:
        better = sum(c["difference"] < 0 for c in choice)
        sure = sum(c["ci"][1] < 0 for c in choice)
        worse = sum(c["ci"][0] > 0 for c in choice)
        L.append(f"Answer for this sweep's range (U = {min(c['unique'] for c in choice):,.0f} to "
                 f"{max(c['unique'] for c in choice):,.0f} clean tokens, {min(c['epochs'] for c in choice):g} to "
                 f"{max(c['epochs'] for c in choice):g} epochs): repeating the clean data has the lower loss in "
                 f"{better} of "
                 f"{len(choice)} comparisons ({sure} with an interval below 0), adding the dirtier data in "
                 f"{len(choice) - better} ({worse} with an interval above 0)"
                 + (": repeat the clean data." if sure and not worse else
                    ": add the dirtier data." if worse and not sure else ": no clear answer."))
    return L


def _consistency_findings(variants: dict[str, list[dict[str, Any]]], main: list[str], ref: str | None,
                          facts: dict[str, Any]) -> list[str]:
    """Do the variants' compositions agree with the dose-response's worth of a dropped token?"""
    L: list[str] = []
    dose_all = [d for k, x in facts.items() if k.startswith("dose_response_") for d in x if d["share"] > 0]
    if dose_all and ref and main:
        for v in main:
            largest = max(an.one_epoch(variants[v]), key=lambda r: r["unique"])
            comp = largest["data"].get("composition") or {}
            total = sum(comp.values())
            if total and comp.get("kept", total) < total:
                x = 1 - comp.get("kept", 0) / total
                w = float(np.mean([d["dropped_token_worth"] for d in dose_all]))
                L.append(f"Consistency: {100 * x:.0f} % of `{v}`'s {largest['budget']} budget is text the stages "
                         f"drop; at the dose-response's "
                         f"mean worth of a dropped token ({w:.2f} clean tokens), a `{v}` token should be worth about "
                         f"{(1 - x) + x * w:.2f} clean tokens (the mixes hold no decontamination drops, which "
                         f"`{v}` does).")
    return L


def _repeat_value_findings(rows: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """What a repeated token of each repeated variant is worth in fresh ones (Muennighoff's R*)."""
    L: list[str] = []
    for tier in sorted({r["variant"] for r in rows if r["epochs"] > an.ONE_EPOCH}):
        rv = an.repeat_value(rows, tier)
        facts[f"repeat_value_{tier}"] = rv
        if rv:
            L.append(f"Value of repeated `{tier}` tokens (in fresh `{tier}` tokens, from its own one-epoch "
                     f"curve at the "
                     "same size; Muennighoff's R*, small = decays fast): " + "; ".join(
                         f"N = {w['N']:,.0f}, {w['epochs']:g} epochs of {w['budget']}: worth {w['repeat_worth']:.2f} "
                         f"[{w['repeat_worth_ci'][0]:.2f}, {w['repeat_worth_ci'][1]:.2f}], R* {w['r_star']:.2g} "
                         f"[{w['r_star_ci'][0]:.2g}, {w['r_star_ci'][1]:.2g}]" for w in rv) + ".")
    return L


def cannot_resolve(rows: list[dict[str, Any]], facts: dict[str, Any], fits: dict[str, Any]) -> list[str]:
    per_cell = Counter((r["variant"], r.get("budget"), r["N"], r["D"], round(r["epochs"], 1)) for r in rows).values()
    seeds = f"{min(per_cell)}" if min(per_cell) == max(per_cell) else f"{min(per_cell)} to {max(per_cell)}"
    L = [f"Single cells: with {seeds} seed(s) a point, a per-cell difference has no interval of its own; only "
         "differences pooled over cells, or bootstrapped over seeds, are findings.",
         f"Scale: models of {min(r['N'] for r in rows):,.0f} to {max(r['N'] for r in rows):,.0f} non-embedding "
         f"parameters and {min(r['D'] for r in rows):,.0f} to {max(r['D'] for r in rows):,.0f} tokens; nothing here "
         "says how the answers change beyond that range (the GPU preset goes further)."]
    for v, f in fits.items():
        a3 = f["approach3"]
        wide = [k for k, (lo, hi) in a3["ci95"].items() if lo > 0 and hi / lo > 100]
        if a3["params"]["E"] < 0.5 or wide:
            L.append(f"The `{v}` law is poorly constrained (E = {a3['params']['E']:.3g}"
                     + (f"; intervals over 100x wide: {', '.join(wide)}" if wide else "")
                     + "): losses are far above the irreducible term, so its extrapolations (optimum, tokens "
                     "needed) are indicative only.")
    for c in facts.get("repeat_or_dirtier", []):
        if c["ci"][0] <= 0 <= c["ci"][1]:
            L.append(f"Repeat or dirtier at N = {c['N']:,.0f}, {c['epochs']:g} epochs: the interval spans 0.")
    return L


def build_report(rows: list[dict[str, Any]], out: str | Path, bootstrap: int = 100,
                 lr_search: dict[str, Any] | None = None, knnlm: list[dict[str, Any]] | None = None) -> Path:
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
    L += ["## What this sweep cannot resolve", ""] + [f"- {s}" for s in cannot_resolve(rows, facts, fits)] + [""]
    L += _lr_section(lr_search) + _sizes_section(rows) + _fits_section(fits, variants, out)
    L += _plots_section(variants, fits, facts, out)
    if moe_rows:
        L += moe_section(rows, moe_rows, out)
    L += knnlm_section(knnlm or [], out)
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
    return ["## Learning rates", "", head, ""] + table + [
        f"| {k} | {v:g} | {losses.get(k) or ('searched' if s else 'fixed')} |"
        for k, v in lr_search["chosen"].items()
    ] + [""]


def _sizes_section(rows: list[dict[str, Any]]) -> list[str]:
    sizes = sorted({(r["N"], r["N_total"]) for r in rows})
    return ["## Model sizes", "", "N in the fits and the text is non-embedding parameters (Kaplan et al.); with "
            "embeddings (tied input and output) for comparison:", "",
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
    for k in ("approach1", "approach2"):
        extra.append(f"{k}: N_opt ~ C^{f[k]['N_opt']['exponent']:.2f}, D_opt ~ C^{f[k]['D_opt']['exponent']:.2f}"
                     if f.get(k) else f"{k}: the grid does not allow it")
    for k, d in f.get("kaplan", {}).items():
        extra.append(f"Kaplan {k}: exponent {d['exponent']:.3f}")
    if f.get("approach3_effective_data"):
        e = f["approach3_effective_data"]["params"]
        extra.append(f"with repeated-epoch points and Muennighoff effective data: alpha {e['alpha']:.3g}, "
                     f"beta {e['beta']:.3g}, E {e['E']:.3g}")
    return extra


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
