"""`card verify` on an export folder: is it still what `corpusprep export` wrote?

Its own module so that the card reads exports without the exporter (which lists itself in the
card: each would import the other).
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.export_formats import counts
from pipeline.text import sha256_file

EXPORT_MANIFEST = "export.json"


def verify_export(folder: str | Path) -> list[str]:
    """Every file's sha256 and size, and the token and document counts read from the files as the
    trainer's reader sees them, against export.json."""
    folder = Path(folder)
    try:
        m = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))
        fmt, files = m["trainer_format"], m["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"{folder / EXPORT_MANIFEST}: not a corpusprep export manifest ({e}); export again"]
    problems = []
    for f in files:
        p = folder / f["path"]
        if not p.is_file():
            problems.append(f"{p} listed in {EXPORT_MANIFEST} is missing")
        elif p.stat().st_size != f["bytes"] or sha256_file(p) != f["sha256"]:
            problems.append(f"{p} does not match {EXPORT_MANIFEST} (size or sha256 differs): the file is corrupted; "
                            "export again")
    if problems:
        return problems
    tokens, docs = counts(folder, fmt, m["dtype"], m["eos_id"])
    if (tokens, docs) != (m["tokens"], m["docs"]):
        problems.append(f"{folder}: the {fmt} files hold {tokens:,} tokens in {docs:,} documents, {EXPORT_MANIFEST} "
                        f"says {m['tokens']:,} in {m['docs']:,}")
    return problems
