"""What a read's numbers say a user should know, in one line each.

A run that reads nothing, or skips most of its records for one reason, or leaves files of a
folder unread, finishes without an error (every record is accounted for), and that is why it
must say so: the lines are kept in the read's stats, printed at the end of the read and shown at
the top of the data card. The first skip of a reason carries its hint ("set input.text_field").
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

MOST = 0.5  # one reason for at least this share of the records is worth a line


def read_warnings(stats: dict[str, Any], drops: Path, unread: dict[str, int], where: str) -> list[str]:
    records = stats["docs_in"]
    others = sum(v for k, v in stats.get("counters", {}).items() if k.startswith("records."))
    out = []
    if records == 0:
        out.append(f"input {where}: nothing to read (no records)" if not others else
                   f"input {where}: none of its {others:,} records is a document ({_kinds(stats)})")
    for reason, n in sorted(stats["drops"].items(), key=lambda kv: -kv[1]):
        if records and n >= MOST * records:
            rid, detail = _first(drops, reason)
            out.append(f"{n:,} of {records:,} records skipped as {reason}, e.g. {rid}: {detail}")
    if unread:
        files = ", ".join(f"{k} {v:,}" for k, v in unread.items())
        out.append(f"input {where}: {sum(unread.values()):,} file(s) not read, in no known format ({files}); "
                   "set input.format to read them as one")
    return out


def _kinds(stats: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(stats["counters"].items()) if k.startswith(("records.",
                                                                                                 "responses.")))


def _first(drops: Path, reason: str) -> tuple[str, str]:
    """The id and detail of the first drop of `reason` (the drops file is in read order)."""
    for batch in pq.ParquetFile(drops).iter_batches(batch_size=4096, columns=["id", "reason", "detail"]):
        for rid, r, detail in zip(*(batch.column(i).to_pylist() for i in range(3))):
            if r == reason:
                return rid, detail
    return "", ""
