"""`corpusprep`: the one command line. It owns the parser frame, the error and exit-code policy
and the command table; the pipeline's commands (pipeline/cli.py) and training's
(training/cli.py) register in it, and `demo`, which runs both, lives here. The console script and
`python -m corpusprep` (the module torchrun starts: `torchrun ... -m corpusprep train ...`) are
the same entry point.

Exit codes: 0 done; 2 a user error (one line: which file, key or setting, and what to do); 3 the
disk is full; 141 a closed pipe; 143 stopped (SIGTERM, Ctrl-C). Anything else is a bug, and its
traceback is shown.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Callable

from pipeline import stage_folder
from pipeline.cli import DEFAULT_SAMPLE, add_pipeline_commands, as_flags
from pipeline.errors import UserError
from training.cli import add_training_commands

DEFAULT_CONFIG = "configs/default.toml"
DEFAULT_SWEEP = "configs/sweep_default.toml"
Command = Callable[[argparse.Namespace], int]


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the built-in corpus: sample -> pipeline -> shards -> card -> sweep -> report."""
    import time

    from pipeline.config import load_run_config
    from pipeline.runner import run
    from pipeline.sample.build import build_sample
    from training.sweep import build_sweep_report, knnlm_skipped, load_sweep, run_sweep

    t0 = time.perf_counter()
    sample = Path(args.sample)
    if not (sample / "manifest.json").exists():
        print(f"building the default corpus in {sample} ...")
        build_sample(sample, seed=args.seed)
    cfg = load_run_config(args.config, [f"run.workers={args.workers}"])
    sweep = None if args.no_sweep else load_sweep(args.sweep)
    missing = sweep and knnlm_skipped(sweep)
    if missing:  # said before minutes of work, not after them
        print(f"sweep.knnlm: {missing}; the demo runs everything else and its report says kNN-LM was not run")
    stamp = Path(cfg.run.output) / stage_folder.RECORD
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


def _add_demo(sub: argparse._SubParsersAction) -> dict[str, Command]:
    p = sub.add_parser("demo", help="the main job end to end on the default corpus")
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"run config (default {DEFAULT_CONFIG})")
    p.add_argument("--sample", default=DEFAULT_SAMPLE, help="where the default corpus is built")
    p.add_argument("--seed", type=int, default=0, help="corpus seed")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--sweep", default=DEFAULT_SWEEP, help=f"sweep config (default {DEFAULT_SWEEP})")
    p.add_argument("--no-sweep", action="store_true", help="stop after the pipeline and its card")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


    return {"demo": cmd_demo}


COMMANDS = (add_pipeline_commands, add_training_commands, _add_demo)  # each registers its commands


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The `corpusprep` parser with every command registered, and the name -> function map."""
    parser = argparse.ArgumentParser(prog="corpusprep", description=(
        "Prepare pre-training corpora (read -> html -> safety -> quality -> dedup -> decontam -> "
        "token shards) with a data card for every run, and train models on them."))
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log what the run does (stages, parts done and to do, resumes) to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Command] = {}
    for add in COMMANDS:
        commands.update(add(sub))
    return parser, commands


class Stopped(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so atomic writes remove their temp files on the way out."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Stopped()


def _disk_full(e: OSError) -> bool:
    import errno

    return e.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(e)


def main(argv: list[str] | None = None) -> int:
    """Parse, run the command, and turn what went wrong into the exit code policy above."""
    import signal

    parser, commands = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)  # forked workers inherit it
    try:
        return commands[args.command](args)
    except (UserError, FileNotFoundError) as e:  # anything else is a bug: its traceback is shown
        message = as_flags(str(e)) if args.command == "stage" else str(e)
        print(f"corpusprep {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `corpusprep stages | head`: the reader has all it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
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

