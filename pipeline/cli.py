"""`corpusprep` command line. Every subcommand documents its options in --help."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from pipeline.stage import ConfigError

DEFAULT_CONFIG = "configs/default.toml"
DEFAULT_SAMPLE = "out/sample"
DEFAULT_SWEEP = "configs/sweep_default.toml"


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a whole pipeline from a TOML config",
                       description="Run every stage of CONFIG; prints the data card's path.")
    p.add_argument("config", help="run config (TOML); see configs/default.toml")
    p.add_argument("--resume", action="store_true",
                   help="continue a run whose output folder exists (finished parts are skipped)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: run.workers)")
    p.add_argument("--executor", choices=["local", "ray"], default=None,
                   help="where tasks run (default: run.executor): a local process pool, or Ray")
    p.add_argument("--address", default=None,
                   help="with --executor ray: the cluster to join (e.g. auto); default: start a local instance")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. run.workers=2 or stages.html.parser=bs4")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_stage(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stage", help="run one stage alone on an input",
                       description="Run stage NAME on --input, writing *.parquet, drops.parquet "
                                   "and stats.json into --output.")
    p.add_argument("name", help="stage name (see `corpusprep stages`)")
    p.add_argument("--input", help="JSONL(.gz/.zst), Parquet file or folder, folder "
                   "of .html files, .warc(.gz), a saved datasets folder, or a stage's output folder")
    p.add_argument("--output", help="output folder")
    p.add_argument("--explain", action="store_true",
                   help="print what the stage's settings mean (dedup: the LSH S-curve) and exit")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="stage config value, e.g. parser=bs4 (see `corpusprep stages`)")
    p.add_argument("--format", default="auto", help="input format (default: from the file names)")
    p.add_argument("--text-field", default="text", help="input field holding the text")
    p.add_argument("--id-field", default="id", help="input field holding the id")
    p.add_argument("--url-field", default="url", help="input field holding the URL")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--part-docs", type=int, default=2000, help="documents per part file")
    p.add_argument("--max-record-mb", type=int, default=_input_default("max_record_mb"),
                   help="a record larger than this is a counted skip, never read whole (default: %(default)s)")
    p.add_argument("--labels", default="", help="ground-truth labels (JSONL id, kind): report recall/precision")
    p.add_argument("--resume", action="store_true", help="continue into an existing --output")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _input_default(name: str):
    from pipeline.config import InputConfig

    return InputConfig.__dataclass_fields__[name].default


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.config import load_run_config
    from pipeline.runner import run

    where = [f"run.{k}={v}" for k, v in (("executor", args.executor), ("address", args.address)) if v is not None]
    cfg = load_run_config(args.config, list(args.overrides) + where)
    res = run(cfg, resume=args.resume, workers=args.workers, progress=not args.no_progress)
    r = res.report
    print(f"{r['docs_in']:,} documents in, {r['docs_kept']:,} kept, {r['docs_dropped']:,} dropped "
          f"in {r['seconds']:.1f} s; output in {res.out_dir}")
    print(f"data card: {res.card_path}")
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    from pipeline.config import InputConfig, StageSpec, apply_overrides, build
    from pipeline.executor import LocalExecutor
    from pipeline.runner import RunError, run_read, run_stage
    from pipeline.stages import get_stage

    cls = get_stage(args.name)
    values = apply_overrides({}, args.overrides)
    config = build(cls.Config, values, f"stages.{args.name}")
    if args.explain:
        print(cls(config).explain())
        return 0
    if not args.input or not args.output:
        raise ConfigError("corpusprep stage needs --input and --output (or --explain)")
    cls(config).setup()
    inp = InputConfig(path=args.input, format=args.format, text_field=args.text_field,
                      id_field=args.id_field, url_field=args.url_field, labels=args.labels,
                      max_record_mb=args.max_record_mb)
    out = Path(args.output)
    if out.exists() and any(out.iterdir()) and not args.resume:
        raise RunError(f"output folder {out} is not empty; pass --resume or choose another")
    ex = LocalExecutor(args.workers)
    read = run_read(inp, out / "_read", ex, args.part_docs, progress=not args.no_progress)
    stats = run_stage(StageSpec(args.name, config), out / "_read", out, ex,
                      progress=not args.no_progress, labels=args.labels)
    print(f"read: {read['docs_in']:,} records, {read['docs_out']:,} documents"
          + (f", skipped {read['drops']}" if read["drops"] else ""))
    print(f"{args.name}: {stats['docs_in']:,} in, {stats['docs_out']:,} kept, "
          f"{stats['docs_dropped']:,} dropped {stats['drops'] or ''}")
    if "ground_truth" in stats:
        g = stats["ground_truth"]
        print(f"ground truth ({', '.join(g['kinds'])}): recall {g['recall']}, precision "
              f"{g['precision']}, clean dropped {g['clean_dropped']}/{g['clean_in']}")
    print(f"output: {out}")
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from pipeline.classifier import read_texts, train_classifier

    res = train_classifier(read_texts(args.pos, args.text_field), read_texts(args.neg, args.text_field),
                           args.out, epoch=args.epoch, lr=args.lr, word_ngrams=args.word_ngrams,
                           dim=args.dim, seed=args.seed)
    print(f"trained on {res['pos']:,} positive and {res['neg']:,} negative documents; training "
          f"accuracy {res['train_accuracy']:.3f}; model: {res['model']}")
    return 0


def cmd_shards(args: argparse.Namespace) -> int:
    from pipeline.stages.shards import ShardsConfig, build_shards

    variants: dict[str, Path] = {}
    for v in args.variant:
        if "=" not in v:
            raise ConfigError(f"--variant {v!r}: expected NAME=FOLDER")
        name, folder = v.split("=", 1)
        variants[name] = Path(folder)
    if args.input:
        variants = {"default": Path(args.input), **variants}
    cfg = ShardsConfig(budgets=tuple(args.budgets.split(",")), tokens_per_shard=args.tokens_per_shard,
                       validation_tokens=args.validation_tokens, vocab_size=args.vocab_size,
                       tokenizer=args.tokenizer or "", seed=args.seed)
    man = build_shards(variants, Path(args.output), cfg, progress=not args.no_progress)
    for v, x in man["variants"].items():
        print(f"{v}: " + ", ".join(f"{b} = {y['tokens']:,} tokens in {len(y['shards'])} shard(s)"
                                   for b, y in x["budgets"].items()))
    print(f"validation: {man['validation']['tokens']:,} tokens; manifest: {Path(args.output) / 'manifest.json'}")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from pipeline.card import diff_reports, load_report, render_card, verify

    if args.action == "show":
        print(render_card(load_report(args.runs[0])))
        return 0
    if args.action == "diff":
        if len(args.runs) != 2:
            raise ConfigError("corpusprep card diff needs two runs")
        print("\n".join(diff_reports(load_report(args.runs[0]), load_report(args.runs[1]))))
        return 0
    problems = verify(args.runs[0])
    print("\n".join(problems) if problems else "all shards match the manifest (sha256 and token counts)")
    return 1 if problems else 0


def cmd_train(args: argparse.Namespace) -> int:
    from training.config import load_run_spec
    from training.train import train

    spec = load_run_spec(args.config, args.overrides)
    out = Path(args.out or f"out/train/{spec.name}")
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
    from training.report import by_variant, fit_rows, plot_fit, table_from_csv, table_from_results
    from training.sweep import load_results

    if bool(args.table) == bool(args.results):
        raise ConfigError("corpusprep fit needs RESULTS_DIR or --table CSV")
    rows = table_from_csv(args.table) if args.table else table_from_results(load_results(args.results))
    out = Path(args.out or (Path(args.table).parent if args.table else Path(args.results)))
    for v, rs in by_variant(rows).items():
        f = fit_rows(rs, args.bootstrap)
        a3 = f["approach3"]
        print(f"[{v}] L(N, D) = E + A/N^alpha + B/D^beta on {a3['n_points']} points "
              f"(95 % bootstrap CI, {a3['bootstrap']} resamples):")
        for k, val in a3["params"].items():
            lo, hi = a3["ci95"][k]
            print(f"  {k:6s} {val:12.5g}   [{lo:.5g}, {hi:.5g}]")
        plot_fit(rs, f, out / f"fit_{v}.png", f"{v}: fitted L(N, D)")
        print(f"  plot: {out / f'fit_{v}.png'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from training.sweep import build_sweep_report

    path = build_sweep_report(args.sweep)
    print(f"report: {path}")
    return 0


def cmd_stages(args: argparse.Namespace) -> int:
    from pipeline.stage import config_fields
    from pipeline.stages import STAGES, get_stage

    for name in STAGES:
        cls = get_stage(name)
        print(f"{name}: {(cls.__doc__ or '').strip().splitlines()[0]}")
        for f in config_fields(cls.Config):
            print(f"    {f['name']} = {f['default']!r}    {f['help']}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from pipeline.sample.build import build_sample

    m = build_sample(args.out, seed=args.seed)
    print(f"{m['documents']:,} documents ({m['kinds']}), {m['main_text_bytes'] / 1e6:.1f} MB of "
          f"main text, in {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the built-in corpus: sample -> pipeline -> shards -> card -> sweep -> report."""
    import time

    from pipeline.config import load_run_config
    from pipeline.runner import run
    from pipeline.sample.build import build_sample
    from training.sweep import build_sweep_report, load_sweep, run_sweep

    t0 = time.perf_counter()
    sample = Path(args.sample)
    if not (sample / "manifest.json").exists():
        print(f"building the default corpus in {sample} ...")
        build_sample(sample, seed=args.seed)
    cfg = load_run_config(args.config, [f"run.workers={args.workers}"])
    sweep = None if args.no_sweep else load_sweep(args.sweep)
    stamp = Path(cfg.run.output) / "run.json"
    if stamp.exists() and json.loads(stamp.read_text())["config_hash"] != cfg.config_hash():
        # the demo owns its output folder: a changed config starts it afresh (sweep points are
        # reused only where their shards come out identical, which the sweep checks point by point)
        print(f"{args.config} changed since the last demo: rebuilding {cfg.run.output}")
        shutil.rmtree(cfg.run.output)
    res = run(cfg, resume=True, progress=not args.no_progress)
    r = res.report
    print(f"pipeline: {r['docs_in']:,} documents in, {r['docs_kept']:,} kept; data card: {res.card_path}")
    if sweep is None:
        return 0
    out = run_sweep(sweep, args.workers, progress=not args.no_progress)
    path = build_sweep_report(out)
    print(f"done in {time.perf_counter() - t0:.0f} s; data card: {res.card_path}; report: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corpusprep", description=(
        "Prepare pre-training corpora (read -> html -> safety -> quality -> dedup -> decontam -> "
        "token shards) with a data card for every run."))
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_stage(sub)
    sub.add_parser("stages", help="list stages with their config fields and defaults")
    p = sub.add_parser("train-classifier", help="train a fastText classifier (pos vs neg documents)",
                       description="Train a supervised fastText model: __label__pos vs __label__neg. "
                                   "Safety uses pos = unsafe; quality uses pos = reference quality.")
    p.add_argument("--pos", required=True, help="positive documents: JSONL (text field) or text (one a line)")
    p.add_argument("--neg", required=True, help="negative documents: JSONL or text")
    p.add_argument("--out", required=True, help="model file to write (.bin)")
    p.add_argument("--text-field", default="text", help="JSONL field holding the text")
    p.add_argument("--epoch", type=int, default=10, help="training epochs")
    p.add_argument("--lr", type=float, default=0.5, help="learning rate")
    p.add_argument("--word-ngrams", type=int, default=2, help="word n-gram features")
    p.add_argument("--dim", type=int, default=64, help="embedding size")
    p.add_argument("--seed", type=int, default=0, help="seed")
    p = sub.add_parser("shards", help="tokenize stage outputs into Arrow shards at token budgets",
                       description="Nested token budgets of one or more quality variants, one shared "
                                   "validation split (from the last variant), a manifest with sha256s.")
    p.add_argument("--input", help="a stage output folder (variant 'default')")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=FOLDER",
                   help="a quality variant from a stage output folder; repeat; the last is the cleanest")
    p.add_argument("--output", required=True, help="shard folder")
    p.add_argument("--budgets", default="1M,2M,4M", help="nested token budgets, e.g. 1M,2M,4M,8M")
    p.add_argument("--tokens-per-shard", type=int, default=1 << 20, help="tokens in every shard but the last")
    p.add_argument("--validation-tokens", default="100K", help="size of the shared validation split")
    p.add_argument("--vocab-size", type=int, default=8192, help="BPE vocabulary when training")
    p.add_argument("--tokenizer", help="a local tokenizer.json instead of training one")
    p.add_argument("--seed", type=int, default=0, help="seed of the document shuffle")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p = sub.add_parser("card", help="show, diff or verify data cards",
                       description="show RUN | diff RUN_A RUN_B | verify RUN; RUN is a card folder "
                                   "(data_cards/<name>) or a run output folder; verify also takes a shard "
                                   "folder made by `corpusprep shards`")
    p.add_argument("action", choices=["show", "diff", "verify"])
    p.add_argument("runs", nargs="+", help="card or run folder(s)")
    p = sub.add_parser("train", help="train a GPT on token shards (resumes from a checkpoint)",
                       description="Train one model from a TOML file with [model] and [train] sections; "
                                   "writes checkpoint.pt and result.json.")
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
                       description="Resumable: finished points (result.json) are skipped.")
    p.add_argument("config", help="sweep config (TOML); see configs/sweep_default.toml")
    p.add_argument("--workers", type=int, help="runs in parallel (default: the config's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = sub.add_parser("fit", help="fit L(N, D) with bootstrap CIs to run results or a CSV table")
    p.add_argument("results", nargs="?", help="a folder with result.json files (e.g. a sweep)")
    p.add_argument("--table", help="a CSV with columns N, D, loss (and optionally variant)")
    p.add_argument("--out", help="where to write the plot (default: beside the input)")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples")
    p = sub.add_parser("report", help="rebuild a sweep's report and plots from its results (no training)")
    p.add_argument("sweep", help="sweep output folder")
    p = sub.add_parser("sample", help="build the built-in default corpus (offline)")
    p.add_argument("--out", default=DEFAULT_SAMPLE, help=f"output folder (default {DEFAULT_SAMPLE})")
    p.add_argument("--seed", type=int, default=0, help="seed: same seed, same corpus")
    p = sub.add_parser("demo", help="the main job end to end on the default corpus")
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"run config (default {DEFAULT_CONFIG})")
    p.add_argument("--sample", default=DEFAULT_SAMPLE, help="where the default corpus is built")
    p.add_argument("--seed", type=int, default=0, help="corpus seed")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--sweep", default=DEFAULT_SWEEP, help=f"sweep config (default {DEFAULT_SWEEP})")
    p.add_argument("--no-sweep", action="store_true", help="stop after the pipeline and its card")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


COMMANDS = {"run": cmd_run, "stage": cmd_stage, "stages": cmd_stages, "sample": cmd_sample,
            "demo": cmd_demo, "train-classifier": cmd_train_classifier, "shards": cmd_shards,
            "card": cmd_card, "train": cmd_train, "knnlm": cmd_knnlm, "sweep": cmd_sweep, "fit": cmd_fit,
            "report": cmd_report}


class Stopped(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so atomic writes remove their temp files on the way out."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Stopped()


def _disk_full(e: OSError) -> bool:
    import errno

    return e.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(e)


def main(argv: list[str] | None = None) -> int:
    import signal

    from pipeline.io import InputError
    from pipeline.runner import RunError

    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)  # forked workers inherit it
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, InputError, RunError, FileNotFoundError, ValueError) as e:
        print(f"corpusprep {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if not _disk_full(e):
            raise
        where = f" writing {e.filename}" if e.filename else ""
        print(f"corpusprep {args.command}: error: no space left on the device{where} ({e}); nothing half-written "
              "was kept: free some space and run the same command with --resume to finish", file=sys.stderr)
        return 3
    except (Stopped, KeyboardInterrupt):
        print(f"corpusprep {args.command}: stopped; finished parts are kept and no half-written file is "
              "left: run the same command with --resume to finish", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
