"""The report's section on retrieval: kNN-LM perplexity per datastore size beside the dense
scaling curve, and what a datastore token is worth against a token of training.

It says what its comparisons rest on (every model queried on the same positions, seeds paired)
and gives intervals, as the rest of the report does.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from training import analysis as an
from training import plots
from training.findings import nats


def _per_seed_worth(res: dict[str, Any]) -> list[dict[str, Any]]:
    """For each datastore: the dense tokens whose model reaches the kNN-LM's loss, on the dense
    curve loss = c0 + c1 ln D through the run itself and its references (same positions)."""
    dense = [{"D": res["trained_tokens"], "loss": res["lm"]["loss"]}] + \
            [{"D": r["tokens"], "loss": r["loss"]} for r in res["references"]]
    curve = an.loss_curve(dense)
    return [{"budget": s["budget"], "tokens": s["tokens"], "loss": s["loss"],
             "equivalent": an.effective_tokens(curve, s["loss"]) if curve else math.nan} for s in res["datastores"]]


def knnlm_section(results: list[dict[str, Any]], out: Path, skipped: str | None = None) -> list[str]:
    """Perplexity with and without retrieval per datastore size, and what a datastore token is
    worth against a token of training, seeds paired (every model queried on the same positions);
    or why the sweep skipped it."""
    if not results:
        return ["## Retrieval (kNN-LM)", "", f"Not run: {skipped}.", ""] if skipped else []
    first = results[0]
    L = ["## Retrieval (kNN-LM)", "",
         f"Models of N = {first['N']:,} trained on `{first['variant']}` {first['trained_on']} "
         f"({first['trained_tokens']:,} tokens), seeds {sorted(r['seed'] for r in results)}; a datastore of each "
         f"nested budget (final hidden state -> next token, k = {first['settings']['k']}); λ and temperature tuned on "
         f"alternate validation windows and perplexity measured on the other {first['measure_positions']:,} positions, "
         "where the dense models of the same size trained on each budget are measured too.", "",
         "| datastore | keys | index | perplexity without | with retrieval | λ (per seed) | dense model trained "
         "on it | "
         "build keys/s | query tokens/s |", "|---|---:|---|---:|---:|---|---:|---:|---:|"]
    by_budget: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for res in results:
        for s in res["datastores"]:
            by_budget[s["budget"]].append((res, s))
    found = []
    for b, pairs in sorted(by_budget.items(), key=lambda x: x[1][0][1]["tokens"]):
        refs = [next((r["loss"] for r in res["references"] if r["budget"] == b),
                     res["lm"]["loss"] if b == res["trained_on"] else math.nan) for res, _ in pairs]
        s0 = pairs[0][1]
        lams = ", ".join(f"{s['lambda']:g}" for _, s in pairs)
        L.append(f"| {b} | {s0['tokens']:,} | {s0['index']} | "
                 f"{np.mean([math.exp(r['lm']['loss']) for r, _ in pairs]):.2f} | "
                 f"{np.mean([s['ppl'] for _, s in pairs]):.2f} | {lams} | "
                 + (f"{np.mean([math.exp(x) for x in refs]):.2f}" if not any(map(math.isnan, refs))
                    else "(not trained)")
                 + f" | {np.mean([s['keys_per_s'] for _, s in pairs]):,.0f} | "
                   f"{np.mean([s['query_tokens_per_s'] for _, s in pairs]):,.0f} |")
        gain = an.paired_difference([([s["loss"] for _, s in pairs], [r["lm"]["loss"] for r, _ in pairs])])
        found.append(f"Datastore {b}: retrieval - model alone = {nats(gain)}.")
        if not any(map(math.isnan, refs)) and b != first["trained_on"]:
            d = an.paired_difference([([s["loss"] for _, s in pairs], refs)])
            found.append(f"Datastore {b} against training on {b}: kNN-LM - dense = {nats(d)}"
                         + (" — inside seed noise." if d["lo"] < 0 < d["hi"] else "."))
    worth = [w for res in results for w in _per_seed_worth(res)]
    for b in by_budget:
        eq = [w["equivalent"] / w["tokens"] for w in worth if w["budget"] == b and math.isfinite(w["equivalent"])]
        if eq:
            found.append(f"Trained on {first['trained_on']} with a datastore of {b}: the loss a dense model reaches "
                         f"with {np.mean(eq):.2f}x {b}'s tokens of training (seeds {min(eq):.2f} .. {max(eq):.2f}; on "
                         f"each seed's dense curve loss = c0 + c1 ln D through {len(results[0]['references']) + 1} "
                         "budgets, extrapolated beyond the largest). Above 1x, a datastore token is worth more "
                         "than a training token here.")
    L += [""] + [f"- {s}" for s in found] + [""]
    plots.knnlm(results, worth, out / "knnlm.png")
    return L + ["![kNN-LM beside the dense curve](knnlm.png)", ""]
