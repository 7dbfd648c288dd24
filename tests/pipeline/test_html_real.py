"""HTML stage on real crawled pages with human ground truth (../shared/data/extraction).

The floors are set a little under what the extractor measured on each dataset's `test` half
(which it was never tuned on), so a regression in extraction quality fails CI. Pages are read
as the pipeline reads them (`decode_html`) and run through the stage itself, so a page it
drops scores as empty text.
"""
from __future__ import annotations

import pytest

from pipeline.document import Document, Drop
from pipeline.extraction_eval import EXTRACTION_DIR, load_pages, score
from pipeline.stages.html import HtmlStage

# Measured on the test half (benchmarks/bench_html.py): F1 0.911 / 0.934 / 0.950 with 10 / 8 / 4
# pages below F1 0.5 (trafilatura 2.3.1 in the same run: 0.806 / 0.889 / 0.940 with 29 / 13 / 5).
FLOORS = {"dragnet": (0.90, 12), "l3s-gn1": (0.92, 11), "utomo-chaos-2017": (0.935, 5)}


@pytest.mark.parametrize("dataset", sorted(FLOORS))
def test_real_pages_f1_floor(dataset, shared_data, capsys):
    if not (EXTRACTION_DIR / dataset / "ground_truth.jsonl").exists():
        pytest.skip(f"{EXTRACTION_DIR / dataset} is missing")
    pages = load_pages(dataset, "test")
    stage = HtmlStage()
    results = [stage.process(Document(p.id, p.html)) for p in pages]
    s = score([r.text if isinstance(r, Document) else "" for r in results], pages)
    drops = [r for r in results if isinstance(r, Drop)]
    with capsys.disabled():
        print(f"\n[html real pages, {dataset} test part] {len(pages)} pages: P {s.precision:.3f} "
              f"R {s.recall:.3f} F1 {s.f1:.3f}, {s.below_half} below F1 0.5, dropped "
              f"{sorted(d.reason for d in drops)}")
    min_f1, max_below = FLOORS[dataset]
    assert len(pages) > 150
    assert s.f1 >= min_f1
    assert s.below_half <= max_below
    # every page here has a human-marked article: giving up must be rare and never a parser crash
    assert len(drops) <= 0.02 * len(pages)
    assert not [d for d in drops if d.reason == "unparseable"]
    assert all(d.detail for d in drops)
