"""The study's plots: variants overlaid on one set of axes, so that a reader sees how data
quality moves the curves, with the seed spread drawn as bands and intervals as error bars."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline import atomic
from training.analysis import one_epoch

COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:gray")


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


def save(fig, path: Path) -> None:
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt().close(fig)


def overlay(variants: dict[str, list[dict[str, Any]]], fits: dict[str, dict[str, Any]], path: Path) -> None:
    """Loss against tokens, one panel per model size, one colour per variant: seed means as
    points, seed min..max as a band, the variant's fitted L(N, D) at that N dashed."""
    sizes = sorted({r["N"] for rs in variants.values() for r in one_epoch(rs)})
    fig, axes = plt().subplots(1, len(sizes), figsize=(3.6 * len(sizes), 3.4), squeeze=False, sharey=True)
    for ax, n in zip(axes[0], sizes):
        for k, (v, rs) in enumerate(variants.items()):
            pts = [r for r in one_epoch(rs) if r["N"] == n]
            Ds = sorted({r["D"] for r in pts})
            if len(Ds) < 2:
                continue
            by_d = [[r["loss"] for r in pts if r["D"] == d] for d in Ds]
            c = COLOURS[k % len(COLOURS)]
            ax.plot(Ds, [np.mean(x) for x in by_d], "o-", color=c, label=v, ms=4)
            ax.fill_between(Ds, [min(x) for x in by_d], [max(x) for x in by_d], color=c, alpha=0.2, lw=0)
            if v in fits:
                p = fits[v]["approach3"]["params"]
                d = np.geomspace(min(Ds), max(Ds), 40)
                ax.plot(d, p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"], "--", color=c, lw=1)
        ax.set_xscale("log")
        ax.set_title(f"N = {n:,.0f}", fontsize=9)
        ax.set_xlabel("tokens D")
    axes[0][0].set_ylabel("validation loss")
    axes[0][0].legend(fontsize=7)
    save(fig, path)


def dose(dose_rows: list[dict[str, Any]], path: Path) -> None:
    """Validation loss against the share of dropped text, per model size, with seed intervals."""
    fig, ax = plt().subplots(figsize=(5, 3.6))
    for k, n in enumerate(sorted({d["N"] for d in dose_rows})):
        ds = sorted((d for d in dose_rows if d["N"] == n), key=lambda d: d["share"])
        x = [100 * d["share"] for d in ds]
        y = [d["loss"] for d in ds]
        err = [[d["loss"] - d["loss_ci"][0] for d in ds], [d["loss_ci"][1] - d["loss"] for d in ds]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=COLOURS[k % len(COLOURS)], label=f"N = {n:,.0f}")
    ax.set_xlabel("dropped text, % of tokens (equal budget)")
    ax.set_ylabel("validation loss")
    ax.set_title("quality dose-response", fontsize=10)
    ax.legend(fontsize=7)
    save(fig, path)


def repeat(choice: list[dict[str, Any]], worth: list[dict[str, Any]], dose_rows: list[dict[str, Any]],
           path: Path) -> None:
    """Left: at equal tokens seen, repeating U clean tokens against U clean tokens plus fresh
    dropped ones (difference > 0: the dirtier data wins). Right: what a repeated token is worth
    in fresh tokens of its tier by epochs, beside what a fresh dropped token is worth in clean ones."""
    fig, (a, b) = plt().subplots(1, 2, figsize=(10, 3.8))
    sizes = sorted({c["N"] for c in choice} | {w["N"] for w in worth})
    for k, n in enumerate(sizes):
        col = COLOURS[k % len(COLOURS)]
        cs = sorted((c for c in choice if c["N"] == n), key=lambda c: c["epochs"])
        if cs:
            a.errorbar([c["epochs"] + 0.05 * k for c in cs], [c["difference"] for c in cs],
                       yerr=[[c["difference"] - c["ci"][0] for c in cs], [c["ci"][1] - c["difference"] for c in cs]],
                       marker="o", capsize=3, ls="none", color=col, label=f"N = {n:,.0f}")
        for m, tier in zip(("o", "s", "^"), sorted({w["tier"] for w in worth})):
            ws = sorted((w for w in worth if w["N"] == n and w["tier"] == tier), key=lambda w: w["epochs"])
            if ws:
                b.errorbar([w["epochs"] + 0.05 * k for w in ws], [w["repeat_worth"] for w in ws],
                           yerr=[[w["repeat_worth"] - w["repeat_worth_ci"][0] for w in ws],
                                 [w["repeat_worth_ci"][1] - w["repeat_worth"] for w in ws]],
                           marker=m, capsize=3, color=col, label=f"repeated {tier}, N = {n:,.0f}")
        drop = [d for d in dose_rows if d["N"] == n and d["share"] > 0]
        if drop:
            b.axhline(float(np.mean([d["dropped_token_worth"] for d in drop])), color=col, ls=":", lw=1,
                      label=f"fresh dropped token, N = {n:,.0f}")
    a.axhline(0, color="black", lw=0.8)
    a.set_xlabel("epochs of the clean data (same tokens seen)")
    a.set_ylabel("loss(repeat clean) - loss(clean + dropped)")
    a.set_title("> 0: adding dirtier data wins", fontsize=9)
    a.legend(fontsize=7)
    b.axhline(0, color="black", lw=0.8)
    b.axhline(1, color="gray", lw=0.8)
    b.set_xlabel("epochs")
    b.set_ylabel("worth of a token (1 = a fresh clean one)")
    b.set_title("value of repeated and of dropped tokens", fontsize=9)
    b.legend(fontsize=6)
    save(fig, path)


def moe(dense: list[dict[str, Any]], cells: list[tuple[tuple, list[dict[str, Any]]]], path: Path) -> None:
    """Loss against parameters at each MoE cell's (variant, budget): dense sizes as a line (seed
    mean, min..max bars); each MoE model drawn twice, at its active and at its all-expert N."""
    fig, ax = plt().subplots(figsize=(6, 4))
    for k, ((v, b, e, n, n_all), rs) in enumerate(cells):
        c = COLOURS[k % len(COLOURS)]
        same = [r for r in dense if (r["variant"], r["budget"], round(r["epochs"], 1)) == (v, b, e)]
        Ns = sorted({r["N"] for r in same})
        by_n = [[r["loss"] for r in same if r["N"] == x] for x in Ns]
        if Ns:
            mean = [np.mean(x) for x in by_n]
            spread = [np.subtract(mean, [min(x) for x in by_n]), np.subtract([max(x) for x in by_n], mean)]
            ax.errorbar(Ns, mean, yerr=spread,
                        fmt="o-", color=c, ms=4, capsize=2, label=f"dense, {v} {b}")
        loss = [r["loss"] for r in rs]
        spread = [[np.mean(loss) - min(loss)] * 2, [max(loss) - np.mean(loss)] * 2]
        ax.errorbar([n, n_all], [np.mean(loss)] * 2, yerr=spread,
                    fmt="s--", color=c, mfc="white", ms=6, capsize=2,
                    label=f"MoE {rs[0]['moe']['settings']['experts']} experts: active N .. all-expert N")
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("validation loss")
    ax.legend(fontsize=7)
    save(fig, path)


def knnlm(results: list[dict[str, Any]], worth: list[dict[str, Any]], path: Path) -> None:
    """Loss on the kNN-LM's measured positions against tokens: dense models trained on each
    budget (per seed, thin) and the kNN-LM with a datastore of each budget (the model trained on
    the smallest), seed means bold."""
    fig, ax = plt().subplots(figsize=(6, 4))
    for k, res in enumerate(results):
        dense = sorted([(res["trained_tokens"], res["lm"]["loss"])]
                       + [(r["tokens"], r["loss"]) for r in res["references"]])
        ax.plot(*zip(*dense), "o-", color="tab:blue", alpha=0.35, lw=1, label="dense, trained on "
                                                                              "D tokens" if k == 0 else None)
        knn = sorted((s["tokens"], s["loss"]) for s in res["datastores"])
        ax.plot(*zip(*knn), "s-", color="tab:red", alpha=0.35, lw=1,
                label=f"kNN-LM: trained on {res['trained_on']}, datastore of D tokens" if k == 0 else None)
    by: dict[int, list[float]] = {}
    for w in worth:
        by.setdefault(w["tokens"], []).append(w["loss"])
    xs = sorted(by)
    ax.plot(xs, [np.mean(by[x]) for x in xs], "s-", color="tab:red", lw=2)
    ax.set_xscale("log")
    ax.set_xlabel("tokens D (trained on, or in the datastore)")
    ax.set_ylabel("loss on the measured validation positions")
    ax.legend(fontsize=7)
    save(fig, path)
