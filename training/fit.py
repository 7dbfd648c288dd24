"""Scaling-law fits on a plain table of (N, D, loss[, variant]).

- Chinchilla approach 3: L(N, D) = E + A/N^alpha + B/D^beta, fitted as Hoffmann et al. (2022) and
  the Besiroglu et al. (2024) replication did: log-sum-exp form with a = log A, b = log B,
  e = log E, Huber loss (delta = 1e-3) on log-space residuals, L-BFGS from a grid of starts;
  percentile bootstrap confidence intervals for every parameter.
- Approach 1 (the loss envelope: the best run at each compute) and approach 2 (IsoFLOP parabolas)
  give N_opt(C) and D_opt(C) power laws where the grid allows; Kaplan-style L(N) and L(D).
- Muennighoff et al. (2023): effective data for repeated epochs, D' = U + U R* (1 - exp(-R/R*)).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from pipeline.errors import UserError

PARAMS = ("E", "A", "B", "alpha", "beta")
R_STAR_DATA = 15.4  # Muennighoff et al. 2023, fitted decay constant for repeated data


class FitError(UserError, ValueError):
    """The table cannot support the fit asked for; says why."""


def effective_data(D: np.ndarray, unique: np.ndarray, r_star: float = R_STAR_DATA) -> np.ndarray:
    """Muennighoff et al.: tokens seen D over U unique tokens are worth U + U R* (1 - e^(-R/R*)),
    with R = D/U - 1 repetitions; equal to D when nothing repeats."""
    D, U = np.asarray(D, float), np.asarray(unique, float)
    R = np.maximum(D / U - 1.0, 0.0)
    return U + U * r_star * (1 - np.exp(-R / r_star))


def check_table(N: np.ndarray, D: np.ndarray, L: np.ndarray, min_points: int = 5) -> None:
    if len(N) == 0:
        raise FitError("no points to fit")
    bad = ~(np.isfinite(N) & np.isfinite(D) & np.isfinite(L))
    if bad.any():
        raise FitError(f"{int(bad.sum())} row(s) have NaN or infinite N, D or loss; remove or fix them "
                       f"(first at row {int(np.flatnonzero(bad)[0])})")
    if (N <= 0).any() or (D <= 0).any() or (L <= 0).any():
        raise FitError("N, D and loss must all be positive")
    if len(N) < min_points:
        raise FitError(f"{len(N)} points: the 5-parameter law needs at least {min_points}")
    if len(np.unique(N)) < 2:
        raise FitError("all points have the same N: alpha and A cannot be told apart from E; add model sizes")
    if len(np.unique(D)) < 2:
        raise FitError("all points have the same D: beta and B cannot be told apart from E; add token budgets")


def _objective(theta: np.ndarray, lN: np.ndarray, lD: np.ndarray, lL: np.ndarray, delta: float):
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * lN, b - beta * lD, np.full_like(lN, e)])
    top = terms.max(axis=0)  # log-sum-exp by hand: scipy's array-API wrapper costs 10x the maths
    pred = top + np.log(np.exp(terms - top).sum(axis=0))
    r = pred - lL
    absr = np.abs(r)
    quad = absr <= delta
    loss = np.where(quad, 0.5 * r ** 2, delta * (absr - 0.5 * delta)).sum()
    dr = np.where(quad, r, delta * np.sign(r))
    w = np.exp(terms - pred)  # softmax weights of the three terms
    grad = np.array([(dr * w[0]).sum(), (dr * w[1]).sum(), (dr * w[2]).sum(),
                     (dr * w[0] * -lN).sum(), (dr * w[1] * -lD).sum()])
    return loss, grad


def multistart(fun, starts: list[np.ndarray], args: tuple, *, keep: int, maxiter: int, jac: bool = False,
               bounds: list | None = None) -> np.ndarray:
    """L-BFGS(-B) from the `keep` starts with the lowest objective (screened first); the best end
    point. `fun(x, *args)` returns the objective, or (objective, gradient) with `jac`. The fits of
    this module and the data-constrained law's (training.fit_constrained) share it."""
    if len(starts) > keep:
        vals = [fun(x, *args)[0] if jac else fun(x, *args) for x in starts]
        starts = [starts[i] for i in np.argsort(vals)[:keep]]
    best, best_val = starts[0], math.inf
    for x0 in starts:
        res = minimize(fun, x0, args=args, jac=jac, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": maxiter, "gtol": 1e-12, "ftol": 1e-15})
        if res.fun < best_val:
            best, best_val = res.x, res.fun
    return best


def _fit_once(lN, lD, lL, starts, delta, keep: int = 8, maxiter: int = 2000, bounds: list | None = None
              ) -> np.ndarray:
    """Approach 3 from the grid's `keep` best starts (`bounds`: L-BFGS-B's, e.g. to fix e = log E)."""
    return multistart(_objective, starts, (lN, lD, lL, delta), keep=keep, maxiter=maxiter, jac=True, bounds=bounds)


def _resamples(lN, lD, lL, theta, delta, bootstrap: int, seed: int, bounds: list | None = None) -> list[np.ndarray]:
    """Approach 3 refitted on `bootstrap` resamples of the rows (with replacement), each from the
    full-data optimum `theta`: from there a resample converges in far fewer steps, where a
    degenerate fit (E -> 0) would otherwise spend all 2,000 iterations on a flat valley, 200 times.
    Resamples with one N or one D, and diverged fits, are left out."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(bootstrap):
        idx = rng.integers(0, len(lN), len(lN))
        if len(np.unique(lN[idx])) < 2 or len(np.unique(lD[idx])) < 2:
            continue
        t = _fit_once(lN[idx], lD[idx], lL[idx], [theta], delta, maxiter=300, bounds=bounds)
        if np.all(np.isfinite(t)) and max(t[0], t[1], t[2]) < 700:
            samples.append(t)
    return samples


def _as_params(t: np.ndarray) -> dict[str, float]:
    return {"E": float(np.exp(t[2])), "A": float(np.exp(t[0])), "B": float(np.exp(t[1])),
            "alpha": float(t[3]), "beta": float(t[4])}


GRID = list(itertools.product((0.0, 5.0, 10.0, 20.0), (0.0, 5.0, 10.0, 20.0), (-1.0, 0.0, 1.0),
                              (0.2, 0.5, 1.0), (0.2, 0.5, 1.0)))


@dataclass
class ChinchillaFit:
    params: dict[str, float]
    ci: dict[str, tuple[float, float]]
    n_points: int
    bootstrap: int
    samples: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def predict(self, N, D) -> np.ndarray:
        p = self.params
        return p["E"] + p["A"] / np.asarray(N, float) ** p["alpha"] + p["B"] / np.asarray(D, float) ** p["beta"]

    def optimum(self, C: float) -> tuple[float, float]:
        """Compute-optimal (N, D) for C = 6ND (Hoffmann et al., eq. 4)."""
        p = self.params
        a = p["beta"] / (p["alpha"] + p["beta"])
        G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
        N = G * (C / 6) ** a
        return N, C / (6 * N)

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "ci95": {k: list(v) for k, v in self.ci.items()},
                "n_points": self.n_points, "bootstrap": self.bootstrap, "samples": self.samples}


@threadpool_limits.wrap(limits=1)
def fit_chinchilla(N, D, L, *, delta: float = 1e-3, bootstrap: int = 200, seed: int = 0) -> ChinchillaFit:
    """Approach 3 with percentile bootstrap CIs (resampling rows with replacement).

    On one BLAS thread: the arrays are a few dozen points, where OpenBLAS's second thread only
    spins (the same wall time for twice the CPU, and far slower beside other work)."""
    N, D, L = (np.asarray(x, float) for x in (N, D, L))
    check_table(N, D, L)
    lN, lD, lL = np.log(N), np.log(D), np.log(L)
    theta = _fit_once(lN, lD, lL, [np.array(g) for g in GRID], delta)
    samples = _resamples(lN, lD, lL, theta, delta, bootstrap, seed)
    params = _as_params(theta)
    boot = {k: [_as_params(s)[k] for s in samples] for k in PARAMS}
    ci = {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) if v else (math.nan, math.nan)
          for k, v in boot.items()}
    return ChinchillaFit(params, ci, len(N), len(samples), boot)


@threadpool_limits.wrap(limits=1)
def e_profile(N, D, L, fractions: tuple[float, ...] = (0.25, 0.5, 0.75), *, delta: float = 1e-3,
              bootstrap: int = 50, seed: int = 0) -> list[dict[str, Any]]:
    """Approach 3 with E fixed at each fraction of the lowest loss, for a table that cannot
    identify E: which other parameters hang on the E one assumes. Where beta stays put and alpha
    moves, the points fix beta and leave alpha to the prior (a default sweep's deduped: beta
    0.453 to 0.456 and alpha 0.016, 0.024, 0.048 at E = 0.94, 1.88, 2.82, a quarter, half and
    three quarters of its lowest loss). E is a prior here, never a result: each row says what the
    law would be if E were that."""
    N, D, L = (np.asarray(x, float) for x in (N, D, L))
    check_table(N, D, L)
    lN, lD, lL = np.log(N), np.log(D), np.log(L)
    rows = []
    for frac in fractions:
        e = math.log(frac * float(L.min()))
        bounds = [(None, None), (None, None), (e, e), (None, None), (None, None)]
        starts = sorted({(g[0], g[1], e, g[3], g[4]) for g in GRID})
        theta = _fit_once(lN, lD, lL, [np.array(g) for g in starts], delta, bounds=bounds)
        samples = [_as_params(t) for t in _resamples(lN, lD, lL, theta, delta, bootstrap, seed, bounds)]
        rows.append({"E": math.exp(e), "fraction": frac, "params": _as_params(theta),
                     "ci95": {k: [float(np.percentile([s[k] for s in samples], q)) for q in (2.5, 97.5)]
                              if samples else [math.nan, math.nan] for k in ("alpha", "beta")}})
    return rows


def power_law(x, y) -> dict[str, float]:
    """y = k x^s by least squares in log space (needs >= 2 distinct x)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(np.unique(x)) < 2:
        raise FitError("a power law needs at least two distinct x values")
    s, logk = np.polyfit(np.log(x), np.log(y), 1)
    return {"k": float(math.exp(logk)), "exponent": float(s)}


def kaplan(N, D, L) -> dict[str, Any]:
    """L(N) at the largest D and L(D) at the largest N, as power laws (Kaplan et al. 2020)."""
    N, D, L = (np.asarray(x, float) for x in (N, D, L))
    out: dict[str, Any] = {}
    at_d = D == D.max()
    if len(np.unique(N[at_d])) >= 2:
        out["L_of_N"] = power_law(N[at_d], L[at_d]) | {"at_D": float(D.max())}
    at_n = N == N.max()
    if len(np.unique(D[at_n])) >= 2:
        out["L_of_D"] = power_law(D[at_n], L[at_n]) | {"at_N": float(N.max())}
    return out


def approach1(N, D, L, bins: int = 8) -> dict[str, Any] | None:
    """The loss envelope: in each log-compute bin, the run with the lowest loss; power laws of its
    N and D against C."""
    N, D, L = (np.asarray(x, float) for x in (N, D, L))
    C = 6 * N * D
    edges = np.linspace(np.log(C.min()), np.log(C.max()) + 1e-9, bins + 1)
    pts = []
    for lo, hi in zip(edges, edges[1:]):
        sel = np.flatnonzero((np.log(C) >= lo) & (np.log(C) < hi))
        if len(sel):
            i = sel[np.argmin(L[sel])]
            pts.append((C[i], N[i], D[i], L[i]))
    if len(pts) < 3 or len({p[1] for p in pts}) < 2:
        return None
    c, n, d, _ = map(np.array, zip(*pts))
    return {"points": [[float(a), float(b), float(e)] for a, b, e in zip(c, n, d)],
            "N_opt": power_law(c, n), "D_opt": power_law(c, d)}


def approach2(N, D, L, rel_width: float = 0.35) -> dict[str, Any] | None:
    """IsoFLOP profiles: runs whose compute is within rel_width (in log) of a level; a parabola
    in log N per level gives its N_opt; then power laws N_opt(C), D_opt(C)."""
    N, D, L = (np.asarray(x, float) for x in (N, D, L))
    C = 6 * N * D
    levels = np.unique(np.round(np.log(C) / rel_width))
    opt = []
    for lv in levels:
        sel = np.abs(np.log(C) / rel_width - lv) <= 0.5
        if len(np.unique(N[sel])) < 3:
            continue
        x, y = np.log(N[sel]), L[sel]
        a, b, _ = np.polyfit(x, y, 2)
        if a <= 0:
            continue
        n_opt = math.exp(-b / (2 * a))
        if not (N[sel].min() <= n_opt <= N[sel].max()):
            continue
        c = float(np.exp(np.mean(np.log(C[sel]))))
        opt.append((c, n_opt, c / (6 * n_opt)))
    if len(opt) < 2:
        return None
    c, n, d = map(np.array, zip(*opt))
    return {"levels": [[float(a), float(b), float(e)] for a, b, e in zip(c, n, d)],
            "N_opt": power_law(c, n), "D_opt": power_law(c, d)}


def approach2_ci(N, D, L, bootstrap: int = 200, seed: int = 0) -> dict[str, Any] | None:
    """Approach 2 with 95 % intervals: the seeds of each (N, D) cell resampled with replacement,
    the profiles and power laws refitted each time. A resample whose profiles give no optimum
    inside their sizes is counted, not used (`resamples` says how many were)."""
    N, D, L = (np.asarray(x, float) for x in (N, D, L))
    base = approach2(N, D, L)
    if base is None:
        return None
    rng = np.random.default_rng(seed)
    cells = [np.flatnonzero((N == n) & (D == d)) for n, d in sorted(set(zip(N.tolist(), D.tolist())))]
    draws: dict[str, list[float]] = {"N_opt": [], "D_opt": []}
    for _ in range(bootstrap):
        idx = np.concatenate([rng.choice(c, len(c)) for c in cells])
        b = approach2(N[idx], D[idx], L[idx])
        if b is not None:
            for k in draws:
                draws[k].append(b[k]["exponent"])
    for k, v in draws.items():
        base[k]["ci95"] = [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else [math.nan, math.nan]
    base["resamples"] = len(draws["N_opt"])
    base["bootstrap"] = bootstrap
    return base


def e_runs_off(E: float, L) -> bool:
    """Approach 3's E far below every loss (under 1e-3 of the lowest): e = log E ran off towards
    -inf, so the points do not identify E."""
    return E < 1e-3 * float(np.min(L))


def fit_all(N, D, L, unique=None, bootstrap: int = 200, seed: int = 0) -> dict[str, Any]:
    """Everything for one table (one data variant); `e_profile` where E is not identified."""
    N, D, L = (np.asarray(x, float) for x in (N, D, L))
    out: dict[str, Any] = {"approach3": fit_chinchilla(N, D, L, bootstrap=bootstrap, seed=seed).to_dict()}
    if e_runs_off(out["approach3"]["params"]["E"], L):
        out["e_profile"] = e_profile(N, D, L, bootstrap=min(bootstrap, 50), seed=seed)
    if unique is not None and np.any(np.asarray(D) > np.asarray(unique)):
        De = effective_data(D, unique)
        out["approach3_effective_data"] = fit_chinchilla(N, De, L, bootstrap=bootstrap, seed=seed).to_dict()
    out["approach1"] = approach1(N, D, L)
    out["approach2"] = approach2_ci(N, D, L, bootstrap=bootstrap, seed=seed)
    out["kaplan"] = kaplan(N, D, L)
    return out
