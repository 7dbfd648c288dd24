"""The study's comparisons, each with a 95 % interval: variant differences, model-size order,
the quality dose-response (effective-data multipliers) and repeating versus adding dirtier data.

Rows are plain dicts (`training.report.table_from_results`): variant, budget, N, D, loss, epochs,
unique, seed, mix. Intervals come from a bootstrap: seed-to-seed noise is one standard deviation
pooled over every cell of the sweep that has two or more seeds (a percentile bootstrap over two
or three seeds of one cell would be far too narrow), each cell's mean is redrawn with it, and
where a comparison pools cells, the cells are resampled too.

Effective data is read off the clean variant's own measured curve at the same model size: a
least-squares line of loss against log tokens over its one-epoch budgets. Inside the sweep's
range that line fits to within seed noise; outside it the report does not extrapolate.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Callable

import numpy as np

ONE_EPOCH = 1.05  # runs at most this many epochs count as single-epoch


def cells(rows: list[dict[str, Any]]) -> dict[tuple, list[float]]:
    """Losses per (variant, budget, N, epochs rounded), over seeds."""
    out: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        out[(r["variant"], r["budget"], r["N"], round(r["epochs"], 1))].append(r["loss"])
    return dict(out)


def one_epoch(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["epochs"] <= ONE_EPOCH]


def _interval(samples: list[float]) -> tuple[float, float]:
    if not samples:
        return math.nan, math.nan
    return float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))


def pooled_sd(groups: list[list[float]]) -> float:
    """Seed-to-seed standard deviation pooled over groups of two or more values (0 if none)."""
    many = [np.asarray(g, float) for g in groups if len(g) >= 2]
    dof = sum(len(g) - 1 for g in many)
    return float(math.sqrt(sum(((g - g.mean()) ** 2).sum() for g in many) / dof)) if dof else 0.0


def seed_noise(rows: list[dict[str, Any]]) -> float:
    """The sweep's seed-to-seed standard deviation of validation loss, pooled over its cells."""
    return pooled_sd(list(cells(rows).values()))


def paired_difference(pairs: list[tuple[list[float], list[float]]], sigma: float | None = None,
                      boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Mean over cells of mean(a) - mean(b), with a bootstrap interval: cells resampled, each
    cell's two means redrawn with the seed noise `sigma` (pooled over the pairs when not given)."""
    rng = np.random.default_rng(seed)
    a = [np.asarray(x, float) for x, _ in pairs]
    b = [np.asarray(y, float) for _, y in pairs]
    sd = pooled_sd([*a, *b]) if sigma is None else sigma
    diff = np.array([x.mean() - y.mean() for x, y in zip(a, b)])
    se = np.array([sd * math.sqrt(1 / len(x) + 1 / len(y)) for x, y in zip(a, b)])
    mean = float(diff.mean())
    samples = []
    for _ in range(boot):
        idx = rng.integers(0, len(pairs), len(pairs))
        samples.append(float(np.mean(diff[idx] + se[idx] * rng.standard_normal(len(idx)))))
    lo, hi = _interval(samples)
    return {"mean": mean, "lo": lo, "hi": hi, "cells": len(pairs),
            "wins_b": int(sum(x.mean() > y.mean() for x, y in zip(a, b)))}


def variant_difference(rows: list[dict[str, Any]], a: str, b: str) -> dict[str, float] | None:
    """Loss of `a` minus loss of `b` at equal model size and budget (one epoch): > 0 means b is better."""
    c = cells(one_epoch(rows))
    pairs = [(c[k], c[(b,) + k[1:]]) for k in c if k[0] == a and (b,) + k[1:] in c]
    return paired_difference(pairs, seed_noise(rows)) if pairs else None


def larger_wins(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Within every (variant, budget) at one epoch: of all (smaller, larger) size pairs, how often
    the larger has the lower mean validation loss over seeds; and the pairs where it does not."""
    c = cells(one_epoch(rows))
    groups: dict[tuple, dict[float, float]] = defaultdict(dict)
    for (v, b, n, _), losses in c.items():
        groups[(v, b)][n] = float(np.mean(losses))
    wins, total, losses_ = 0, 0, []
    for (v, b), by_n in sorted(groups.items()):
        ns = sorted(by_n)
        for i, small in enumerate(ns):
            for large in ns[i + 1:]:
                total += 1
                if by_n[large] < by_n[small]:
                    wins += 1
                else:
                    losses_.append({"variant": v, "budget": b, "smaller": small, "larger": large,
                                    "loss_smaller": by_n[small], "loss_larger": by_n[large]})
    return {"wins": wins, "pairs": total, "share": wins / total if total else math.nan, "exceptions": losses_}


def _budget_cells(rows: list[dict[str, Any]], variant: str) -> tuple[dict[tuple, list[float]], dict[str, float]]:
    """The variant's one-epoch losses per (budget, N), over seeds; and its budgets' tokens, in
    order of tokens."""
    c = {(b, n): x for (v, b, n, _), x in cells(one_epoch(rows)).items() if v == variant}
    tokens = {r["budget"]: r["D"] for r in one_epoch(rows) if r["variant"] == variant}
    return c, dict(sorted(tokens.items(), key=lambda kv: kv[1]))


def size_effect(rows: list[dict[str, Any]], variant: str) -> dict[str, Any] | None:
    """How much the largest size gains over the smallest at the variant's smallest and largest
    budget (one epoch), and the change between them, with normal 95 % intervals from the sweep's
    pooled seed noise. Chinchilla's additive law E + A/N^alpha + B/D^beta holds this gain fixed
    at every D, so a change that excludes 0 says the law's form does not fit the grid: then its
    fitted E and alpha describe the misfit (E runs to 0 and alpha to ~0 where small budgets show
    no size effect) rather than an irreducible loss and a size exponent. None without two budgets
    that both hold the smallest and the largest size, or without a cell of two or more seeds (no
    seed noise to set an interval with)."""
    c, tokens = _budget_cells(rows, variant)
    sizes = {n for _, n in c}
    if len(sizes) < 2:
        return None
    small, large = min(sizes), max(sizes)
    both = [b for b in tokens if (b, small) in c and (b, large) in c]
    if len(both) < 2:
        return None
    sd = seed_noise(rows)
    if sd == 0:
        return None

    def gain(b: str) -> tuple[float, float]:
        x, y = c[(b, small)], c[(b, large)]
        return float(np.mean(x) - np.mean(y)), sd * math.sqrt(1 / len(x) + 1 / len(y))

    (g0, s0), (g1, s1) = gain(both[0]), gain(both[-1])
    se = math.hypot(s0, s1)
    return {"small": small, "large": large, "budgets": (both[0], both[-1]),
            "gain": (g0, g1), "gain_ci": ((g0 - 1.96 * s0, g0 + 1.96 * s0), (g1 - 1.96 * s1, g1 + 1.96 * s1)),
            "change": g1 - g0, "change_ci": (g1 - g0 - 1.96 * se, g1 - g0 + 1.96 * se)}


def size_curvature(rows: list[dict[str, Any]], variant: str) -> dict[str, Any] | None:
    """How the size effect bends in ln N: per one-epoch budget holding three or more sizes, the
    loss gained per e-fold of N from the smallest size to the median one and from the median to
    the largest, and their difference (the bend); the bends' mean over those budgets, with a
    normal 95 % interval from the pooled seed noise. The law's term A/N^alpha (alpha > 0) gains
    less per e-fold the larger N is, so a bend above 0 (the larger step gaining more) is a shape
    no alpha can follow: a fit then sends alpha to ~0 and lets E and A trade. None without such a
    budget or without seed replicates."""
    c, tokens = _budget_cells(rows, variant)
    sd = seed_noise(rows)
    if sd == 0:
        return None
    per_budget = []
    for b in tokens:
        ns = sorted(n for bb, n in c if bb == b)
        if len(ns) < 3:
            continue
        small, mid, large = ns[0], ns[len(ns) // 2], ns[-1]
        ls, lm, ll = (float(np.mean(c[(b, n)])) for n in (small, mid, large))
        k1, k2 = math.log(mid / small), math.log(large / mid)
        var = sd ** 2 * (1 / (k1 ** 2 * len(c[(b, small)])) + (1 / k1 + 1 / k2) ** 2 / len(c[(b, mid)])
                         + 1 / (k2 ** 2 * len(c[(b, large)])))
        per_budget.append((b, (small, mid, large), (ls - lm) / k1, (lm - ll) / k2, var))
    if not per_budget:
        return None
    k = len(per_budget)
    g1, g2 = (sum(x[i] for x in per_budget) / k for i in (2, 3))
    se = math.sqrt(sum(x[4] for x in per_budget)) / k
    return {"budgets": [x[0] for x in per_budget], "sizes": per_budget[-1][1], "gain_per_efold": (g1, g2),
            "bend": g2 - g1, "bend_ci": (g2 - g1 - 1.96 * se, g2 - g1 + 1.96 * se)}


# --- effective data ---------------------------------------------------------------------------------
def loss_curve(rows: list[dict[str, Any]]) -> tuple[float, float] | None:
    """(c0, c1) of loss = c0 + c1 ln D by least squares (needs two distinct D); c1 < 0 when more
    tokens help."""
    D = np.array([r["D"] for r in rows], float)
    L = np.array([r["loss"] for r in rows], float)
    if len(np.unique(D)) < 2:
        return None
    c1, c0 = np.polyfit(np.log(D), L, 1)
    return float(c0), float(c1)


def effective_tokens(curve: tuple[float, float], loss: float) -> float:
    """Clean tokens at which the clean curve reaches `loss`."""
    c0, c1 = curve
    return math.exp((loss - c0) / c1) if c1 < 0 else math.nan


def _by_seed(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r.get("seed", 0)].append(r)
    return dict(out)


def _seed_bootstrap(clean: list[dict[str, Any]], points: list[dict[str, Any]],
                    stat: Callable[[list[dict[str, Any]], list[dict[str, Any]]], float], sigma: float,
                    boot: int = 1000, seed: int = 0) -> tuple[float, tuple[float, float]]:
    """stat(clean rows, point rows) on the rows, and its interval: every row's loss redrawn as its
    cell's mean plus seed noise `sigma`, independently for the clean rows and the points."""
    rng = np.random.default_rng(seed)

    def cell_means(rs: list[dict[str, Any]]) -> np.ndarray:
        c = cells(rs)
        return np.array([float(np.mean(c[(r["variant"], r["budget"], r["N"], round(r["epochs"], 1))])) for r in rs])

    mean_c, mean_p = cell_means(clean), cell_means(points)

    def redraw(rs: list[dict[str, Any]], means: np.ndarray) -> list[dict[str, Any]]:
        return [dict(r, loss=float(m)) for r, m in zip(rs, means + sigma * rng.standard_normal(len(rs)))]

    value = stat(clean, points)
    samples = []
    for _ in range(boot):
        s = stat(redraw(clean, mean_c), redraw(points, mean_p))
        if math.isfinite(s):
            samples.append(s)
    return value, _interval(samples)


def multiplier(clean: list[dict[str, Any]], point: list[dict[str, Any]], window: float = 4.0) -> float:
    """How many clean tokens one token of the point's data is worth: effective clean tokens at
    its mean loss over its tokens seen. The clean line is fitted to the clean budgets within
    `window` x of the point's tokens (all of them where fewer than two are): loss is not linear in
    ln D over a decade and more. With a 1.2M budget in the default grid beside 50K..200K, one line
    through all four put `mix25` at 200K at clean data's worth (1.03 and 1.02 clean tokens a token
    for xs and m) and two epochs of 100K above fresh tokens (1.13, 1.07); the budgets within 4x of
    200K (those of the sweep before 1.2M) give 0.78 and 0.85, and 0.59 and 0.73."""
    if not point:
        return math.nan
    seen = float(np.mean([r["D"] for r in point]))
    near = [r for r in clean if seen / window <= r["D"] <= seen * window]
    curve = loss_curve(near) or loss_curve(clean)
    if curve is None:
        return math.nan
    loss = float(np.mean([r["loss"] for r in point]))
    return effective_tokens(curve, loss) / seen


def dose_response(rows: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    """Per model size and dropped-text share (0 = the base itself at the mixes' budget): mean loss
    with its seed interval, the variant's effective-data multiplier, and what one dropped token
    is worth in clean tokens."""
    mixes = [r for r in rows if (r.get("mix") or {}).get("base") == base and r["epochs"] <= ONE_EPOCH]
    sigma = seed_noise(rows)
    out = []
    for n in sorted({r["N"] for r in mixes}):
        clean = [r for r in one_epoch(rows) if r["variant"] == base and r["N"] == n]
        for budget in sorted({r["budget"] for r in mixes if r["N"] == n}):
            per_share: dict[float, list[dict[str, Any]]] = {0.0: [r for r in clean if r["budget"] == budget]}
            for r in mixes:
                if r["N"] == n and r["budget"] == budget:
                    per_share.setdefault(r["mix"]["share"], []).append(r)
            for share, pts in sorted(per_share.items()):
                if not pts:
                    continue
                m, (lo, hi) = _seed_bootstrap(clean, pts, multiplier, sigma)
                _, (llo, lhi) = _seed_bootstrap([], pts, lambda c, p: float(np.mean([r["loss"] for r in p])), sigma)
                worth = (m - (1 - share)) / share if share else math.nan
                out.append({"N": n, "budget": budget, "share": share, "variant": pts[0]["variant"],
                            "loss": float(np.mean([r["loss"] for r in pts])), "loss_ci": [llo, lhi], "seeds": len(pts),
                            "multiplier": m, "multiplier_ci": [lo, hi],
                            "dropped_token_worth": worth,
                            "dropped_token_worth_ci": [(lo - (1 - share)) / share, (hi - (1 - share)) / share]
                            if share else [math.nan, math.nan]})
    return out


def monotone_in_share(dose: list[dict[str, Any]]) -> dict[float, bool]:
    """Per size: does the mean loss rise with every step up in dropped share?"""
    out = {}
    for n in sorted({d["N"] for d in dose}):
        seq = [d["loss"] for d in sorted((d for d in dose if d["N"] == n), key=lambda d: d["share"])]
        out[n] = all(b > a for a, b in zip(seq, seq[1:]))
    return out


# --- repetition ---------------------------------------------------------------------------------
def r_star(unique: float, seen: float, effective: float) -> float:
    """Muennighoff et al.'s decay constant R* that makes U + U R* (1 - exp(-R/R*)) equal the
    effective tokens, R = seen/U - 1 repetitions: small R* = repeated tokens lose value fast.
    0 when the repeats were worth nothing, inf when they were worth fresh tokens."""
    R = seen / unique - 1
    gain = (effective - unique) / unique
    if not math.isfinite(gain) or R <= 0:
        return math.nan
    if gain <= 0:
        return 0.0
    if gain >= R:
        return math.inf
    lo, hi = 1e-6, 1e6  # gain(R*) = R* (1 - exp(-R/R*)) rises from 0 to R
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if mid * (1 - math.exp(-R / mid)) < gain:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def repeat_value(rows: list[dict[str, Any]], tier: str) -> list[dict[str, Any]]:
    """Repeated-epoch runs of a tier against the tier's own one-epoch curve at the same size:
    what a repeated token is worth in fresh tokens of the tier, and R*, with seed intervals."""
    out = []
    sigma = seed_noise(rows)
    reps = [r for r in rows if r["variant"] == tier and r["epochs"] > ONE_EPOCH]
    for n in sorted({r["N"] for r in reps}):
        fresh = [r for r in one_epoch(rows) if r["variant"] == tier and r["N"] == n]
        for (b, e) in sorted({(r["budget"], round(r["epochs"], 1)) for r in reps if r["N"] == n}):
            pts = [r for r in reps if r["N"] == n and r["budget"] == b and round(r["epochs"], 1) == e]
            U = float(np.mean([r["unique"] for r in pts]))
            seen = float(np.mean([r["D"] for r in pts]))

            def worth(c: list[dict[str, Any]], p: list[dict[str, Any]]) -> float:
                m = multiplier(c, p)
                return (m * seen - U) / (seen - U)

            def rs(c: list[dict[str, Any]], p: list[dict[str, Any]]) -> float:
                return r_star(U, seen, multiplier(c, p) * seen)

            w, (wlo, whi) = _seed_bootstrap(fresh, pts, worth, sigma)
            r, (rlo, rhi) = _seed_bootstrap(fresh, pts, rs, sigma)
            out.append({"tier": tier, "N": n, "budget": b, "epochs": e, "unique": U, "seen": seen,
                        "loss": float(np.mean([p["loss"] for p in pts])), "seeds": len(pts),
                        "repeat_worth": w, "repeat_worth_ci": [wlo, whi], "r_star": r, "r_star_ci": [rlo, rhi]})
    return out


def repeat_or_dirtier(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each repeated run of a mix's base against the mix with the same clean tokens and the same
    tokens seen (share = 1 - U/D, within 2 %): loss(repeat) - loss(mix), > 0 when adding the
    dirtier data beats repeating the clean data."""
    out = []
    sigma = seed_noise(rows)
    mixes = [r for r in rows if r.get("mix") and r["epochs"] <= ONE_EPOCH]
    repeated = {(r["variant"], r["budget"], r["N"], round(r["epochs"], 1)) for r in rows if r["epochs"] > ONE_EPOCH}
    for r in sorted(repeated):
        v, b, n, e = r
        rep = [x for x in rows if (x["variant"], x["budget"], x["N"], round(x["epochs"], 1)) == r]
        U, seen = float(np.mean([x["unique"] for x in rep])), float(np.mean([x["D"] for x in rep]))
        match = [x for x in mixes if x["mix"]["base"] == v and x["N"] == n and abs(x["D"] / seen - 1) < 0.02
                 and abs(x["mix"]["share"] - (1 - U / seen)) < 0.02]
        if not match:
            continue
        d = paired_difference([([x["loss"] for x in rep], [x["loss"] for x in match])], sigma)
        out.append({"base": v, "mix": match[0]["variant"], "N": n, "unique": U, "seen": seen, "epochs": e,
                    "loss_repeat": float(np.mean([x["loss"] for x in rep])),
                    "loss_mix": float(np.mean([x["loss"] for x in match])),
                    "difference": d["mean"], "ci": [d["lo"], d["hi"]]})
    return out
