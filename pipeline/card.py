"""Data cards: `render_card(report)` is pure (report -> Markdown), so a committed card can be
re-rendered from its report.json in a test and never drift from the numbers behind it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline import atomic


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def render_card(report: dict[str, Any]) -> str:
    """Markdown with Hugging Face dataset-card front matter."""
    lines = [
        "---",
        f"pretty_name: {report['name']}",
        "language: [en]",
        "tags: [corpusprep, pretraining-data]",
        f"config_hash: {report['config_hash']}",
        "---",
        f"# Data card: {report['name']}",
        "",
        f"Input: `{report['input']['path']}` ({report['input']['format']}, "
        f"{len(report['input']['sources'])} source files). Config hash `{report['config_hash'][:16]}`.",
        "",
        f"**{report['docs_in']:,} documents in, {report['docs_kept']:,} kept, "
        f"{report['docs_dropped']:,} dropped** (in = kept + dropped).",
        "",
        "## Funnel",
        "",
        "| stage | docs in | docs out | dropped | bytes in | bytes out | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["stages"]:
        lines.append(f"| {s['stage']} | {s['docs_in']:,} | {s['docs_out']:,} | {s['docs_dropped']:,} "
                     f"| {_fmt_bytes(s['bytes_in'])} | {_fmt_bytes(s['bytes_out'])} | {s['seconds']:.1f} |")
    lines += ["", "## Drops by reason", "", "| reason | docs | bytes |", "|---|---:|---:|"]
    for s in report["stages"]:
        for reason, n in s["drops"].items():
            lines.append(f"| `{reason}` | {n:,} | {_fmt_bytes(s['dropped_bytes'].get(reason, 0))} |")
    lines += ["", "## Versions", ""]
    lines += [f"- {k} {v}" for k, v in sorted(report["versions"].items())]
    return "\n".join(lines) + "\n"


def write_card(report: dict[str, Any], card_dir: str | Path) -> Path:
    card_dir = Path(card_dir)
    atomic.write_json(card_dir / "report.json", report)
    path = card_dir / "README.md"
    atomic.write_text(path, render_card(report))
    return path


def load_report(run: str | Path) -> dict[str, Any]:
    """A run's report from a card folder or a run output folder."""
    p = Path(run)
    for cand in (p / "report.json", p):
        if cand.is_file():
            return json.loads(cand.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"no report.json in {run}")
