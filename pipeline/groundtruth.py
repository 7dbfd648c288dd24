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
def load_label_records(path: str) -> dict[str, dict]:
    with open(path, encoding="utf-8") as fh:
        return {r["id"]: r for r in map(json.loads, filter(str.strip, fh))}


def load_labels(path: str) -> dict[str, str]:
    """id -> kind."""
    return {i: r["kind"] for i, r in load_label_records(path).items()}


def ids_of(paths: list[Path]) -> list[str]:
    """The `id` column of Parquet files (document parts or drops), in order."""
    return [i for p in paths for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()]


def recall_against_labels(labels_path: str, kinds: tuple[str, ...], in_ids: list[str], drops_path: Path,
             breakdown: str = "") -> dict:
    """`in_ids`: the documents that reached the stage (from its input parts, or, when a fused
    run did not write them, from what it kept and dropped)."""
    labels = load_labels(labels_path)
    drop_ids = ids_of([drops_path])
    seen = Counter(labels.get(i, "unlabelled") for i in in_ids)
    dropped = Counter(labels.get(i, "unlabelled") for i in drop_ids)
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
    if breakdown:
        recs = load_label_records(labels_path)
        by_in = Counter(recs[i].get(breakdown) for i in in_ids if labels.get(i) in kinds)
        by_drop = Counter(recs[i].get(breakdown) for i in drop_ids if labels.get(i) in kinds)
        out[f"recall_by_{breakdown}"] = {str(k): round(by_drop[k] / n, 4) for k, n in sorted(by_in.items(), key=str)}
    return out


JACCARD_BINS = ((0.0, 0.6), (0.6, 0.85), (0.85, 1.01))


def planted_pairs_found(labels_path: str, in_ids: list[str], drops_path: Path) -> dict:
    """Planted duplicate pairs (`of`, `jaccard` in the labels) that reach the stage: the share
    put in one cluster (the dropped member's detail names the kept id), by true Jaccard."""
    recs = load_label_records(labels_path)
    present = set(in_ids)
    drops = pq.read_table(drops_path, columns=["id", "detail"]).to_pydict()
    rep = dict(zip(drops["id"], drops["detail"]))
    out = {}
    for lo, hi in JACCARD_BINS:
        pairs = [(i, r["of"]) for i, r in recs.items() if "of" in r and lo <= r["jaccard"] < hi
                 and i in present and r["of"] in present]
        hit = sum(rep.get(a, a) == rep.get(b, b) for a, b in pairs)
        out[f"jaccard_{lo:.2f}_{min(hi, 1.0):.2f}"] = {
            "pairs": len(pairs), "removed": hit, "share": round(hit / len(pairs), 4) if pairs else None}
    return out
