"""Recall and precision of a stage against planted ground truth (the default corpus's labels).

A stage declares the label kinds it is meant to remove (`ground_truth_kinds`); for the documents
that reach it, recall = planted targets it dropped / planted targets it saw, precision = planted
targets it dropped / all it dropped, and `clean_dropped` is the share of clean documents it lost.
"""
from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pyarrow.parquet as pq


@lru_cache(maxsize=4)
def load_labels(path: str) -> dict[str, str]:
    """id -> kind."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                out[r["id"]] = r["kind"]
    return out


def _ids(paths: list[Path]) -> list[str]:
    return [i for p in paths for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()]


def evaluate(labels_path: str, kinds: tuple[str, ...], in_parts: list[Path], drops_path: Path) -> dict:
    labels = load_labels(labels_path)
    seen = Counter(labels.get(i, "unlabelled") for i in _ids(in_parts))
    dropped = Counter(labels.get(i, "unlabelled") for i in _ids([drops_path]))
    targets_in = sum(seen[k] for k in kinds)
    targets_dropped = sum(dropped[k] for k in kinds)
    total_dropped = sum(dropped.values())
    out = {
        "kinds": list(kinds),
        "targets_in": targets_in,
        "targets_dropped": targets_dropped,
        "recall": round(targets_dropped / targets_in, 4) if targets_in else None,
        "precision": round(targets_dropped / total_dropped, 4) if total_dropped else None,
        "clean_in": seen["clean"],
        "clean_dropped": dropped["clean"],
        "clean_dropped_share": round(dropped["clean"] / seen["clean"], 4) if seen["clean"] else None,
        "dropped_by_kind": dict(sorted(dropped.items())),
    }
    return out
