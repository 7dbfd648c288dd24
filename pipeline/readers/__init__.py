"""Input formats as a table: one module per format, one line each in READERS.

A reader module defines a `Reader` subclass: its name, the name endings and first bytes it
claims, its own settings (a frozen `Config`), and how it turns a source into documents, skips and
counts. Everything else is derived from the table: `InputConfig` (the `[input]` settings: the
fields every reader shares, plus each reader's own), the `input.format` choices, format
detection, and the formats that help texts and errors list. So adding a format is one module
and one line here (tests/pipeline/test_readers.py adds one that way).

Detection of a file (input.format = auto) asks the readers in table order; a reader looks at the
name and, where that is not enough, at the first bytes: a gzipped WARC is a WARC whatever it is
called, and a WARC whose records are conversions is a WET file.
"""
from __future__ import annotations

import dataclasses
import glob as globmod
import typing
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from pipeline import stage_folder
from pipeline.errors import ConfigError, InputError
from pipeline.readers.base import Count, Head, Item, Reader, Skip, Source, config_of
from pipeline.readers.html_files import HtmlFilesReader
from pipeline.readers.jsonl import JsonlReader
from pipeline.readers.parquet import ParquetReader
from pipeline.readers.saved_datasets import SavedDatasetsReader
from pipeline.readers.warc import WarcReader
from pipeline.readers.wet import WetReader

READERS: dict[str, type[Reader]] = {r.name: r for r in (
    JsonlReader,
    ParquetReader,
    HtmlFilesReader,
    WarcReader,
    WetReader,
    SavedDatasetsReader,
)}

__all__ = ["READERS", "Count", "InputConfig", "Item", "Listing", "Reader", "Skip", "Source", "check_sources",
           "formats_help", "list_sources", "read_source"]


def formats_help() -> str:
    """The formats, one line each, for help texts and errors."""
    return "; ".join(f"{name}: {r.description}" for name, r in READERS.items())


def _check(self: Any) -> None:
    """InputConfig's checks: the format, each field's declared bounds, then each reader's own."""
    if self.format != "auto" and self.format not in READERS:
        raise ConfigError(f"input.format = {self.format!r}: unknown format; available: auto, {', '.join(READERS)}")
    for f in dataclasses.fields(self):
        value = getattr(self, f.name)
        if f.metadata.get("nonempty") and not value:
            raise ConfigError(f"input.{f.name} must not be empty")
        if "min" in f.metadata and value < f.metadata["min"]:
            raise ConfigError(f"input.{f.name} = {value}: must be >= {f.metadata['min']}")
    for reader in READERS.values():
        config_of(reader, self)


def _input_config() -> type:
    """The `[input]` settings: where the data is and its format, then every reader's fields (one
    definition each: readers that share a setting share its dataclass field)."""
    spec: list[tuple[str, Any, Any]] = [
        ("path", str, field(metadata={"help": "file, folder or glob of input data"})),
        ("format", str, field(default="auto", metadata={
            "help": f"auto (each file's format from its name and first bytes) or one of {', '.join(READERS)}"})),
        ("labels", str, field(default="", metadata={
            "help": "ground-truth labels (JSONL: id, kind), e.g. the default corpus's labels.jsonl; "
                    "stages then report recall and precision against them"})),
    ]
    owners: dict[str, tuple[dataclasses.Field, Any, list[str]]] = {}
    for reader in READERS.values():
        hints = typing.get_type_hints(reader.Config)
        for f in dataclasses.fields(reader.Config):
            if f.name in owners and owners[f.name][0] is not f:
                raise TypeError(f"readers {owners[f.name][2][0]} and {reader.name} both define input.{f.name}: "
                                "share one definition (pipeline/readers/base.py)")
            owners.setdefault(f.name, (f, hints[f.name], []))[2].append(reader.name)
    for name, (f, tp, users) in owners.items():
        meta = dict(f.metadata, help=f"{f.metadata['help']} [{', '.join(users)}]")
        spec.append((name, tp, field(default=f.default, metadata=meta)))
    return dataclasses.make_dataclass("InputConfig", spec, frozen=True, namespace={
        "__post_init__": _check, "__module__": __name__,
        "__doc__": "Where the raw documents come from, in which format, and each format's settings."})


InputConfig = _input_config()


@dataclass(frozen=True)
class Listing:
    """What an input resolves to: the sources to read, in order, and the files of a folder that
    no reader claims, counted by suffix (so the run can say what it did not read)."""

    sources: list[Source]
    unread: dict[str, int]


def detect(path: Path) -> str | None:
    """The format of one file (the first reader in table order that claims it), or None."""
    head = Head(path)
    return next((name for name, r in READERS.items() if r.claims(path, head)), None)


def list_sources(cfg: Any, group: int = 1000) -> Listing:
    """Resolve the configured input into sources, or raise InputError naming what is wrong."""
    raw = cfg.path
    if any(c in raw for c in "*?["):
        files = sorted(Path(p) for p in globmod.glob(raw, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"input {raw!r}: the pattern matches no file")
        root = Path(raw.split("*")[0]).parent
    else:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"input {raw!r} does not exist; check input.path in the config")
        whole = READERS[cfg.format] if cfg.format != "auto" else next(
            (r for r in READERS.values() if p.is_dir() and r.claims_folder(p)), None)
        if whole is not None and whole.whole_folder:
            return Listing([Source(whole.name, (str(p),), p.name)], {})
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.name not in stage_folder.NOT_INPUTS
                           and not any(x.startswith((".", "_")) for x in f.relative_to(p).parts))
            root = p
        else:
            files, root = [p], p.parent
    by_format: dict[str, list[Path]] = {}
    unread: Counter = Counter()
    for f in files:
        fmt = cfg.format if cfg.format != "auto" else detect(f)
        if fmt is None:
            if len(files) == 1:
                raise InputError(f"input {f}: cannot tell its format from its name or first bytes; known: "
                                 f"{formats_help()}; or set input.format")
            unread["".join(f.suffixes[-2:]).lower() or "(no suffix)"] += 1
            continue
        by_format.setdefault(fmt, []).append(f)
    if not by_format:
        raise InputError(f"input {raw!r}: no readable file found ({len(files)} file(s), none in a known format); "
                         f"known: {formats_help()}")
    sources = [s for fmt in sorted(by_format) for s in READERS[fmt].sources(by_format[fmt], root, group)]
    return Listing(sources, dict(sorted(unread.items())))


def check_sources(listing: Listing, cfg: Any, stages: tuple[str, ...] = ()) -> None:
    """Start-up checks of an input, before anything is written: each source as its reader
    checks it, and text-only formats (WET) not fed to the html stage."""
    text_only = sorted({s.format for s in listing.sources if READERS[s.format].text_only})
    if "html" in stages and text_only:
        raise InputError(f"input {cfg.path}: {', '.join(text_only)} files hold plain text already, and the html "
                         "stage would parse it as HTML; remove the html stage (e.g. safety -> quality -> dedup)")
    readers = {name: r(config_of(r, cfg)) for name, r in READERS.items()}
    for src in listing.sources:
        readers[src.format].check(src)


def read_source(src: Source, cfg: Any) -> Iterator[Item]:
    """The documents, skips and counts of one source, read by its format's reader."""
    reader = READERS[src.format]
    yield from reader(config_of(reader, cfg)).read(src)
