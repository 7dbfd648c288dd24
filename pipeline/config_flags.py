"""Command-line flags made from a config dataclass, so a command cannot drift from its config.

Each field becomes `--field-name VALUE` with the field's help and default in `--help`; a value
reads as in `--set` (a TOML value, else a string), and a tuple field also takes a comma list
(`--budgets 1M,2M,4M`). Only the flags given are passed on, so the dataclass stays the one
place a default is written.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from pipeline.settings import default_of, parse_override


def add_config_flags(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (),
                     title: str = "") -> list[str]:
    """A flag for every field of `cls` but `skip`, in a group titled `title`; returns their names."""
    group = parser.add_argument_group(title or f"{cls.__name__} settings")
    names = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = default_of(f)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, metavar="VALUE",
                           help=f"{f.metadata.get('help', '')} (default: {shown!r})")
        names.append(f.name)
    return names


def values_from_flags(cls: type, args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The flags given on the command line, as values for `pipeline.config.build(cls, ...)`."""
    hints = typing.get_type_hints(cls)
    out = {}
    for name in names:
        raw = getattr(args, name)
        if raw is None:
            continue
        tp = hints[name]
        if tp is str:
            out[name] = raw
        elif typing.get_origin(tp) is tuple and not raw.lstrip().startswith("["):
            out[name] = [x.strip() for x in raw.split(",") if x.strip()]
        else:
            out[name] = parse_override(f"v={raw}")[1]
    return out
