"""The sweep's findings in plain words, each with its interval, and what the sweep cannot resolve.

Every sentence is built from `training.analysis`'s comparisons over result rows; `report` lays
them out with the fits and plots.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from training import analysis as an


def ci_words(lo: float, hi: float, fmt: str = "+.3f") -> str:
    return f"95 % CI {lo:{fmt}} .. {hi:{fmt}}"


def nats(d: dict[str, float]) -> str:
    """A paired difference (mean, lo, hi) in nats with its interval."""
    return f"{d['mean']:+.3f} nats ({ci_words(d['lo'], d['hi'])})"


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
                 f"({ci_words(d['lo'], d['hi'], '+.4f')}, {ref} minus {v}; bootstrap over cells and seeds).")
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
                 f"(repeat minus mix {c['difference']:+.3f}, {ci_words(*c['ci'])}).")
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
        if (se := an.size_effect(rows, v)) is not None:
            L.append(_size_effect_words(v, se))
            # a finding `report --against` compares: same side of 0 (or within noise) in both runs
            facts[f"size_effect_change_{v}"] = {"mean": se["change"], "lo": se["change_ci"][0],
                                                "hi": se["change_ci"][1]}
        if (sc := an.size_curvature(rows, v)) is not None:
            L.append(_size_curvature_words(v, sc))
            facts[f"size_curvature_{v}"] = {"mean": sc["bend"], "lo": sc["bend_ci"][0], "hi": sc["bend_ci"][1]}
    for c in facts.get("repeat_or_dirtier", []):
        if c["ci"][0] <= 0 <= c["ci"][1]:
            L.append(f"Repeat or dirtier at N = {c['N']:,.0f}, {c['epochs']:g} epochs: the interval spans 0.")
    return L


def _size_effect_words(v: str, se: dict[str, Any]) -> str:
    """Whether the size effect holds still over the budgets, as the additive law assumes."""
    (b0, b1), (g0, g1), (c0, c1) = se["budgets"], se["gain"], se["gain_ci"]
    lo, hi = se["change_ci"]
    gains = (f"the largest size (N = {se['large']:,.0f}) is ahead of the smallest (N = {se['small']:,.0f}) by "
             f"{g0:.3f} [{c0[0]:.3f}, {c0[1]:.3f}] nats at {b0} and {g1:.3f} [{c1[0]:.3f}, {c1[1]:.3f}] at {b1} "
             f"(change {se['change']:+.3f}, {ci_words(lo, hi)})")
    if lo <= 0 <= hi:
        return (f"Size and data in `{v}`: {gains}: constant within noise, as the additive law "
                "E + A/N^alpha + B/D^beta assumes; this grid does not test its form further.")
    way = "grows" if lo > 0 else "shrinks"
    return (f"Size and data in `{v}`: the size effect {way} with tokens: {gains}. The additive law "
            "E + A/N^alpha + B/D^beta holds that gap fixed at every D, so its form does not fit this "
            "range: its E and alpha describe the misfit, not an irreducible loss and a size exponent. "
            "Identifying them needs a law in which size and data interact, or models and budgets past "
            "this data-limited regime.")


def _size_curvature_words(v: str, sc: dict[str, Any]) -> str:
    """Whether the loss bends in ln N the way the law's size term can."""
    (g1, g2), (lo, hi) = sc["gain_per_efold"], sc["bend_ci"]
    small, mid, large = (f"{n:,.0f}" for n in sc["sizes"])
    gains = (f"per e-fold of N the loss falls {g1:.3f} nats from N = {small} to {mid} and {g2:.3f} from {mid} "
             f"to {large} (mean over {', '.join(sc['budgets'])}; bend {sc['bend']:+.3f}, {ci_words(lo, hi)})")
    if hi < 0 or lo <= 0:
        shape = "convex in ln N" if hi < 0 else "straight in ln N within noise"
        return f"Size curvature in `{v}`: {gains}: {shape}, a shape the law's A/N^alpha can take."
    return (f"Size curvature in `{v}`: {gains}. The step between the larger sizes gains more, while "
            "A/N^alpha gains less per e-fold the larger N is, for any alpha > 0: no alpha follows these "
            "sizes, so the fit sends alpha towards 0 and E and A trade against each other. Where the sizes "
            "differ in depth and width as well as in N, this grid cannot tell an effect of their shape from "
            "one of their size.")
