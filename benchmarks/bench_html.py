"""HTML main-text extraction on real pages with human ground truth, beside trafilatura and
resiliparse, all measured in this run.

    python benchmarks/bench_html.py [--split test|dev|all] [--limit N] [--rounds N]
    (trafilatura and resiliparse come with `pip install -e .[bench]`)

For each dataset in ../shared/data/extraction (the `test` half by default: the extractor was
tuned on `dev` only; see pipeline/devtools/extraction_eval.py) it prints precision, recall and F1
(full-text sets: bag of lowercased words, mean per page; trafilatura's snippet set: share of
must-not-have snippets absent, of must-have ones found, their harmonic mean), pages with
F1 < 0.5, pages/s and MB/s of raw HTML, in one process
on one core, for corpusprep (parser auto and bs4), trafilatura (default and favor_precision) and
resiliparse's main-content extractor; then the means over datasets, the ratios the HTML stage is
held to (each difference from trafilatura with its 95 % paired bootstrap interval over the pages),
and our 10 worst pages. (The edge cases written for the tests stay in the tests: a
speed and accuracy figure comes from pages written by others.)
"""
from __future__ import annotations

import argparse
import statistics
import warnings
from typing import Callable

from common import have, timed
from pipeline.devtools.extraction_eval import (
    DATASETS,
    EXTRACTION_DIR,
    Page,
    Score,
    available,
    difference_interval,
    load_pages,
    score,
)
from pipeline.document import Document
from pipeline.stages.html import Config, HtmlStage

Extractor = Callable[[str], str]


def corpusprep(parser: str) -> Extractor:
    """Our extractor as the stage runs it: a page it gives up on scores as empty text."""
    stage = HtmlStage(Config(parser=parser))

    def run(html: str) -> str:
        out = stage.process(Document("p", html))
        return out.text if isinstance(out, Document) else ""
    return run


def extractors() -> dict[str, Extractor]:
    found: dict[str, Extractor] = {"corpusprep[auto]": corpusprep("auto"), "corpusprep[bs4]": corpusprep("bs4")}
    if have("trafilatura"):
        import trafilatura

        found["trafilatura"] = lambda h: trafilatura.extract(h) or ""
        found["trafilatura[precision]"] = lambda h: trafilatura.extract(h, favor_precision=True) or ""
    else:
        print("trafilatura not installed: pip install -e '.[bench]' for the side-by-side figures")
    if have("resiliparse"):
        from resiliparse.extract.html2text import extract_plain_text

        found["resiliparse"] = lambda h: extract_plain_text(h, main_content=True, preserve_formatting=True)
    else:
        print("resiliparse not installed: pip install -e '.[bench]' to add it")
    return found


def run_one(fn: Extractor, pages: list[Page]) -> tuple[list[str], float]:
    with timed() as t:
        outs = [fn(p.html) for p in pages]
    return outs, t["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="test", choices=["test", "dev", "all"])
    ap.add_argument("--limit", type=int, default=None, help="pages per dataset (default: all)")
    ap.add_argument("--quick", action="store_true", help="3 pages per dataset (seconds; the test suite runs this)")
    ap.add_argument("--rounds", type=int, default=0, help="then time ours and trafilatura over every page, one after "
                    "the other, this many rounds: the speed ratio's spread on a shared machine")
    args = ap.parse_args()
    args.limit = 3 if args.quick else args.limit
    warnings.filterwarnings("ignore")  # bs4 warns on XML-looking pages; not our subject here
    datasets = list(available())
    if not datasets:
        raise SystemExit(f"no extraction data in {EXTRACTION_DIR} (expected {', '.join(DATASETS)})")
    fns = extractors()
    table: dict[tuple[str, str], tuple[float, float, float, int, float, float, float]] = {}
    scores: dict[tuple[str, str], Score] = {}
    worst: list[tuple[float, str, str, float, float, Page]] = []
    every: list[Page] = []
    for ds in datasets:
        pages = load_pages(ds, args.split, limit=args.limit)
        every += pages
        mb = sum(p.size for p in pages) / 1e6
        print(f"\n{ds} ({args.split}): {len(pages)} pages, {mb:.1f} MB of HTML")
        print(f"  {'extractor':24s} {'P':>6s} {'R':>6s} {'F1':>6s} {'F1<.5':>6s} {'pages/s':>8s} {'MB/s':>6s}")
        for name, fn in fns.items():
            outs, secs = run_one(fn, pages)
            s = scores[(name, ds)] = score(outs, pages)
            table[(name, ds)] = (s.precision, s.recall, s.f1, s.below_half, len(pages) / secs, mb / secs, secs)
            print(f"  {name:24s} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.below_half:6d} "
                  f"{len(pages) / secs:8.1f} {mb / secs:6.2f}")
            if name == "corpusprep[auto]":
                worst += [(f, ds, pid, p, r, page) for (pid, p, r, f), page in zip(s.per_page, pages)]
    summary(table, scores, datasets, fns)
    print("\nour 10 worst pages (corpusprep[auto]; a page the stage drops shows its reason):")
    stage = HtmlStage(Config())
    for f, ds, pid, p, r, page in sorted(worst, key=lambda w: w[:3])[:10]:
        out = stage.process(Document(pid, page.html))
        why = "" if isinstance(out, Document) else f"  dropped: {out.reason}: {out.detail}"
        print(f"  {ds:18s} {pid:40s} P={p:.2f} R={r:.2f} F1={f:.2f}{why}")
    if args.rounds and "trafilatura" in fns:
        speed_rounds(fns["corpusprep[auto]"], fns["trafilatura"], every, args.rounds)


def speed_rounds(ours: Extractor, theirs: Extractor, pages: list[Page], rounds: int) -> None:
    """Both extractors over the same pages, alternating, `rounds` times: one run's ratio moves
    with whatever else the machine does, the median of interleaved rounds much less."""
    print(f"\nspeed, {rounds} interleaved rounds over all {len(pages)} pages:")
    ratios = []
    for r in range(rounds):
        a, b = run_one(ours, pages)[1], run_one(theirs, pages)[1]
        ratios.append(b / a)
        print(f"  round {r + 1}: corpusprep {a:.2f} s, trafilatura {b:.2f} s: {b / a:.2f}x")
    median = statistics.median(ratios)
    print(f"  median {median:.2f}x (range {min(ratios):.2f}x-{max(ratios):.2f}x; target >= 6x: "
          f"{'ok' if median >= 6 else 'NO'})")


def summary(table: dict, scores: dict, datasets: list[str], fns: dict[str, Extractor]) -> None:
    print(f"\nmean over {len(datasets)} datasets:")
    for name in fns:
        f1 = sum(table[(name, d)][2] for d in datasets) / len(datasets)
        print(f"  {name:24s} F1 {f1:.3f}")
    if "trafilatura" not in fns:
        return
    ours, tr = "corpusprep[auto]", "trafilatura"
    mean = {n: sum(table[(n, d)][2] for d in datasets) / len(datasets) for n in (ours, tr)}
    print("\nacceptance (issue 37):")
    for d in datasets:
        o, t = table[(ours, d)], table[(tr, d)]
        (lo, hi), (blo, bhi) = difference_interval(scores[(ours, d)], scores[(tr, d)])
        print(f"  {d:20s} F1 {o[2]:.3f} vs {t[2]:.3f} ({'ok' if o[2] >= t[2] else 'BELOW'}; difference "
              f"{o[2] - t[2]:+.3f}, 95% [{lo:+.3f}, {hi:+.3f}]); F1<0.5 {o[3]} vs {t[3]} "
              f"({'ok' if o[3] <= t[3] else 'MORE'}; {o[3] - t[3]:+d}, 95% [{blo:+d}, {bhi:+d}]); "
              f"speed {o[5] / t[5]:.2f}x MB/s")
    gap = mean[ours] - mean[tr]
    print(f"  mean F1 {mean[ours]:.3f} vs {mean[tr]:.3f}: {gap:+.3f} (target >= +0.02: "
          f"{'ok' if gap >= 0.02 else 'NO'})")
    mb = {n: sum(table[(n, d)][5] * table[(n, d)][6] for d in datasets) for n in (ours, tr)}  # MB/s x s = MB
    secs = {n: sum(table[(n, d)][6] for d in datasets) for n in (ours, tr)}
    ratio = (mb[ours] / secs[ours]) / (mb[tr] / secs[tr])
    print(f"  speed over every page: {ratio:.2f}x trafilatura's MB/s (target >= 6x: {'ok' if ratio >= 6 else 'NO'})")


if __name__ == "__main__":
    main()
