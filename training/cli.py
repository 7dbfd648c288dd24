"""Training's commands of `corpusprep` (train, knnlm, sweep, fit, report), registered by
corpusprep/cli.py, which owns the command line."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Callable

from pipeline.errors import ConfigError
from pipeline.settings import default_of


def cmd_train(args: argparse.Namespace) -> int:
    from training.config import load_run_spec
    from training.sweep import stale
    from training.train import train

    spec = load_run_spec(args.config, args.overrides)
    out = Path(args.out or f"out/train/{spec.name}")
    if (out / "result.json").exists() and not stale(spec, out):  # the same run, finished: nothing to train
        r = json.loads((out / "result.json").read_text())
        print(f"{spec.name}: already trained with these settings (to retrain, remove {out} or give --out); "
              f"val loss {r['val_loss']:.4f} (ppl {r['val_ppl']:.1f}); result: {out / 'result.json'}")
        return 0
    r = train(spec, out, progress=not args.no_progress)
    if int(r.get("processes", 1)) > 1:  # under torchrun: rank 0 reports
        import torch.distributed as dist

        rank = dist.get_rank()
        dist.destroy_process_group()
        if rank:
            return 0
    print(f"{spec.name}: N = {r['N']:,} (non-embedding), D = {r['D']:,} tokens ({r['epochs']:.2f} epochs); "
          f"val loss {r['val_loss']:.4f} (ppl {r['val_ppl']:.1f}), ECE {r['ece']:.4f}; "
          f"{r['tokens_per_s']:,.0f} tokens/s, MFU {r['mfu']:.1%} of {r['peak_flops'] / 1e9:.0f} GFLOP/s")
    print(f"result: {out / 'result.json'}")
    return 0


def cmd_knnlm(args: argparse.Namespace) -> int:
    from training.knnlm import KnnLMConfig, run_knnlm

    cfg = KnnLMConfig(datastores=tuple(b for b in (args.datastores or "").split(",") if b), k=args.k,
                      lam=-1.0 if args.lam == "auto" else float(args.lam), query_tokens=args.query_tokens,
                      query=args.query, exact_below=args.exact_below, nprobe=args.nprobe)
    refs = dict(r.split("=", 1) for r in args.reference)
    out = run_knnlm(args.run, cfg, args.shards, refs)
    for r in out["references"]:
        print(f"reference {r['run']} ({r['budget']}): perplexity {r['ppl']:.2f} on the same positions")
    print(f"results: {Path(args.run) / 'knnlm.json'}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from training.sweep import build_sweep_report, load_sweep, run_sweep

    cfg = load_sweep(args.config, args.overrides)
    out = run_sweep(cfg, args.workers, progress=not args.no_progress)
    path = build_sweep_report(out)
    print(f"sweep results in {out}; report: {path}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from training.fit_constrained import parse_base
    from training.report import by_variant, e_profile_line, fit_rows, plot_fit, table_from_csv, table_from_results
    from training.sweep import load_results

    if bool(args.table) == bool(args.results):
        raise ConfigError("corpusprep fit needs RESULTS_DIR or --table CSV")
    base = parse_base(args.base) if args.base else None  # a bad --base fails before any fit
    rows = table_from_csv(args.table) if args.table else table_from_results(load_results(args.results))
    moe = [r for r in rows if r.get("moe")]
    if moe:  # as the report does: sparse runs' N is active parameters, another law's
        print(f"{len(moe)} MoE run(s) left out of the dense fits (the report compares them with dense runs)")
        rows = [r for r in rows if not r.get("moe")]
    out = Path(args.out or (Path(args.table).parent if args.table else Path(args.results)))
    for v, rs in by_variant(rows).items():
        f = fit_rows(rs, args.bootstrap)
        a3 = f["approach3"]
        print(f"[{v}] L(N, D) = E + A/N^alpha + B/D^beta on {a3['n_points']} points "
              f"(95 % bootstrap CI, {a3['bootstrap']} resamples):")
        for axis, key, params in (("model sizes", "N", "A and alpha"), ("token counts", "D", "B and beta")):
            if len({r["N"] if key == "N" else r["D"] for r in rs}) < 3:
                print(f"  warning: {len({r[key] for r in rs})} {axis}: {params} cannot be identified (a power law "
                      f"and its constant need 3 or more); the values below for them are not results")
        for k, val in a3["params"].items():
            lo, hi = a3["ci95"][k]
            flag = "   (not identified: its interval has no width)" if not hi - lo > 1e-9 * max(abs(val), 1) else ""
            print(f"  {k:6s} {val:12.5g}   [{lo:.5g}, {hi:.5g}]{flag}")
        if f.get("e_profile"):
            print(f"  {e_profile_line(f['e_profile'])}")
        plot_fit(rs, f, out / f"fit_{v}.png", f"{v}: fitted L(N, D)")
        print(f"  plot: {out / f'fit_{v}.png'}")
        if any(r["D"] > r["unique"] * 1.05 for r in rs):
            _print_constrained(rs, base, args.bootstrap)
    return 0


def _print_constrained(rows: list[dict], base: dict[str, float] | None, bootstrap: int) -> None:
    """Muennighoff et al.'s data-constrained law on the rows that have U (training.fit_constrained)."""
    import numpy as np

    from training.fit_constrained import fit_data_constrained

    arr = lambda k: np.array([r.get(k, np.nan) for r in rows], float)  # noqa: E731
    un = arr("UN")
    f = fit_data_constrained(arr("N"), arr("D"), arr("unique"), arr("loss"), base=base,
                             UN=None if np.isnan(un).any() else un, bootstrap=max(20, bootstrap // 2))
    how = "R_D* and R_N* with the base law given (--base)" if base else "all seven parameters"
    print(f"  data-constrained law (Muennighoff et al. 2023), {how}, on {f.n_points} points "
          f"({f.bootstrap} bootstrap resamples):")
    for k, val in f.params.items():
        if k not in f.free:
            print(f"  {k:6s} {val:12.5g}   (given)")
            continue
        lo, hi = f.ci[k]
        flag = "   (not identified by these points)" if k in f.unidentified else ""
        print(f"  {k:6s} {val:12.5g}   [{lo:.5g}, {hi:.5g}]{flag}")


def cmd_report(args: argparse.Namespace) -> int:
    from training.sweep import build_sweep_report

    path = build_sweep_report(args.sweep)
    print(f"report: {path}")
    if args.against:
        from training.replicate import compare_sweeps

        build_sweep_report(args.against)
        print(compare_sweeps(args.sweep, args.against)[1])
    return 0


def settings_help(sections: tuple[tuple[str, type], ...]) -> str:
    """Every key a config file (or --set) takes, from the config dataclasses: name, default, help."""
    lines = ["settings (in the TOML file, or --set KEY=VALUE):"]
    for prefix, cls in sections:
        for f in dataclasses.fields(cls):
            key = f"{prefix}.{f.name}" if prefix else f.name
            default = default_of(f)
            if dataclasses.is_dataclass(default):  # a nested table (model.moe): its own keys
                lines += settings_help(((key, type(default)),)).splitlines()[1:]
                continue
            shown = "(required)" if default is None and f.default is dataclasses.MISSING else repr(default)
            lines.append(f"  {key} = {shown}: {f.metadata.get('help', '')}")
    return "\n".join(lines)


def add_training_commands(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Training's subcommands on `sub`; returns name -> function."""
    from training.config import ModelConfig, TrainConfig
    from training.sweep import SweepConfig

    p = sub.add_parser("train", help="train a GPT on token shards (resumes from a checkpoint)",
                       description="Train one model from a TOML file with [model] and [train] sections; "
                                   "writes checkpoint.pt and result.json.",
                       epilog=settings_help((("model", ModelConfig), ("train", TrainConfig))),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="training config (TOML); see configs/train_tiny.toml")
    p.add_argument("--out", help="output folder (default out/train/<name>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value, e.g. train.lr=1e-3 or model.n_layer=4")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = sub.add_parser("knnlm", help="kNN-LM: a finished run plus a datastore of its training budget(s)",
                       description="Builds a datastore (final hidden state -> next token) over training budgets "
                                   "with faiss and reports validation perplexity with and without retrieval; "
                                   "needs the knn extra (pip install 'corpusprep[knn]').")
    p.add_argument("run", help="a finished training run folder (result.json, checkpoint.pt)")
    p.add_argument("--shards", help="shard folder (default: the one the run trained on)")
    p.add_argument("--datastores", help="nested budgets of the run's variant, e.g. 50K,100K,200K (default: its own)")
    p.add_argument("--k", type=int, default=64, help="neighbours a query (default 64)")
    p.add_argument("--lambda", dest="lam", default="auto",
                   help="interpolation weight, or auto: tuned on half the queried windows (default auto)")
    p.add_argument("--query-tokens", type=int, default=16384, help="tokens queried (default 16384)")
    p.add_argument("--query", default="validation", help="what to query: validation (default) or a budget")
    p.add_argument("--exact-below", type=int, default=2_000_000, help="keys below which search is exact (IVF-PQ above)")
    p.add_argument("--nprobe", type=int, default=16, help="IVF lists searched a query (default 16)")
    p.add_argument("--reference", action="append", default=[], metavar="BUDGET=RUN",
                   help="a dense run evaluated on the same positions (repeatable)")
    p = sub.add_parser("sweep", help="train a grid of model size x budget x variant, then report",
                       description="Resumable: finished points (result.json) are skipped.",
                       epilog=settings_help((("", SweepConfig), ("model", ModelConfig), ("train", TrainConfig))),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="sweep config (TOML); see configs/sweep_default.toml")
    p.add_argument("--workers", type=int, help="runs in parallel (default: the config's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = sub.add_parser("fit", help="fit L(N, D) with bootstrap CIs to run results or a CSV table")
    p.add_argument("results", nargs="?", help="a folder with result.json files (e.g. a sweep)")
    p.add_argument("--table", help="a CSV with columns N, D, loss (and optionally variant; U, the unique tokens, "
                   "for the data-constrained law when some D > U; UN)")
    p.add_argument("--base", help="the data-constrained law's base law, held fixed while R_D* and R_N* are "
                   "fitted: E=..,A=..,B=..,alpha=..,beta=.. (default: all seven parameters fitted)")
    p.add_argument("--out", help="where to write the plot (default: beside the input)")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples")
    p = sub.add_parser("report", help="rebuild a sweep's report and plots from its results (no training)")
    p.add_argument("sweep", help="sweep output folder")
    p.add_argument("--against", metavar="OTHER_SWEEP", help="a replicate of the sweep (another seed_base or "
                   "machine): print, finding by finding, whether both reach the same conclusion")
    return {"train": cmd_train, "knnlm": cmd_knnlm, "sweep": cmd_sweep, "fit": cmd_fit, "report": cmd_report}
