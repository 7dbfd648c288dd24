"""Data cards: Markdown for people, JSON for programs, a funnel chart, and show/diff/verify.

`render_card(report)` is pure (report -> Markdown), so a committed card can be re-rendered from
its report.json in a test and cannot drift from the numbers behind it. Every number in a card
comes from the run's own stats files; nothing is recomputed or estimated here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline import atomic, stage_folder
from pipeline.formatting import human_bytes, percent
from pipeline.shard_format import Manifest


def _wall_time(report: dict[str, Any]) -> str:
    """The run's wall time; for a resumed run, over all its attempts, with the last one's."""
    total, last = report["seconds"], report.get("seconds_this_attempt", report["seconds"])
    return f"{total:.1f} s" + (f" over all attempts ({last:.1f} s in the last)" if total - last >= 0.05 else "")


EXPLORER = "explorer.html"  # `corpusprep card html` writes it beside the card
EXPLORER_HASH = "config-hash"  # the <meta> naming the run an explorer was made for


def explorer_hash(path: Path) -> str | None:
    """The config hash an explorer file was made for (None: no such file): a card links only an
    explorer of its own run."""
    if not path.exists():
        return None
    head = path.read_text(encoding="utf-8")[:2000]
    key = f'<meta name="{EXPLORER_HASH}" content="'
    return head.split(key, 1)[1].split('"', 1)[0] if key in head else None


def render_card(report: dict[str, Any], explorer: bool = False) -> str:
    """Markdown with Hugging Face dataset-card front matter: the sections below in order, then
    each stage's own section (Stage.card_section), then tokens, configuration and versions.
    `explorer`: an explorer.html of this run lies beside the card (linked; else how to make one)."""
    L = _front_matter(report) + _summary(report, explorer) + _funnel(report) + _ground_truth(report)
    L += _stage_sections(report)
    if report.get("shards"):
        L += _tokens(report["shards"])
    if report.get("exports"):
        L += _exports(report["exports"])
    L += ["", "## Configuration", "", "```json", json.dumps(report["config"], indent=2, sort_keys=True), "```",
          "", "## Versions", ""] + [f"- {k} {v}" for k, v in sorted(report["versions"].items())]
    return "\n".join(L) + "\n"


def _front_matter(report: dict[str, Any]) -> list[str]:
    """Hugging Face front matter and the title."""
    shards = report.get("shards")
    L = ["---", f"pretty_name: {report['name']}", "language:", "- en", "tags:", "- corpusprep",
         "- pretraining-data", f"config_hash: {report['config_hash']}"]
    if shards:
        L += ["configs:"] + [f"- config_name: {v}" for v in Manifest.from_dict(shards).variants]
    L += ["---", f"# Data card: {report['name']}", ""]
    return L


def _summary(report: dict[str, Any], explorer: bool) -> list[str]:
    """Losses and warnings while reading (at the top), input, totals, how to explore, licences."""
    L: list[str] = []
    losses = report["stages"][0].get("losses") or []
    if losses:
        L += [f"> **Data lost while reading: {len(losses)} damaged or cut span(s).** Each is one counted drop, "
              "or a document read only as far as its file goes (marked in its meta); a cut single-stream file "
              "(.jsonl.gz, .jsonl.zst) loses an unknown number of records after it:",
              ">"] + [f"> - `{x['id']}`: {x['detail']}" for x in losses[:20]] \
            + ([f"> - and {len(losses) - 20} more (read stage drops.parquet)"] if len(losses) > 20 else []) + [""]
    warnings = report["stages"][0].get("warnings") or []
    if warnings:
        L += ["> **Read warnings** (the run went on; every record is accounted for below):", ">"] + \
            [f"> - {w}" for w in warnings] + [""]
    L += [f"Input `{report['input']['path']}` ({report['input']['format']}, {len(report['input']['sources'])} "
          f"source file(s)); config hash `{report['config_hash'][:16]}`; wall time {_wall_time(report)}.", "",
          f"**{report['docs_in']:,} documents in, {report['docs_kept']:,} kept, {report['docs_dropped']:,} "
          f"dropped** (in = kept + dropped, checked for every stage).", ""] + _explore(explorer)
    if report.get("licences"):
        L += ["## Sources and licences", ""] + [f"- {n}" for n in report["licences"]] + [""]
    return L


def _explore(explorer: bool) -> list[str]:
    if explorer:
        return ["The documents behind these numbers: [explorer.html](explorer.html) (funnel, measures with their "
                "thresholds, sampled drops, duplicate clusters, benchmark matches); at the terminal, "
                "`corpusprep inspect`.", ""]
    return ["The documents behind these numbers: `corpusprep inspect RUN` (drops by reason, one document's "
            "journey, clusters, leaks, what-if thresholds), or `corpusprep card html RUN` for an explorer.html "
            "beside this card (not committed: it holds documents).", ""]


def _funnel(report: dict[str, Any]) -> list[str]:
    """The funnel table, drops by reason and the stages' other counters."""
    L: list[str] = []
    L += ["## Funnel", "", "![funnel](funnel.png)", "",
          "| stage | docs in | docs out | dropped | bytes in | bytes out | "
          "seconds |", "|---|---:|---:|---:|---:|---:|---:|"]
    for s in report["stages"]:
        L.append(f"| {s['stage']} | {s['docs_in']:,} | {s['docs_out']:,} | {s['docs_dropped']:,} | "
                 f"{human_bytes(s['bytes_in'])} | {human_bytes(s['bytes_out'])} | {s['seconds']:.1f} |")
    L += ["", "## Drops by reason", "", "| reason | docs | bytes |", "|---|---:|---:|"]
    for s in report["stages"]:
        for reason, n in s["drops"].items():
            L.append(f"| `{reason}` | {n:,} | {human_bytes(s['dropped_bytes'].get(reason, 0))} |")
    counters = [(s["stage"], k, v) for s in report["stages"] for k, v in s.get("counters", {}).items()]
    if counters:
        L += ["", "Other counts: " + "; ".join(f"{st}.{k} = {v:,}" for st, k, v in counters) + "."]
    return L


def _ground_truth(report: dict[str, Any]) -> list[str]:
    """Recall and precision against the planted labels, where the input has them."""
    L: list[str] = []
    gts = [s for s in report["stages"] if s.get("ground_truth")]
    if gts:
        L += ["", "## Planted ground truth (default corpus)", "",
              "| stage | targets | reached it | removed | recall | precision | clean "
              "removed |", "|---|---|---:|---:|---:|---:|---:|"]
        for s in gts:
            g = s["ground_truth"]
            L.append(f"| {s['stage']} | {', '.join(g['kinds'])} | {g['targets_in']} | {g['targets_dropped']} | "
                     f"{percent(g['recall'])} | {percent(g['precision'])} | {g['clean_dropped']} of {g['clean_in']} |")
        for s in gts:
            g = s["ground_truth"]
            for key in [k for k in g if k.startswith("recall_by_")]:
                L.append(f"\n{s['stage']} recall by "
                         f"{key[10:]}: " + ", ".join(f"{k} {percent(v)}" for k, v in g[key].items()))
            if "pairs_by_jaccard" in g:
                L.append(f"\n{s['stage']} planted pairs removed, by true Jaccard: " + ", ".join(
                    f"[{k[8:12]}, {k[13:]}): {v['removed']}/{v['pairs']}" for k, v in g["pairs_by_jaccard"].items()))
    return L


def _stage_sections(report: dict[str, Any]) -> list[str]:
    """Each registered stage's own section, in stage order."""
    L: list[str] = []
    from pipeline.stages import STAGES, get_stage

    for s in report["stages"]:  # each stage lays out its own summary
        if s["stage"] in STAGES:
            L += get_stage(s["stage"]).card_section(s)
    return L


def _tokens(shards: dict[str, Any]) -> list[str]:
    """Tokenizer, validation split, leakage left, budgets and their composition, shard hashes."""
    m = Manifest.from_dict(shards)
    t, val = m.tokenizer, m.validation
    sp = val.facts["split"]
    L: list[str] = ["", "## Tokens", ""]
    trained = "trained on this run" if t.trained else "given"
    L += [f"Tokenizer: byte-level BPE, vocabulary {t.vocab_size:,} ({trained}), "
          f"EOS id {t.eos_id}, sha256 `{t.sha256[:16]}`; tokens as {m.dtype}; {m.tokens_per_shard:,} tokens per shard.",
          "",
          f"Validation: {val.tokens:,} tokens ({val.facts['docs']:,} documents) from `{val.facts['variant']}`, "
          f"drawn as whole groups of documents that share a rare word 13-gram (found in 2 to {sp['group_max_df']} "
          f"documents): {sp['docs_held_out_beyond_validation']:,} more documents of those groups are held out of "
          f"every budget of every variant; {sp['groups']:,} groups, the largest of {sp['largest_group_docs']:,} "
          f"documents ({sp['groups_too_large_for_validation']} group(s) too large for validation stay in "
          "training).", "",
          "Leakage left, per variant: share of the validation's distinct word 13-grams (lowercased) found in "
          "1 to 10 training documents of the variant's largest budget (0 = independent; phrasing common to more "
          "than 10 documents is not counted):", "", "| variant | overlap |", "|---|---:|"]
    L += [f"| {v} | {100 * x:.2f} % |" for v, x in val.facts["overlap_13gram"].items()] + [""]
    L += ["Budgets of a variant are prefixes of one shard sequence, stored once (a budget takes its first "
          "shards and ends inside the last); a mix's budgets have sequences of their own.", ""]
    targets = {b: y.facts["target"] for x in m.variants.values() for b, y in x.budgets.items()}
    budgets = sorted(targets, key=targets.get)
    L += ["| variant | documents | "
          "tokens | " + " | ".join(budgets) + " |", "|---|---:|---:|" + "---:|" * len(budgets)]
    for v, x in m.variants.items():
        head = f"| {v} | {x.facts['docs']:,} | {x.facts['tokens']:,} | " if "docs" in x.facts else f"| {v} | | | "
        L.append(head + " | ".join(
            f"{x.budgets[b].tokens:,} ({x.budgets[b].facts['docs']} docs)" if b in x.budgets else ""
            for b in budgets) + " |")
    stages = sorted({k for x in m.variants.values() for y in x.budgets.values() for k in y.get("composition", {})})
    L += ["", "What each variant's largest budget is made of (tokens, by the stage that dropped the document; "
          "`kept` = kept by every stage), and the share of its distinct 13-grams that repeat in another of "
          "its documents:", "", "| variant | budget | " + " | ".join(stages) + " | repeated 13-grams |",
          "|---|---|" + "---:|" * (len(stages) + 1)]
    for v, x in m.variants.items():
        b = max(x.budgets, key=targets.get)
        y = x.budgets[b]
        if "composition" in y.facts:
            L.append(f"| {v} | {b} | " + " | ".join(f"{y.facts['composition'].get(k, 0):,}" for k in stages)
                     + f" | {100 * y.facts['repeated_13gram_share']:.1f} % |")
    L += ["", "<details><summary>Shards and "
              "sha256</summary>", "", "| shard | tokens | docs | sha256 |", "|---|---:|---:|---|"]
    L += [f"| {s.path} | {s.tokens:,} | {s.docs} | `{s.sha256}` |" for s in m.shard_files()]
    L += ["", "</details>"]
    return L


def _exports(exports: list[dict[str, Any]]) -> list[str]:
    """The trainer-format exports made from the shards (`corpusprep export`)."""
    L = ["", "## Exports", "", "Made from these shards by `corpusprep export`; `corpusprep card verify PATH` re-checks "
         "one against its export.json (sha256 of every file, tokens and documents as the trainer's reader sees "
         "them).", "", "| format | variant | budget | tokens | documents | path |", "|---|---|---|---:|---:|---|"]
    L += [f"| {e['format']} | {e['variant']} | {e['budget']} | {e['tokens']:,} | {e['docs']:,} | `{e['path']}` |"
          for e in exports]
    return L


def funnel_png(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = report["stages"]
    names = [s["stage"] for s in stages]
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(stages)))
    kept = [s["docs_out"] for s in stages]
    dropped = [s["docs_dropped"] for s in stages]
    ax.barh(names, kept, color="#4c72b0", label="kept")
    ax.barh(names, dropped, left=kept, color="#dd8452", label="dropped")
    for i, s in enumerate(stages):
        ax.text(s["docs_in"], i, f" {s['docs_in']:,} -> {s['docs_out']:,}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("documents")
    ax.set_title(f"{report['name']}: documents through the stages")
    ax.set_xlim(0, max(max(s["docs_in"] for s in stages), 1) * 1.35)  # an empty input still draws
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def write_card(report: dict[str, Any], card_dir: str | Path) -> Path:
    card_dir = Path(card_dir)
    report = json.loads(json.dumps(report, sort_keys=True, default=str))  # as report.json reads back
    atomic.write_json(card_dir / stage_folder.REPORT, report)  # the run's report, under its name
    funnel_png(report, card_dir / "funnel.png")
    path = card_dir / "README.md"
    atomic.write_text(path, render_card(report, explorer_hash(card_dir / EXPLORER) == report["config_hash"]))
    return path


def load_report(run: str | Path) -> dict[str, Any]:
    """A run's report from a card folder or a run output folder."""
    p = Path(run)
    for cand in (p / stage_folder.REPORT, p):
        if cand.is_file():
            return json.loads(cand.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"no report.json in {run}; give a card folder (data_cards/<run>) or a run output folder")


def diff_reports(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What changed between two runs: config values, and the funnel stage by stage."""
    from pipeline.config import default_setting
    from pipeline.startup import differences

    lines = [f"config {d}" for d in differences(a["config"], b["config"], default=default_setting)]
    sa = {s["stage"]: s for s in a["stages"]}
    sb = {s["stage"]: s for s in b["stages"]}
    for name in list(dict.fromkeys(list(sa) + list(sb))):
        x, y = sa.get(name), sb.get(name)
        if x is None or y is None:
            lines.append(f"stage {name}: only in {'B' if x is None else 'A'}")
            continue
        for key in ("docs_in", "docs_out", "docs_dropped", "bytes_out"):
            if x[key] != y[key]:
                lines.append(f"{name}.{key}: {x[key]:,} -> {y[key]:,} ({y[key] - x[key]:+,})")
        for r in sorted(set(x["drops"]) | set(y["drops"])):
            if x["drops"].get(r, 0) != y["drops"].get(r, 0):
                lines.append(f"{name} {r}: {x['drops'].get(r, 0):,} -> {y['drops'].get(r, 0):,}")
    return lines or ["no differences in config or funnel"]


def verify(run: str | Path) -> list[str]:
    """Re-check every shard against its manifest (sha256 and token counts). `run` is a card
    folder, a run folder, a shard folder made by `corpusprep shards` alone (one holding a
    manifest.json), or an export folder (`corpusprep export`, one holding an export.json)."""
    from pipeline.export_verify import EXPORT_MANIFEST, verify_export
    from pipeline.shard_format import verify_shards

    if (Path(run) / EXPORT_MANIFEST).exists():
        return verify_export(run)
    if (Path(run) / "manifest.json").exists():
        return verify_shards(run)
    report = load_report(run)
    if not report.get("shards"):
        return ["this run has no shards"]
    return verify_shards(report["shards"]["folder"])
