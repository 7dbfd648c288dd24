"""The data-constrained law (Muennighoff et al. 2023): points drawn from a known law, with the
paper's fitted parameters, 0.2 % multiplicative noise, model sizes 1e7-1e9 (beyond U_N, so
excess parameters decay), unique tokens 1e8-1e10 and 1-64 epochs; R_D* and R_N* recovered with
the base law given and with all seven free, in the library and through `corpusprep fit`."""
from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from tests.conftest import run_cli
from training.fit import FitError
from training.fit_constrained import PAPER, fit_data_constrained, one_epoch_n_opt, parse_base, predict

BASE = {k: PAPER[k] for k in ("E", "A", "B", "alpha", "beta")}


def points(seed: int = 0, noise: float = 0.002):
    N, U, E = np.meshgrid(np.geomspace(1e7, 1e9, 5), np.geomspace(1e8, 1e10, 4), [1, 2, 4, 8, 16, 32, 64])
    N, U = N.ravel(), U.ravel()
    D = U * E.ravel()
    return N, D, U, predict(PAPER, N, D, U) * np.exp(np.random.default_rng(seed).normal(0, noise, len(N)))


def test_the_law_reduces_to_the_base_law_without_repetition():
    N, U = np.array([1e6, 1e7]), np.array([1e10, 1e11])  # N below U_N, one epoch: nothing decays
    assert (one_epoch_n_opt(U, BASE) > N).all()
    base = BASE["E"] + BASE["A"] / N ** BASE["alpha"] + BASE["B"] / U ** BASE["beta"]
    assert np.allclose(predict(PAPER, N, U, U), base)
    assert (predict(PAPER, N, 4 * U, U) < base).all()  # repeated tokens still help, less than fresh
    assert (predict(PAPER, N, 4 * U, U) > predict(PAPER, N, 4 * U, 4 * U)).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_r_stars_are_recovered_within_10_percent(seed):
    N, D, U, L = points(seed)
    given = fit_data_constrained(N, D, U, L, base=BASE, bootstrap=20, seed=seed)
    free = fit_data_constrained(N, D, U, L, bootstrap=10, seed=seed)
    for fit in (given, free):
        for k in ("R_D*", "R_N*"):
            assert abs(fit.params[k] / PAPER[k] - 1) < 0.10, (k, fit.params[k])
            lo, hi = fit.ci[k]
            assert lo <= fit.params[k] <= hi and hi > lo
        assert not fit.unidentified
    assert given.free == ("R_D*", "R_N*") and len(free.free) == 7
    for k in ("alpha", "beta"):
        assert abs(free.params[k] / PAPER[k] - 1) < 0.10, (k, free.params[k])


def test_without_repeated_points_it_says_r_d_cannot_be_identified():
    N, D, U, L = points()
    one = D <= U
    with pytest.raises(FitError, match="R_D\\* cannot be identified"):
        fit_data_constrained(N[one], D[one], U[one], L[one], base=BASE)


def test_base_argument_needs_all_five():
    assert parse_base("E=1.87, A=521,B=1488,alpha=0.353,beta=0.353") == BASE
    with pytest.raises(FitError, match="missing B, alpha, beta"):
        parse_base("E=1,A=2")
    with pytest.raises(FitError, match="not a number"):
        parse_base("E=x,A=1,B=1,alpha=1,beta=1")


def _printed(stdout: str) -> dict[str, str]:
    part = stdout.split("data-constrained law", 1)[1]
    return {m[1]: m[2] for m in re.finditer(r"^\s+(\S+)\s+(\S+)\s+(.*)$", part, re.M)}


def test_the_cli_fits_the_u_column_and_honours_base(tmp_path):
    N, D, U, L = points(3)
    table = tmp_path / "points.csv"
    with table.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["N", "D", "U", "loss"])
        w.writerows(zip(N, D, U, L))
    fixed = run_cli("fit", "--table", str(table), "--bootstrap", "20",
                    "--base", ",".join(f"{k}={v}" for k, v in BASE.items())).stdout
    assert "with the base law given" in fixed
    got = _printed(fixed)
    assert got["alpha"].startswith("0.353") and "(given)" in fixed
    assert abs(float(got["R_D*"]) / PAPER["R_D*"] - 1) < 0.10 and abs(float(got["R_N*"]) / PAPER["R_N*"] - 1) < 0.10
    free = run_cli("fit", "--table", str(table), "--bootstrap", "20").stdout
    assert "all seven parameters" in free and "(given)" not in free.split("data-constrained law", 1)[1]
    got = _printed(free)
    assert abs(float(got["R_D*"]) / PAPER["R_D*"] - 1) < 0.10 and abs(float(got["R_N*"]) / PAPER["R_N*"] - 1) < 0.10
    bad = run_cli("fit", "--table", str(table), "--base", "E=1", check=False)
    assert bad.returncode == 2 and "missing A, B, alpha, beta" in bad.stderr and "data-constrained" not in bad.stdout


def test_the_sweep_report_fits_r_d_from_its_repeated_epoch_points(tmp_path):
    """Sweep results drawn from the law where no model exceeds U_N (so the single-epoch fit is
    the base law itself): the report recovers R_D* and says R_N* is not identified."""
    import json

    rng = np.random.default_rng(0)
    sweep = tmp_path / "sweep"
    for N in np.geomspace(1e5, 3e6, 5):
        for U in np.geomspace(1e8, 1e10, 5):
            for epochs in (1, 4, 16, 64) if U == 1e8 or U == 1e9 else (1,):
                D = U * epochs
                loss = float(predict(PAPER, N, D, U) * np.exp(rng.normal(0, 0.002)))
                d = sweep / f"{int(N)}_{int(U)}_{epochs}"
                d.mkdir(parents=True)
                (d / "result.json").write_text(json.dumps({
                    "name": d.name, "variant": "v", "budget": f"{int(U)}", "N": N, "D": D, "val_loss": loss,
                    "unique_tokens": U, "epochs": float(epochs), "train_eval_loss": loss, "train_val_gap": 0.0,
                    "memorized_share": 0.0}))
    assert (np.geomspace(1e5, 3e6, 5) < one_epoch_n_opt(1e8, BASE)).all()
    run_cli("report", str(sweep))
    rep = (sweep / "report" / "report.md").read_text()
    line = next(l for l in rep.splitlines() if "data-constrained law (Muennighoff et al.) on" in l)
    r_d = float(re.search(r"R_D\* ([\d.]+) \(95 % CI", line)[1])
    assert abs(r_d / PAPER["R_D*"] - 1) < 0.10, line
    assert "R_N* not identified by these points" in line
