"""What `corpusprep inspect` shows of a finished run: the documents behind a drop reason, one
document's journey through every step, a duplicate cluster, a benchmark's leaks. Each answer is a
plain dict (printed by inspect_cli, drawn by card_html), built from files the run wrote.
"""
from __future__ import annotations

import difflib
import random
from typing import Any

import pyarrow.parquet as pq

from pipeline.errors import ConfigError
from pipeline.formatting import excerpt
from pipeline.inspect_run import RunView
from pipeline.stage_folder import STATE
from pipeline.stages.decontam_index import match_spans
from pipeline.stages.dedup import shingler


def reason_view(view: RunView, code: str, n: int = 5, seed: int = 0) -> dict[str, Any]:
    """`n` documents dropped for `code` (STAGE.REASON), drawn with `seed` (reservoir sampling as
    the drops stream by), each with what its stage says triggered the drop (the measure against
    its threshold, the text around it)."""
    stage = code.split(".", 1)[0]
    if "." not in code or stage not in view.folders:
        raise ConfigError(f"--reason {code!r}: expected STAGE.REASON with a stage of this run "
                          f"({', '.join(view.folders)}); the card's 'Drops by reason' lists them")
    rng, picked, seen, known = random.Random(seed), [], 0, set()
    f = view.drops_file(stage)
    batches = pq.ParquetFile(f).iter_batches(batch_size=10_000, columns=["id", "reason"]) if f.exists() else []
    for b in batches:
        for doc_id, reason in zip(b.column(0).to_pylist(), b.column(1).to_pylist()):
            known.add(reason)
            if reason != code:
                continue
            seen += 1
            if len(picked) < n:
                picked.append(doc_id)
            elif (j := rng.randrange(seen)) < n:
                picked[j] = doc_id
    if not seen:
        raise ConfigError(f"no document of {view.root} was dropped for {code}; its {stage} reasons: "
                          f"{', '.join(sorted(known)) or 'none'}")
    rows = sorted(view.scan([f], "id", picked).to_pylist(), key=lambda r: r["id"])
    obj = view.stage(stage) if stage != "read" else None
    measures = _measure_rows(view, stage, picked)
    out = []
    for r in rows:
        why = obj.explain_drop(r, measures.get(r["id"]), lambda i: view.text_into(stage, i)) if obj else \
            {"excerpt": r["detail"]}
        out.append({"id": r["id"], "url": r["url"], "detail": r["detail"], **why})
    return {"reason": code, "dropped": seen, "shown": out, "seed": seed}


def _measure_rows(view: RunView, stage: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    f = view.measures_file(stage) if stage != "read" else None
    if f is None or not ids:
        return {}
    return {r["id"]: r for r in view.scan([f], "id", ids).to_pylist()}


def doc_view(view: RunView, doc_id: str) -> dict[str, Any]:
    """Step by step: the verdict, the reason, the stored measures, whether the text changed (with
    a diff where both texts were kept), the dedup cluster and the decontam matches. A document no
    step dropped was kept by all of them: the last step's output (always written) holds it."""
    names = list(view.folders)
    drops = {}
    for name in names:
        d = view.drop_of(name, doc_id)
        if d is not None:
            drops[name] = d
            break
    if not drops and view.kept_text(names[-1], doc_id) is None:
        raise ConfigError(f"no document {doc_id!r} in {view.root} (ids as drops.parquet and the parts hold them)")
    steps, prev_text = [], None
    for name in names:
        drop = drops.get(name)
        step: dict[str, Any] = {"step": name, "verdict": "dropped" if drop else "kept"}
        if drop:
            step.update(reason=drop["reason"], detail=drop["detail"])
        text = (drop["text"] or None) if drop else (view.kept_text(name, doc_id) if view.written(name) else None)
        if name != "read":
            step.update(_changes(prev_text, text, drop is not None))
            m = _measure_rows(view, name, [doc_id]).get(doc_id)
            if m:
                step["measures"] = {k: v for k, v in m.items() if k not in ("id", "bytes") and v is not None}
        step.update(_stage_extras(view, name, doc_id))
        steps.append(step)
        prev_text = text if text is not None else prev_text
        if drop:
            break
    return {"id": doc_id, "steps": steps, "final": "dropped" if drops else "kept"}


def _changes(before: str | None, after: str | None, dropped: bool) -> dict[str, Any]:
    if dropped:
        return {}
    if before is None or after is None:
        return {"text": "not kept at this step (run.stage_outputs = \"all\" keeps every step's text)"}
    if before == after:
        return {"text": "unchanged"}
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after", n=1, lineterm=""))
    return {"text": f"changed: {len(before):,} -> {len(after):,} characters", "diff": diff[:40],
            "diff_lines": len(diff)}


def _stage_extras(view: RunView, name: str, doc_id: str) -> dict[str, Any]:
    """Dedup: the document's cluster; decontam: its matches (where the stage is in the run)."""
    if name == "dedup" and (view.folder(name) / STATE).exists():
        c = cluster_view(view, doc_id, texts=False)
        return {"cluster": {"kept": c["kept"], "members": [m["id"] for m in c["members"]]}} if c["members"] else {}
    if name == "decontam" and (view.folder(name) / STATE).exists():
        rows = view.stage(name).matches(doc_id=doc_id)
        return {"matches": [(f"{r['benchmark']}#{r['item']}", r["method"], r["gram"]) for r in rows[:10]]} \
            if rows else {}
    return {}


def cluster_view(view: RunView, doc_id: str, texts: bool = True) -> dict[str, Any]:
    """The dedup cluster `doc_id` belongs to: the kept member, and each removed one with its true
    Jaccard to the kept text and how it was found (exact or minhash)."""
    f = [view.drops_file("dedup")]
    mine = view.drop_of("dedup", doc_id)
    kept = mine["detail"] if mine else doc_id
    members = view.scan(f, "detail", kept, ["id", "reason", "detail", "text"])
    out: dict[str, Any] = {"kept": kept, "members": []}
    if not len(members):
        return out
    kept_text = view.text_into("dedup", kept) if texts else None
    sh = shingler(view.stage("dedup").config)
    for r in members.to_pylist():
        m: dict[str, Any] = {"id": r["id"], "how": r["reason"]}
        if texts:
            m["jaccard"] = round(sh.jaccard(r["text"], kept_text), 4) if kept_text is not None and r["text"] else None
            m["excerpt"] = excerpt(r["text"], 0, 0, 400)
        out["members"].append(m)
    if texts:
        out["kept_excerpt"] = excerpt(kept_text, 0, 0, 400) if kept_text else None
    return out


def leaks_view(view: RunView, bench: str, n: int = 10) -> dict[str, Any]:
    """The documents that matched `bench`'s items: per document its verdict, the items, and the
    text around each matched span."""
    rows = view.stage("decontam").matches(bench=bench)
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_doc.setdefault(r["id"], []).append(r)
    docs = []
    for doc_id in sorted(by_doc)[:n]:
        ms = by_doc[doc_id]
        drop = view.drop_of("decontam", doc_id)
        text = drop["text"] if drop and drop["text"] else view.text_into("decontam", doc_id)
        spans = match_spans(text, [m["gram"] for m in ms]) if text else []
        docs.append({"id": doc_id, "verdict": drop["reason"] if drop else "kept",
                     "items": sorted({m["item"] for m in ms}), "grams": [m["gram"] for m in ms[:5]],
                     "spans": [excerpt(text, a, b, 120) for a, b in spans[:3]]})
    return {"benchmark": bench, "docs": len(by_doc), "items": len({r["item"] for r in rows}), "shown": docs}
