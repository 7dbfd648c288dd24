"""What a run's card is made from: the config, every step's stats, and where the data and the
code came from. The versions are those of the distributions the run's own stages and readers
declare (`packages`); the licence notes come from the stages (`licence_note`) and from the
input's own metadata: a `manifest.json` beside the input (or one folder up) whose `licence` says
under which terms its documents are, as the default corpus writes one."""
from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline import stage_folder
from pipeline.config import RunConfig
from pipeline.readers import READERS, Listing
from pipeline.settings import is_url
from pipeline.shard_format import exports_of

ALWAYS = ("corpusprep", "numpy", "pyarrow")  # what every run uses
SHARDS = ("tokenizers",)


def run_report(cfg: RunConfig, listing: Listing, stats: list[dict[str, Any]], seconds: float,
               shards: dict[str, Any] | None = None) -> dict[str, Any]:
    final = stats[-1]
    exports = exports_of(Path(cfg.run.output) / stage_folder.SHARDS) if shards else []
    return {
        "name": cfg.run.name,
        "config": cfg.source,
        "config_hash": cfg.config_hash(),
        "input": {"path": cfg.source.get("input", {}).get("path", cfg.input.path),
                  "format": cfg.input.format,
                  "sources": stats[0].get("sources", [])},
        "stages": stats,
        "docs_in": stats[0]["docs_in"],
        "docs_kept": final["docs_out"],
        "docs_dropped": sum(s["docs_dropped"] for s in stats),
        "seconds": round(seconds, 3),
        "versions": versions(cfg, listing),
        "shards": shards and dict(shards, folder=_shards_folder(cfg)),
        "licences": licence_notes(cfg),
        **({"exports": exports} if exports else {}),  # made by `corpusprep export` before a re-run
    }


def versions(cfg: RunConfig, listing: Listing) -> dict[str, str]:
    """The installed versions of what this run used: corpusprep and its ground, its readers'
    and stages' packages, and the tokenizer's when it makes shards."""
    names = set(ALWAYS) | {p for s in cfg.stages for p in s.cls.packages}
    names |= {p for fmt in {s.format for s in listing.sources} for p in READERS[fmt].packages}
    names |= set(SHARDS) if cfg.shards is not None else set()
    out = {}
    for pkg in sorted(names):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def licence_notes(cfg: RunConfig) -> list[str]:
    """Where the data came from and under which terms, as far as the run knows."""
    return [n for n in [input_licence(Path(cfg.input.path))] + [s.cls.licence_note(s.config) for s in cfg.stages] if n]


def input_licence(path: Path) -> str:
    """The `licence` of a manifest.json beside the input or one folder up ('' where there is none)."""
    for folder in (path if path.is_dir() else path.parent, (path if path.is_dir() else path.parent).parent):
        manifest = folder / "manifest.json"
        if manifest.is_file():
            try:
                licence = json.loads(manifest.read_text(encoding="utf-8")).get("licence", "")
            except (ValueError, UnicodeDecodeError, AttributeError):
                continue
            if licence:
                return f"Input: {licence}"
    return ""


def _shards_folder(cfg: RunConfig) -> str:
    """Where the shards are for a reader of the card: the output URL's shards for a remote run,
    not the scratch copy the run worked in."""
    output = cfg.source.get("run", {}).get("output", "")
    if is_url(output):
        return f"{output.rstrip('/')}/{stage_folder.SHARDS}"
    return str(Path(cfg.run.output) / stage_folder.SHARDS)
