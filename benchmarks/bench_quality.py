"""Quality rules beside DataTrove's: per-rule decision agreement and throughput, same documents.

    python benchmarks/bench_quality.py [N_DOCS]      (DataTrove + spaCy: pip install -e '.[bench]')

Documents: the default corpus after the HTML stage. Each of DataTrove's GopherQualityFilter,
GopherRepetitionFilter, C4QualityFilter and FineWebQualityFilter runs alone with its defaults,
and our matching rule set runs with matched settings (spaCy-style word split, C4 with terminal
punctuation and curly-bracket rules on, as DataTrove's defaults are).
"""
from __future__ import annotations

import sys

from common import have_datatrove, raw_pages, sized, timed
from pipeline.document import Document
from pipeline.stages.html import HtmlStage
from pipeline.stages.quality import Config, QualityStage

OFF = dict(gopher_quality="off", gopher_repetition="off", c4="off", fineweb="off", language="off")
RULES = {
    "gopher_quality": ("GopherQualityFilter", dict(gopher_quality="drop")),
    "gopher_repetition": ("GopherRepetitionFilter", dict(gopher_repetition="drop")),
    "c4": ("C4QualityFilter", dict(c4="drop", c4_terminal_punct=True, c4_curly_bracket=True)),
    "fineweb": ("FineWebQualityFilter", dict(fineweb="drop")),
}


def ours(docs: list[Document], settings: dict) -> tuple[list[bool], float]:
    st = QualityStage(Config(**{**OFF, **settings}))
    st.setup()
    with timed() as t:
        out = st.process_batch([Document(d.id, d.text) for d in docs])
    return [isinstance(o, Document) for o in out], t["seconds"]


def theirs(docs: list[Document], name: str) -> tuple[list[bool], float]:
    import datatrove.pipeline.filters as f
    from datatrove.data import Document as DTDocument

    flt = getattr(f, name)()
    with timed() as t:
        keep = [flt.filter(DTDocument(text=d.text, id=d.id)) is True for d in docs]
    return keep, t["seconds"]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else sized(1000, 40)
    docs = HtmlStage().apply(raw_pages()[:n]).kept
    mb = sum(d.nbytes for d in docs) / 1e6
    print(f"{len(docs):,} documents after HTML stripping, {mb:.2f} MB")
    if not have_datatrove():
        print("DataTrove not installed (pip install -e '.[bench]'): our throughput only")
    print(f"{'rule set':18s} {'ours docs/s':>12s} {'DT docs/s':>10s} {'speed-up':>9s} {'agreement':>10s} "
          f"{'keep ours/DT':>13s}")
    t_ours = t_dt = 0.0
    for rule, (dt_name, settings) in RULES.items():
        k1, s1 = ours(docs, settings)
        t_ours += s1
        if have_datatrove():
            k2, s2 = theirs(docs, dt_name)
            t_dt += s2
            agree = sum(a == b for a, b in zip(k1, k2)) / len(docs)
            print(f"{rule:18s} {len(docs) / s1:12,.0f} {len(docs) / s2:10,.0f} {s2 / s1:8.1f}x {agree:10.2%} "
                  f"{sum(k1):6d}/{sum(k2):<6d}")
        else:
            print(f"{rule:18s} {len(docs) / s1:12,.0f}")
    if t_dt:
        print(f"all four: ours {len(docs) / t_ours:,.0f} docs/s ({mb / t_ours:.2f} MB/s), DataTrove "
              f"{len(docs) / t_dt:,.0f} docs/s ({mb / t_dt:.2f} MB/s): {t_dt / t_ours:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
