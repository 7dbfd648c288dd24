"""`corpusprep export`: one budget of a shard folder (or its validation split) in a trainer's own
format (`pipeline.export_formats`): exactly the budget's tokens, in its document order, with the
tokenizer beside them and a manifest (`export.json`) that `card verify` checks the files against.

Why a copy rather than a reader of our Arrow shards inside each trainer: Megatron-LM, NeMo,
nanotron and OLMo read their own files, and the glue a team writes to convert is where tokens
get lost (a document cut at a shard edge read as two, a last partial document dropped). Here a
document cut across shards is joined again before it is written, and the export's own reader
tests (tests/pipeline/test_export.py) read it back with each trainer's library.

The export is written into a temp folder beside `--out` and renamed into place when complete: a
killed export leaves no half folder, and an export that exists with the same source is verified
and kept (never redone).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pipeline import atomic, stage_folder
from pipeline.errors import ConfigError
from pipeline.export_formats import WRITERS
from pipeline.export_verify import EXPORT_MANIFEST, verify_export
from pipeline.shard_format import (
    EXPORTS,
    Entry,
    Manifest,
    ShardsError,
    budget_pieces,
    exports_of,
    problem,
    read_manifest,
)
from pipeline.text import sha256_file

EXPORT_FORMAT = "corpusprep-export/1"
FORMATS = tuple(WRITERS)


def documents(folder: Path, entry: Entry) -> Iterator[tuple[str, np.ndarray]]:
    """(doc_id, tokens) of each whole document of a budget in order, EOS last, the last one cut where
    the budget ends: the budget's pieces (`budget_pieces`), a document that a shard boundary cut
    joined again. Memory: one memory-mapped shard and one document."""
    held: tuple[str, list[np.ndarray]] | None = None
    for doc_id, at, toks in budget_pieces(folder, entry):
        if held is not None and at > 0 and held[0] == doc_id:
            held[1].append(toks)
            continue
        if held is not None:
            yield held[0], np.concatenate(held[1])
        held = doc_id, [toks]
    if held is not None:
        yield held[0], np.concatenate(held[1])


def select(man: Manifest, variant: str | None, budget: str | None, validation: bool) -> tuple[str, str, Entry]:
    """(variant, budget, entry) asked for: a variant's budget, or the validation split."""
    if validation:
        if budget or variant:
            raise ConfigError("--validation exports the shared validation split (drawn from the cleanest variant, "
                              "held out of every budget): give no --variant or --budget with it")
        return man.validation.facts.get("variant", ""), "validation", man.validation
    if not variant or not budget:
        raise ConfigError("export needs --variant and --budget (or --validation); the shard folder has: " + "; ".join(
            f"{v}: {', '.join(x.budgets)}" for v, x in man.variants.items()))
    return variant, budget, man.budget(variant, budget)


def export(shards: str | Path, fmt: str, out: str | Path, variant: str | None = None, budget: str | None = None,
           validation: bool = False, buffer_tokens: int = 1 << 20) -> dict[str, Any]:
    """Write the export; returns its manifest. Memory: one shard, one document and `buffer_tokens`."""
    t0, shards, out = time.perf_counter(), Path(shards), Path(out)
    if fmt not in WRITERS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(WRITERS)}")
    man = read_manifest(shards)
    variant, budget, entry = select(man, variant, budget, validation)
    source = {"shards": str(shards.resolve()), "manifest_sha256": sha256_file(shards / "manifest.json"),
              "variant": variant, "budget": budget, "tokenizer_sha256": man.tokenizer.sha256}
    if (done := _finished(out, fmt, source)) is not None:
        return done
    # sha256 alone: the token count is checked on what is written (`_write`), not by decoding each shard twice
    bad = [p for p in [man.tokenizer_problem(shards), *(problem(shards, s, count=False) for s in entry.shards)] if p]
    if bad:
        raise ShardsError("cannot export, the shards do not match their manifest:\n" + "\n".join(bad))
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        result = _write(tmp, fmt, shards, man, entry, source, buffer_tokens)
    except BaseException:  # killed or failed: no half export left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _into_place(tmp, out)
    record(shards, {"format": fmt, "path": str(out.resolve()), "variant": variant, "budget": budget,
                    "tokens": result["tokens"], "docs": result["docs"],
                    "manifest_sha256": sha256_file(out / EXPORT_MANIFEST)})
    return dict(result, seconds=round(time.perf_counter() - t0, 3))


def _write(tmp: Path, fmt: str, shards: Path, man: Manifest, entry: Entry, source: dict[str, Any],
           buffer_tokens: int) -> dict[str, Any]:
    """The export's files and export.json in `tmp`; returns export.json's contents."""
    writer = WRITERS[fmt](tmp, man.dtype, f"corpusprep:{man.tokenizer.sha256[:16]}")
    ids, batch, held = hashlib.sha256(), [], 0
    for doc_id, toks in documents(shards, entry):
        ids.update(doc_id.encode() + b"\n")
        batch.append(toks)
        held += len(toks)
        if held >= buffer_tokens:
            writer.add(batch)
            batch, held = [], 0
    writer.add(batch)
    files = writer.close()
    shutil.copyfile(shards / man.tokenizer.path, tmp / "tokenizer.json")
    result = {"format": EXPORT_FORMAT, "trainer_format": fmt, "source": source, "dtype": man.dtype,
              "vocab_size": man.tokenizer.vocab_size, "eos_id": man.tokenizer.eos_id, "tokenizer": "tokenizer.json",
              "tokens": writer.tokens, "docs": writer.docs, "doc_ids_sha256": ids.hexdigest(),
              "files": [{"path": f, "bytes": (tmp / f).stat().st_size, "sha256": sha256_file(tmp / f)}
                        for f in [*files, "tokenizer.json"]]}
    if writer.tokens != entry.tokens:
        raise ShardsError(f"exported {writer.tokens:,} tokens of {source['variant']} {source['budget']}, the "
                          f"manifest says {entry.tokens:,}: the shards are inconsistent; rebuild them with "
                          "`corpusprep shards`")
    atomic.write_json(tmp / EXPORT_MANIFEST, result)
    return result


def _finished(out: Path, fmt: str, source: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of an export already at `out` from the same source (verified), None when there is
    none; an error when `out` holds something else."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None
    m = out / EXPORT_MANIFEST
    if m.is_file():
        done = json.loads(m.read_text(encoding="utf-8"))
        if done.get("trainer_format") == fmt and done.get("source") == source and not verify_export(out):
            return dict(done, seconds=0.0, reused=True)
    raise ConfigError(f"{out} exists and is not this export (format {fmt}, {source['variant']} {source['budget']} "
                      "of these shards, intact): remove it or give another --out")


def _into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        out.rmdir()  # empty (checked by _finished)
    tmp.rename(out)


def record(shards: Path, entry: dict[str, Any]) -> None:
    """List the export in the shard folder's exports.json (one entry per path, the latest kept), and
    in the run's report and data card when the shard folder is a run's (`run.json` names the card)."""
    kept = [e for e in exports_of(shards) if e["path"] != entry["path"]] + [entry]
    atomic.write_json(shards / EXPORTS, kept)
    run_dir = shards.parent
    report_path, run_json = run_dir / stage_folder.REPORT, run_dir / stage_folder.RECORD
    if not (report_path.is_file() and run_json.is_file()):
        return
    report = json.loads(report_path.read_text(encoding="utf-8"))
    if Path(report.get("shards", {}).get("folder", "")).resolve() != shards.resolve():
        return
    report["exports"] = kept
    atomic.write_json(report_path, report)
    card = json.loads(run_json.read_text(encoding="utf-8")).get("card_dir")
    if card and Path(card).is_dir():
        from pipeline.card import write_card

        write_card(report, card)
