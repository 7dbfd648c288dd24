"""The data-constrained scaling law of Muennighoff et al. (2023), "Scaling Data-Constrained
Language Models", fitted as the paper fits it.

    L(N, D) = E + A / N'^alpha + B / D'^beta
    D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)),  R_D = max(D / U_D - 1, 0)
    N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)),  R_N = max(N / U_N - 1, 0)

U_D is the number of unique tokens; U_N = min(N, the compute-optimal parameter count for one
epoch over U_D under the base law), unless a table gives it. Repeated tokens (and parameters
beyond what U_D can use) are worth less and less: R_D* and R_N* are the repetitions at which a
repeated token (parameter) is worth 1 - 1/e of a fresh one.

Why its own module: the base law's fit (training.fit) knows nothing of repetition, and this
fit needs it only to start from and, when asked, to hold fixed, which is how the paper's own
R_D* = 15.4 and R_N* = 5.3 were obtained.

Fit: Huber loss (delta 1e-3) on the residuals of log loss, L-BFGS from a grid of starts, on
log R* (and the base law's log-sum-exp parameters when they are free); percentile bootstrap
intervals over rows. An R* that these points cannot identify (its estimate on its search
bound, or R_N* where no model has more parameters than U_N) is flagged, not printed as a result.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from training.fit import PARAMS, FitError, fit_chinchilla, multistart

R_STARS = ("R_D*", "R_N*")
PAPER = {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "beta": 0.353, "R_D*": 15.4, "R_N*": 5.31}
LOG_R_BOUNDS = (math.log(1e-2), math.log(1e4))  # an estimate at either end is not identified


def one_epoch_n_opt(U_D: np.ndarray, base: dict[str, float]) -> np.ndarray:
    """The compute-optimal parameter count whose optimal token count is U_D (Hoffmann et al.'s
    eq. 4 under the base law): N_opt = G (G U_D)^(beta/alpha), G = (alpha A / (beta B))^(1/(alpha+beta))."""
    a, b = base["alpha"], base["beta"]
    G = (a * base["A"] / (b * base["B"])) ** (1 / (a + b))
    return G * (G * np.asarray(U_D, float)) ** (b / a)


def _effective(x: np.ndarray, unique: np.ndarray, r_star: float) -> np.ndarray:
    R = np.maximum(x / unique - 1.0, 0.0)
    return unique + unique * r_star * (1 - np.exp(-R / r_star))


def predict(p: dict[str, float], N, D, U, UN=None) -> np.ndarray:
    """The law's loss at (N, D) with U unique tokens (and U_N where given)."""
    N, D, U = (np.asarray(x, float) for x in (N, D, U))
    un = np.minimum(N, one_epoch_n_opt(U, p)) if UN is None else np.asarray(UN, float)
    Ne, De = _effective(N, un, p["R_N*"]), _effective(D, U, p["R_D*"])
    return p["E"] + p["A"] / Ne ** p["alpha"] + p["B"] / De ** p["beta"]


def _params(theta: np.ndarray, base: dict[str, float] | None) -> dict[str, float]:
    """theta: (log R_D*, log R_N*) after the base law's (a, b, e, alpha, beta) when it is free."""
    if base is None:
        a, b, e, alpha, beta = theta[:5]
        out = {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": float(alpha), "beta": float(beta)}
    else:
        out = dict(base)
    return out | {"R_D*": math.exp(theta[-2]), "R_N*": math.exp(theta[-1])}


def _objective(theta, N, D, U, UN, lL, base, delta) -> float:
    p = _params(theta, base)
    if p["alpha"] <= 0 or p["beta"] <= 0:
        return 1e6
    with np.errstate(all="ignore"):
        pred = predict(p, N, D, U, UN)
        r = np.log(pred) - lL
    if not np.all(np.isfinite(r)):
        return 1e6
    absr = np.abs(r)
    return float(np.where(absr <= delta, 0.5 * r ** 2, delta * (absr - 0.5 * delta)).sum())


def _bounds(base: dict[str, float] | None) -> list[tuple[float | None, float | None]]:
    free = [] if base is not None else [(None, None)] * 3 + [(1e-3, 3.0)] * 2
    return free + [LOG_R_BOUNDS] * 2


def _fit_once(starts: list[np.ndarray], args: tuple, base, keep: int = 6, maxiter: int = 3000) -> np.ndarray:
    return multistart(_objective, starts, (*args, base, 1e-3), keep=keep, maxiter=maxiter, bounds=_bounds(base))


@dataclass
class ConstrainedFit:
    params: dict[str, float]
    ci: dict[str, tuple[float, float]]
    free: tuple[str, ...]  # the parameters fitted (the others were given)
    unidentified: tuple[str, ...]  # on a search bound, or no point repeats what it governs
    n_points: int
    bootstrap: int
    samples: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "ci95": {k: list(v) for k, v in self.ci.items()}, "free": list(self.free),
                "unidentified": list(self.unidentified), "n_points": self.n_points, "bootstrap": self.bootstrap}


@threadpool_limits.wrap(limits=1)
def fit_data_constrained(N, D, U, L, *, base: dict[str, float] | None = None, UN=None, bootstrap: int = 100,
                         seed: int = 0) -> ConstrainedFit:
    """R_D* and R_N*, with the base law (E, A, B, alpha, beta) given in `base`, or all seven.

    With the base law free, it starts from approach 3 on the single-epoch points (D <= U) when
    there are enough of them, and from a grid otherwise."""
    N, D, U, L = (np.asarray(x, float) for x in (N, D, U, L))
    UN = None if UN is None else np.asarray(UN, float)
    if len(N) < (3 if base is not None else 8):
        raise FitError(f"{len(N)} points: the data-constrained law needs at least {3 if base is not None else 8} "
                       f"with {'the base law given' if base is not None else 'all seven parameters free'}")
    if not np.any(D > U * 1.05):
        raise FitError("no point repeats its data (D > U): R_D* cannot be identified; add repeated-epoch points")
    if base is not None and set(base) != set(PARAMS):
        raise FitError(f"the base law needs all of {', '.join(PARAMS)}; got {', '.join(sorted(base)) or 'none'}")
    r_grid = [np.array(r) for r in itertools.product(np.log([3.0, 15.0, 60.0]), np.log([1.0, 5.0, 25.0]))]
    if base is None:
        bases = _base_starts(N, D, U, L)
        starts = [np.concatenate([b, r]) for b in bases for r in r_grid]
    else:
        starts = r_grid
    args = (N, D, U, UN, np.log(L))
    theta = _fit_once(starts, args, base)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(bootstrap):
        idx = rng.integers(0, len(N), len(N))
        if not np.any(D[idx] > U[idx] * 1.05):
            continue
        sub = (N[idx], D[idx], U[idx], None if UN is None else UN[idx], np.log(L[idx]))
        samples.append(_params(_fit_once([theta], sub, base, maxiter=500), base))
    params = _params(theta, base)
    free = (() if base is not None else PARAMS) + R_STARS
    ci = {k: (float(np.percentile([s[k] for s in samples], 2.5)), float(np.percentile([s[k] for s in samples], 97.5)))
          if samples else (math.nan, math.nan) for k in free}
    lo, hi = LOG_R_BOUNDS
    unidentified = [k for k, t in zip(R_STARS, theta[-2:]) if min(t - lo, hi - t) < 1e-3]
    un = np.minimum(N, one_epoch_n_opt(U, params)) if UN is None else UN
    if not np.any(N > un * 1.05) and "R_N*" not in unidentified:  # no excess parameters: R_N* changes nothing
        unidentified.append("R_N*")
    return ConstrainedFit(params, ci, free, tuple(unidentified), len(N), len(samples),
                          {k: [s[k] for s in samples] for k in free})


def _base_starts(N, D, U, L) -> list[np.ndarray]:
    """Starts for the base law: approach 3 on the single-epoch points, and a small grid."""
    grid = [np.array(g) for g in itertools.product((2.0, 6.0), (2.0, 7.0), (0.0, 0.6), (0.3,), (0.3,))]
    one = D <= U * 1.05
    if one.sum() >= 5 and len(np.unique(N[one])) >= 2 and len(np.unique(D[one])) >= 2:
        p = fit_chinchilla(N[one], D[one], L[one], bootstrap=0).params
        grid.insert(0, np.array([math.log(p["A"]), math.log(p["B"]), math.log(max(p["E"], 1e-6)),
                                 p["alpha"], p["beta"]]))
    return grid


def parse_base(text: str) -> dict[str, float]:
    """`E=1.87,A=521,B=1488,alpha=0.353,beta=0.353` -> a base law; FitError naming what is wrong."""
    out: dict[str, float] = {}
    for piece in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = piece.partition("=")
        if not sep or key.strip() not in PARAMS:
            raise FitError(f"--base {text!r}: {piece!r} is not one of {', '.join(f'{k}=...' for k in PARAMS)}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise FitError(f"--base: {key.strip()} = {value!r} is not a number") from None
    missing = [k for k in PARAMS if k not in out]
    if missing:
        raise FitError(f"--base {text!r}: give all five of the base law; missing {', '.join(missing)}")
    return out
