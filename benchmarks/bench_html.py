"""HTML stage throughput on the default corpus and F1 on the labelled set, beside trafilatura.

    python benchmarks/bench_html.py          (trafilatura comes with `pip install -e .[bench]`)

Single process. Prints pages/s and MB/s of our extractor (default fast-with-fallback parser and
the bs4 parser), bag-of-words precision/recall/F1 on tests/pipeline/html_labelled.py, and, when
trafilatura is installed, the same figures for it measured in this run, as ratios.
"""
from __future__ import annotations

from common import have, raw_pages, timed

from pipeline.stages.html import Config, extract
from tests.pipeline.html_labelled import CASES
from tests.pipeline.test_html import bag_prf


def throughput(fn, pages) -> tuple[float, float]:
    mb = sum(len(p.text.encode()) for p in pages) / 1e6
    with timed() as t:
        for p in pages:
            fn(p.text)
    return len(pages) / t["seconds"], mb / t["seconds"]


def labelled_f1(fn) -> tuple[float, float, float]:
    s = [bag_prf(fn(page) or "", exp) for _, page, exp in CASES]
    return tuple(sum(x[i] for x in s) / len(s) for i in range(3))  # type: ignore[return-value]


def main() -> None:
    pages = raw_pages()
    print(f"default corpus: {len(pages):,} pages, {sum(len(p.text.encode()) for p in pages) / 1e6:.1f} MB of HTML; "
          f"labelled set: {len(CASES)} pages")
    rows = {}
    for parser in ("auto", "bs4"):
        cfg = Config(parser=parser)
        sub = pages if parser == "auto" else pages[:300]  # bs4 is slow; a subset gives the rate
        rows[f"corpusprep[{parser}]"] = (*throughput(lambda h: extract(h, cfg), sub),
                                         *labelled_f1(lambda h: extract(h, cfg)[0]))
    if have("trafilatura"):
        import trafilatura

        def traf(h: str) -> str:
            return trafilatura.extract(h, include_tables=True, include_comments=False, deduplicate=False) or ""
        rows["trafilatura"] = (*throughput(traf, pages[:1000]), *labelled_f1(traf))
    else:
        print("trafilatura not installed: pip install -e '.[bench]' for the side-by-side figures")
    print(f"{'extractor':22s} {'pages/s':>9s} {'MB/s':>7s} {'P':>6s} {'R':>6s} {'F1':>6s}")
    for name, (pps, mbs, p, r, f) in rows.items():
        print(f"{name:22s} {pps:9.0f} {mbs:7.2f} {p:6.3f} {r:6.3f} {f:6.3f}")
    if "trafilatura" in rows:
        ours, tr = rows["corpusprep[auto]"], rows["trafilatura"]
        print(f"ratio corpusprep/trafilatura: throughput {ours[1] / tr[1]:.2f}x (target >= 1.5x), "
              f"F1 {ours[4]:.3f} vs {tr[4]:.3f} (target >=); bs4 parser F1 {rows['corpusprep[bs4]'][4]:.3f}")


if __name__ == "__main__":
    main()
