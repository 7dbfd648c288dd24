"""`corpusprep card html RUN`: one self-contained HTML file to explore a finished run: the funnel, a
histogram of each stored measure with its threshold and the share that fails it, sampled
documents per drop reason (the raw HTML beside the text where the run kept it), duplicate
clusters and benchmark matches. No server, no network, no script: plots are embedded PNGs, long
texts sit in <details>.

It lies beside the Markdown card (explorer.html), which links it. It is not committed with the
default card: it holds documents, among them the planted benchmark items from ../shared/data,
whose licences keep them out of the repository.
"""
from __future__ import annotations

import base64
import html
import io
import json
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow.parquet as pq

from pipeline import atomic, stage_folder
from pipeline.card import EXPLORER, EXPLORER_HASH, funnel_png, write_card
from pipeline.formatting import human_bytes, short_number
from pipeline.inspect_run import RunView
from pipeline.inspect_views import cluster_view, leaks_view, reason_view

SAMPLES = 3  # documents shown per drop reason
CLUSTERS = 5
LEAKS = 3  # documents per benchmark
RAW_CHARS = 4000  # of a raw HTML page shown beside its text
BATCH = 50_000  # measures read at a time for a histogram
STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}pre{white-space:pre-wrap;background:#f8f8f8;padding:6px;
margin:4px 0;max-height:24em;overflow:auto}mark{background:#ffd54f}.grid{display:flex;flex-wrap:wrap;gap:8px}
.side{display:grid;grid-template-columns:1fr 1fr;gap:8px}h2{border-bottom:2px solid #4c72b0}"""


def write_explorer(view: RunView, out: Path | None = None) -> Path:
    """Write the explorer (default: explorer.html in the run's card folder, whose Markdown card is
    redrawn to link it) and return its path."""
    report = json.loads((view.root / stage_folder.REPORT).read_text())
    card_dir = Path(view.record["card_dir"]) if view.record.get("card_dir") else None
    out = Path(out) if out else (card_dir or view.root) / EXPLORER
    parts = [_head(report), _funnel(report), _measures(view), _reasons(view, report), _clusters(view, report),
             _leaks(view, report), "</body></html>\n"]
    atomic.write_text(out, "\n".join(parts))
    if card_dir and out.resolve() == (card_dir / EXPLORER).resolve() and (card_dir / stage_folder.REPORT).exists():
        write_card(json.loads((card_dir / stage_folder.REPORT).read_text()), card_dir)
    return out


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _marked(text: str) -> str:
    """An excerpt with its »span« marked, escaped for HTML."""
    t = _e(text)
    return t.replace("»", "<mark>", 1).replace("«", "</mark>", 1) if "»" in t and "«" in t else t


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _head(report: dict[str, Any]) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="{EXPLORER_HASH}" content="{_e(report["config_hash"])}">'
            f"<title>corpusprep explorer: {_e(report['name'])}</title><style>{STYLE}</style></head><body>"
            f"<h1>Run {_e(report['name'])}</h1><p>config hash <code>{_e(report['config_hash'][:16])}</code>; "
            f"{report['docs_in']:,} documents in, {report['docs_kept']:,} kept, {report['docs_dropped']:,} dropped. "
            'Sections: <a href="#funnel">funnel</a>, <a href="#measures">measures</a>, <a href="#reasons">drops by '
            'reason</a>, <a href="#clusters">duplicate clusters</a>, <a href="#leaks">benchmark matches</a>. '
            "The same questions at the terminal: <code>corpusprep inspect</code>.</p>")


def _funnel(report: dict[str, Any]) -> str:
    """The funnel plot (the card's own function, card.funnel_png, drawn again here) and table."""
    with tempfile.TemporaryDirectory() as tmp:
        funnel_png(report, Path(tmp) / "funnel.png")
        png = (Path(tmp) / "funnel.png").read_bytes()
    img = f'<img alt="funnel" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
    stages = report["stages"]
    rows = "".join(f"<tr><td>{_e(s['stage'])}</td><td class=n>{s['docs_in']:,}</td><td class=n>{s['docs_out']:,}"
                   f"</td><td class=n>{s['docs_dropped']:,}</td><td class=n>{human_bytes(s['bytes_in'])}</td>"
                   f"<td class=n>{human_bytes(s['bytes_out'])}</td></tr>" for s in stages)
    return (f'<section id="funnel"><h2>Funnel</h2>{img}<table><tr><th>stage</th><th>in</th><th>kept</th>'
            f"<th>dropped</th><th>bytes in</th><th>bytes out</th></tr>{rows}</table></section>")


def _measures(view: RunView) -> str:
    """A histogram per stored measure that a rule compares with a threshold."""
    body = []
    for name in view.folders:
        f = view.measures_file(name) if name != "read" else None
        if f is None:
            continue
        stage = view.stage(name)
        body += [_histogram(f"{name}: {column}", f, column, rules, stage.config)
                 for column, rules in stage.measured_rules(stage.config)]
    if not body:
        body = ["<p>No stage of this run stored measures that rules compare with thresholds (quality does, "
                "with store_measures = true).</p>"]
    return ('<section id="measures"><h2>Measures and thresholds</h2><p>Every document that reached the stage, '
            "kept or dropped; red: the threshold; the share failing each rule counts documents an earlier rule "
            f"dropped too.</p><div class=grid>{''.join(body)}</div></section>")


def _column(path: Path, column: str) -> Iterator[np.ndarray]:
    """A stored measure's non-null values, a batch at a time (memory: one batch)."""
    for b in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=[column]):
        v = b.column(0).drop_null().to_numpy(zero_copy_only=False).astype(float)
        yield v[np.isfinite(v)]


def _histogram(title: str, path: Path, column: str, rules: list[Any], config: Any) -> str:
    """Streamed in two passes (the range, then the counts), so memory is a batch at any size."""
    import matplotlib.pyplot as plt

    lo = hi = None
    for v in _column(path, column):
        if len(v):
            lo, hi = (v.min() if lo is None else min(lo, v.min())), (v.max() if hi is None else max(hi, v.max()))
    thresholds = [r.threshold(config) for r in rules]
    edges = np.linspace(lo, hi if hi > lo else lo + 1, 41) if lo is not None else None
    counts, total, fails = np.zeros(40), 0, [0] * len(rules)
    for v in _column(path, column) if edges is not None else []:
        counts += np.histogram(v, edges)[0]
        total += len(v)
        fails = [k + int((v < t).sum() if r.op == "<" else (v > t).sum()) for k, r, t in zip(fails, rules, thresholds)]
    fig, ax = plt.subplots(figsize=(3.8, 2.4))
    if edges is not None:
        ax.stairs(counts, edges, fill=True, color="#4c72b0")
    for t in thresholds:
        ax.axvline(t, color="#c0392b", lw=1.5)
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("; ".join(f"{r.op} {t:g}: {k / total:.1%} fail" if total else f"{r.op} {t:g}"
                            for r, t, k in zip(rules, thresholds, fails)), fontsize=7)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)


def _reasons(view: RunView, report: dict[str, Any]) -> str:
    """Sampled documents per drop reason, with what triggered each drop."""
    out = ['<section id="reasons"><h2>Drops by reason</h2>']
    raw_kept = view.written("read")
    if not raw_kept:
        out.append("<p>The raw pages are not shown beside the text: the run fused its first stages into the read "
                   '(run.stage_outputs = "all" keeps them).</p>')
    for s in report["stages"]:
        for code, n in s["drops"].items():
            ans = reason_view(view, code, SAMPLES, 0)
            out.append(f"<h3><code>{_e(code)}</code>: {n:,} documents, {human_bytes(s['dropped_bytes'].get(code, 0))}"
                       "</h3>")
            out += [_doc_card(view, s["stage"], x, raw_kept) for x in ans["shown"]]
    return "".join(out) + "</section>"


def _doc_card(view: RunView, stage: str, x: dict[str, Any], raw_kept: bool) -> str:
    checks = "".join(f"<li><code>{_e(m)}</code> = {_e(short_number(v))} {_e(op)} {_e(short_number(t))}</li>"
                     for m, v, op, t in x.get("checks", []))
    checks += "".join(f"<li>matched {_e(i)} ({_e(meth)}, {k} n-grams)</li>" for i, meth, k, _ in x.get("matches", []))
    if x.get("found"):
        checks += f"<li>listed words: {_e(', '.join(x['found']))}</li>"
    text = f"<pre>{_marked(x['excerpt'])}</pre>"
    if raw_kept and stage != "html" and "html" in view.folders:
        raw = view.text_into("html", x["id"])
        if raw:
            text = (f"<div class=side><div><b>extracted text</b>{text}</div><div><b>raw HTML</b>"
                    f"<pre>{_e(raw[:RAW_CHARS])}</pre></div></div>")
    return (f"<details><summary><code>{_e(x['id'])}</code> {_e(x['url'])}"
            f"{(' (' + _e(x['detail'][:120]) + ')') if x['detail'] else ''}</summary><ul>{checks}</ul>{text}</details>")


def _clusters(view: RunView, report: dict[str, Any]) -> str:
    d = next((s.get("dedup") for s in report["stages"] if s.get("dedup")), None)
    if not d or "dedup" not in view.folders:
        return '<section id="clusters"><h2>Duplicate clusters</h2><p>No dedup stage in this run.</p></section>'
    out = [f'<section id="clusters"><h2>Duplicate clusters</h2><p>{d["clusters"]:,} clusters; removed '
           f"{_e(d.get('docs_removed', {}))}. The first {CLUSTERS}, the kept member beside each removed one:</p>"]
    for kept in list(dict.fromkeys(e["kept"] for e in d.get("example_pairs", [])))[:CLUSTERS]:
        c = cluster_view(view, kept)
        for m in c["members"]:
            out.append(f"<h3>kept <code>{_e(kept)}</code> / removed <code>{_e(m['id'])}</code> ({_e(m['how'])}, "
                       f"Jaccard {_e(short_number(m['jaccard']))})</h3><div class=side>"
                       f"<pre>{_e(c.get('kept_excerpt') or '')}</pre><pre>{_e(m['excerpt'])}</pre></div>")
    return "".join(out) + "</section>"


def _leaks(view: RunView, report: dict[str, Any]) -> str:
    d = next((s.get("decontam") for s in report["stages"] if s.get("decontam")), None)
    if not d or "decontam" not in view.folders:
        return '<section id="leaks"><h2>Benchmark matches</h2><p>No decontam stage in this run.</p></section>'
    out = ['<section id="leaks"><h2>Benchmark matches</h2>']
    for bench, b in d["benchmarks"].items():
        ans = leaks_view(view, bench, LEAKS)
        out.append(f"<h3>{_e(bench)}: {b['items_contaminated']:,} of {b['items']:,} items matched in "
                   f"{b['docs_affected']:,} documents</h3>")
        for doc in ans["shown"]:
            spans = "".join(f"<pre>{_marked(s)}</pre>" for s in doc["spans"])
            out.append(f"<details open><summary><code>{_e(doc['id'])}</code> ({_e(doc['verdict'])}), items "
                       f"{_e(', '.join(map(str, doc['items'][:10])))}</summary>{spans}</details>")
    return "".join(out) + "</section>"
