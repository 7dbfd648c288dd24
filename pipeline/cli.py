"""The pipeline's commands of `corpusprep` (run, stage, stages, sample, train-classifier, shards,
export, card, inspect), registered by corpusprep/cli.py, which owns the command line. Each documents its options
in --help."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from pipeline.errors import ConfigError

DEFAULT_SAMPLE = "out/sample"
STAGE_RUN_FLAGS = ("workers", "part_docs", "limit")  # the run settings `corpusprep stage` takes as flags


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
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="read only the input's first N documents, for a quick trial (= --set run.limit=N)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_stage(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stage", help="run one stage alone on an input",
                       description="Run stage NAME on --input, writing *.parquet, drops.parquet "
                                   "and stats.json into --output.")
    p.add_argument("name", help="stage name (see `corpusprep stages`)")
    from pipeline.readers import formats_help

    p.add_argument("--input", help=f"a file, folder or glob of input data, or a stage's output folder; formats: "
                   f"{formats_help()}")
    p.add_argument("--output", help="output folder")
    p.add_argument("--explain", action="store_true",
                   help="print what the stage's settings mean (dedup: the LSH S-curve) and exit")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="stage config value, e.g. parser=bs4 (see `corpusprep stages`)")
    p.add_argument("--resume", action="store_true", help="continue into an existing --output")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    from pipeline.config import RunSettings
    from pipeline.config_flags import add_config_flags
    from pipeline.readers import InputConfig

    p.set_defaults(input_flags=add_config_flags(p, InputConfig, skip=("path",), title="input settings"),
                   run_flags=add_config_flags(p, RunSettings, title="run settings", skip=tuple(
                       f for f in RunSettings.__dataclass_fields__ if f not in STAGE_RUN_FLAGS)))


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.config import load_run_config
    from pipeline.runner import run

    where = [f"run.{k}={v}" for k, v in (("workers", args.workers), ("executor", args.executor),
                                          ("address", args.address), ("limit", args.limit)) if v is not None]
    cfg = load_run_config(args.config, list(args.overrides) + where)
    res = run(cfg, resume=args.resume, progress=not args.no_progress)
    r = res.report
    print(f"{r['docs_in']:,} documents in, {r['docs_kept']:,} kept, {r['docs_dropped']:,} dropped "
          f"in {r['seconds']:.1f} s; output in {res.out_dir}")
    print(f"data card: {res.card_path}")
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    import dataclasses
    import hashlib
    import json

    from pipeline import atomic, stage_folder
    from pipeline.chain import run_stage
    from pipeline.config import RunSettings, StageSpec
    from pipeline.config_flags import values_from_flags
    from pipeline.errors import warn
    from pipeline.executor import LocalExecutor
    from pipeline.read_step import check_input, run_read
    from pipeline.readers import InputConfig
    from pipeline.settings import apply_overrides, build
    from pipeline.stages import get_stage
    from pipeline.startup import check_output

    cls = get_stage(args.name)
    values = apply_overrides({}, args.overrides)
    config = build(cls.Config, values, f"stages.{args.name}")
    if args.explain:
        print(cls(config).explain())
        return 0
    if not args.input or not args.output:
        raise ConfigError("corpusprep stage needs --input and --output (or --explain)")
    inp = build(InputConfig, {"path": args.input, **values_from_flags(InputConfig, args, args.input_flags)}, "input")
    run_values = values_from_flags(RunSettings, args, args.run_flags)
    workers, part_docs, limit = (run_values.get(k, d) for k, d in (("workers", 1), ("part_docs", 2000), ("limit", 0)))
    if workers < 1 or part_docs < 1 or limit < 0:
        raise ConfigError(f"--workers {workers}, --part-docs {part_docs}, --limit {limit}: the first two must be "
                          ">= 1, the last >= 0")
    out = Path(args.output)
    settings = json.loads(json.dumps({"stage": args.name, "stages": {args.name: dataclasses.asdict(config)},
                                      "input": dataclasses.asdict(inp), "part_docs": part_docs, "limit": limit},
                                     default=str))
    record = {"config_hash": hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest(),
              "config": settings}
    check_output(out, record["config_hash"], settings, args.resume, record=stage_folder.STAGE_RECORD, flag="--output")
    cls(config).setup()
    listing = check_input(inp, part_docs, (args.name,))
    atomic.write_json(out / stage_folder.STAGE_RECORD, record)
    ex = LocalExecutor(workers)
    read = run_read(inp, out / stage_folder.STAGE_READ, ex, part_docs, listing, progress=not args.no_progress,
                    limit=limit)
    for line in read.get("warnings", []):
        warn(as_flags(line))
    stats = run_stage(StageSpec(args.name, config), out / stage_folder.STAGE_READ, out, ex,
                      progress=not args.no_progress, labels=inp.labels)
    print(f"read: {read['docs_out']:,} documents" + (f", skipped {read['drops']}" if read["drops"] else "")
          + (f"; other records and quirks: {read['counters']}" if read.get("counters") else ""))
    print(f"{args.name}: {stats['docs_in']:,} in, {stats['docs_out']:,} kept, "
          f"{stats['docs_dropped']:,} dropped {stats['drops'] or ''}")
    if "ground_truth" in stats:
        g = stats["ground_truth"]
        print(f"ground truth ({', '.join(g['kinds'])}): recall {g['recall']}, precision "
              f"{g['precision']}, clean dropped {g['clean_dropped']}/{g['clean_in']}")
    print(f"output: {out}")
    return 0


def as_flags(text: str) -> str:
    """A message in `corpusprep stage`'s words: config keys (input.text_field, run.limit,
    stages.quality.x) as the flags that set them (--text-field, --limit, --set x)."""
    import re

    from pipeline.readers import InputConfig

    inputs = set(InputConfig.__dataclass_fields__)

    def flag(m: re.Match) -> str:
        section, key = m[1], m[2]
        if section == "input" and key in inputs or section == "run" and key in STAGE_RUN_FLAGS:
            return "--" + key.replace("_", "-")
        return m[0]

    text = re.sub(r"\bstages\.[a-z_]+\.([a-z_]+)", r"--set \1", text)
    return re.sub(r"\b(input|run)\.([a-z_]+)", flag, text)


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from pipeline.classifier import read_texts, texts_from_run, train_classifier

    def side(name: str) -> list[str]:
        path, run = getattr(args, name), getattr(args, f"{name}_from")
        if bool(path) == bool(run):
            raise ConfigError(f"train-classifier needs --{name} FILE or --{name}-from RUN (one of them)")
        if path:
            return read_texts(path, args.text_field)
        reasons = tuple(r.strip() for r in (getattr(args, f"{name}_reason") or "").split(",") if r.strip())
        return texts_from_run(run, reasons, getattr(args, f"{name}_stage") or "")

    res = train_classifier(side("pos"), side("neg"), args.out, epoch=args.epoch, lr=args.lr,
                           word_ngrams=args.word_ngrams, dim=args.dim, seed=args.seed, bucket=args.bucket,
                           quantize=not args.no_quantize, holdout=args.holdout)
    h = res["heldout"]
    measured = (f"held-out accuracy {h['accuracy']:.3f} on {h['docs']:,} documents ({h['pos']:,} positive: recall "
                f"{_maybe(h['pos_recall'])}, precision {_maybe(h['pos_precision'])})" if h["docs"] else
                "no documents held out (--holdout 0, or too few): no held-out measure")
    print(f"trained on {res['pos']:,} positive and {res['neg']:,} negative documents; {measured}; training "
          f"accuracy {res['train_accuracy']:.3f}; model: {res['model']} ({res['bytes'] / 1e6:.1f} MB)")
    return 0


def _maybe(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def cmd_shards(args: argparse.Namespace) -> int:
    from pipeline.config_flags import values_from_flags
    from pipeline.settings import build
    from pipeline.shard_format import MANIFEST, read_manifest
    from pipeline.shards import build_shards
    from pipeline.shards_settings import ShardsConfig

    variants: dict[str, Path] = {}
    for v in args.variant:
        if "=" not in v:
            raise ConfigError(f"--variant {v!r}: expected NAME=FOLDER")
        name, folder = v.split("=", 1)
        variants[name] = Path(folder)
    if args.input:
        variants = {"default": Path(args.input), **variants}
    values = values_from_flags(ShardsConfig, args, args.config_flags)
    if values.get("tokenizer"):
        values["tokenizer"] = str(Path(values["tokenizer"]).resolve())
    cfg = build(ShardsConfig, values, "shards")
    build_shards(variants, Path(args.output), cfg, progress=not args.no_progress)
    man = read_manifest(args.output)
    for v, x in man.variants.items():
        print(f"{v}: " + ", ".join(f"{b} = {y.tokens:,} tokens in {len(y.shards)} shard(s)"
                                   for b, y in x.budgets.items()))
    print(f"validation: {man.validation.tokens:,} tokens; manifest: {Path(args.output) / MANIFEST}")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from pipeline.card import diff_reports, load_report, render_card, verify

    if args.action == "show":
        from pipeline.card import EXPLORER, explorer_hash

        report = load_report(args.runs[0])
        print(render_card(report, explorer_hash(Path(args.runs[0]) / EXPLORER) == report["config_hash"]))
        return 0
    if args.action == "html":
        from pipeline.card_html import write_explorer
        from pipeline.inspect_run import RunView

        if len(args.runs) != 1:
            raise ConfigError("corpusprep card html needs one run (its output folder or card folder)")
        path = write_explorer(RunView.open(args.runs[0]), Path(args.out) if args.out else None)
        print(f"explorer: {path} ({path.stat().st_size / 1e6:.2f} MB; open it in a browser, no server needed)")
        return 0
    if args.action == "diff":
        if len(args.runs) != 2:
            raise ConfigError("corpusprep card diff needs two runs")
        print("\n".join(diff_reports(load_report(args.runs[0]), load_report(args.runs[1]))))
        return 0
    problems = verify(args.runs[0])
    from pipeline.export_verify import EXPORT_MANIFEST

    what = f"the export matches its {EXPORT_MANIFEST}" if (Path(args.runs[0]) / EXPORT_MANIFEST).exists() else \
        "all shards match the manifest"
    print("\n".join(problems) if problems else f"{what} (sha256 and token counts)")
    return 1 if problems else 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipeline.export import export
    from pipeline.shard_format import parse_tokens

    m = export(args.shards, args.format, args.out, args.variant, args.budget, args.validation,
               parse_tokens(args.buffer_tokens))
    what = "already there, verified" if m.get("reused") else f"in {m['seconds']:.2f} s"
    print(f"{m['source']['variant']} {m['source']['budget']}: {m['tokens']:,} tokens, {m['docs']:,} documents as "
          f"{args.format} ({m['dtype']}) in {args.out} ({what}); `corpusprep card verify {args.out}` re-checks it")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    from pipeline.export import FORMATS

    p = sub.add_parser("export", help="a budget of a shard folder in a trainer's format (Megatron, nanotron, npy)",
                       description="Write exactly one budget's tokens (or the validation split's), in its "
                                   "document order, as Megatron-LM/NeMo .bin+.idx, nanotron/DataTrove .ds, or a "
                                   "flat npy memmap (OLMo, nanoGPT); the tokenizer and export.json go beside them.")
    p.add_argument("shards", help="shard folder (a run's shards/, or `corpusprep shards --output`)")
    p.add_argument("--format", required=True, choices=FORMATS, help="the trainer format")
    p.add_argument("--variant", help="the variant to export (see the card's Tokens section)")
    p.add_argument("--budget", help="its budget, e.g. 400K")
    p.add_argument("--validation", action="store_true", help="export the shared validation split instead")
    p.add_argument("--out", required=True, help="export folder (created; must not hold anything else)")
    p.add_argument("--buffer-tokens", default="1M",
                   help="tokens held before a write (memory: one shard, one document and this; default 1M)")


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


def add_pipeline_commands(sub: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    """The pipeline's subcommands on `sub`; returns name -> function."""
    from pipeline.config_flags import add_config_flags
    from pipeline.shards_settings import ShardsConfig

    _add_run(sub)
    _add_stage(sub)
    sub.add_parser("stages", help="list stages with their config fields and defaults")
    p = sub.add_parser("train-classifier", help="train a fastText classifier (pos vs neg documents)",
                       description="Train a supervised fastText model: __label__pos vs __label__neg. "
                                   "Safety uses pos = unsafe; quality uses pos = reference quality.")
    for name, what in (("pos", "positive"), ("neg", "negative")):
        p.add_argument(f"--{name}", help=f"{what} documents: JSONL (text field) or text (one a line)")
        p.add_argument(f"--{name}-from", metavar="RUN", help=f"{what} documents from a run's output folder: those "
                       f"dropped for --{name}-reason, or else those --{name}-stage kept")
        p.add_argument(f"--{name}-reason", metavar="STAGE.REASON[,...]",
                       help="drop reasons, as the card's 'Drops by reason' names them (e.g. safety.bad_word_ratio)")
        p.add_argument(f"--{name}-stage", metavar="STAGE", help="whose kept documents (default: the run's last stage)")
    p.add_argument("--out", required=True, help="model file to write")
    p.add_argument("--text-field", default="text", help="JSONL field holding the text")
    p.add_argument("--holdout", type=float, default=0.1, help="share of each side held out to measure the model")
    p.add_argument("--epoch", type=int, default=10, help="training epochs")
    p.add_argument("--lr", type=float, default=0.5, help="learning rate")
    p.add_argument("--word-ngrams", type=int, default=2, help="word n-gram features")
    p.add_argument("--dim", type=int, default=64, help="embedding size")
    p.add_argument("--bucket", type=int, default=200_000, help="hashed n-gram buckets (fastText's 2M took 524 MB)")
    p.add_argument("--no-quantize", action="store_true", help="keep the full model (quantized: a few MB)")
    p.add_argument("--seed", type=int, default=0, help="seed")
    p = sub.add_parser("shards", help="tokenize stage outputs into Arrow shards at token budgets",
                       description="Nested token budgets of one or more quality variants, one shared "
                                   "validation split (from the last variant), a manifest with sha256s.")
    p.add_argument("--input", help="a stage output folder (variant 'default')")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=FOLDER",
                   help="shards.variants: a quality variant from a stage output folder; repeat; the last is "
                        "the cleanest (default: {})")
    p.add_argument("--output", required=True, help="shard folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(config_flags=add_config_flags(p, ShardsConfig, skip=("variants",), title="shards settings"))
    p = sub.add_parser("card", help="show, diff, verify data cards, or write an HTML explorer of a run",
                       description="show RUN | diff RUN_A RUN_B | verify RUN | html RUN; RUN is a card folder "
                                   "(data_cards/<name>) or a run output folder; verify also takes a shard "
                                   "folder made by `corpusprep shards` or an export; html writes one "
                                   "self-contained explorer.html beside the run's card (or --out)")
    p.add_argument("action", choices=["show", "diff", "verify", "html"])
    p.add_argument("runs", nargs="+", help="card or run folder(s)")
    p.add_argument("--out", help="html: the file to write (default: explorer.html in the run's card folder)")
    _add_export(sub)
    from pipeline.inspect_cli import add_inspect, cmd_inspect

    add_inspect(sub)
    p = sub.add_parser("sample", help="build the built-in default corpus (offline)")
    p.add_argument("--out", default=DEFAULT_SAMPLE, help=f"output folder (default {DEFAULT_SAMPLE})")
    p.add_argument("--seed", type=int, default=0, help="seed: same seed, same corpus")
    return {"run": cmd_run, "stage": cmd_stage, "stages": cmd_stages, "sample": cmd_sample,
            "train-classifier": cmd_train_classifier, "shards": cmd_shards, "card": cmd_card,
            "export": cmd_export, "inspect": cmd_inspect}
