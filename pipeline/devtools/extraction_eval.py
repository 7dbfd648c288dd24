"""Scoring main-text extraction against human ground truth on real pages.

The pages live in `../shared/data/extraction/<dataset>/` (or $CORPUSPREP_SHARED_DATA/extraction)
(html/<id>.html.gz + ground_truth.jsonl; research-use and AGPL licences, so they are read from there,
never copied into the package).
Each dataset is split once, by a hash of the page id, into a `dev` part (tuned on) and a `test`
part (only measured on); the split does not depend on file order or on which pages exist.

The metric on the full-text sets is the common bag-of-words one: precision, recall and F1 over
lowercased `\\w+` tokens of the extracted text against the ground truth, per page, averaged over
pages. On the snippet set (trafilatura's evaluation pages: snippets that must be in the main text
and snippets that must not be), as trafilatura's own evaluation scores it: the share of `with`
snippets found (recall) and of `without` snippets absent (precision, here), pooled over the pages,
and their harmonic mean; a page's own F1 (for the count of pages below 0.5) is the same on its
snippets alone. Snippets are looked for in the text with whitespace runs made one space.
"""
from __future__ import annotations

import collections
import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from pipeline.encoding import decode_html
from pipeline.resources import shared_data_dir

EXTRACTION_DIR = (shared_data_dir() or Path("../shared/data")) / "extraction"
DATASETS = ("dragnet", "l3s-gn1", "utomo-chaos-2017")  # full text as ground truth
SNIPPET_DATASETS = ("trafilatura-eval-dev",)  # must-have / must-not-have snippets
SNIPPETS_FILE = "evaldata-dev.json"
SPLITS = ("dev", "test", "all")
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Page:
    dataset: str
    id: str
    html: str        # decoded as the read stage decodes crawled bytes
    truth: str       # the main text ("" on a snippet set)
    size: int        # bytes of raw HTML
    with_: tuple[str, ...] = ()    # snippets the main text must hold (snippet sets)
    without: tuple[str, ...] = ()  # snippets it must not hold


def split_of(page_id: str) -> str:
    """'dev' or 'test', half and half, fixed by the id alone."""
    return "test" if hashlib.sha256(page_id.encode()).digest()[0] & 1 else "dev"


def load_pages(dataset: str, split: str = "test", root: Path = EXTRACTION_DIR,
               limit: int | None = None) -> list[Page]:
    """The pages of one dataset's split (sorted by id), decoded with `decode_html`."""
    if split not in SPLITS:
        raise ValueError(f"split = {split!r}; available: {', '.join(SPLITS)}")
    folder = root / dataset
    if dataset in SNIPPET_DATASETS:
        return _snippet_pages(dataset, split, folder, limit)
    gt = folder / "ground_truth.jsonl"
    if not gt.exists():
        raise FileNotFoundError(f"{gt} not found: the extraction data lives in ../shared/data/extraction")
    rows = [json.loads(line) for line in gt.read_text(encoding="utf-8").split("\n") if line.strip()]
    rows = sorted((r for r in rows if split == "all" or split_of(r["id"]) == split), key=lambda r: r["id"])
    pages = []
    for r in rows[:limit]:
        raw = gzip.decompress((folder / "html" / f"{r['id']}.html.gz").read_bytes())
        pages.append(Page(dataset, r["id"], decode_html(raw)[0], r["text"], len(raw)))
    return pages


def _snippet_pages(dataset: str, split: str, folder: Path, limit: int | None) -> list[Page]:
    """A snippet set's pages: `eval/<file>.gz` with the snippets `evaldata-dev.json` gives them,
    split by the file name (its id)."""
    path = folder / SNIPPETS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the extraction data lives in ../shared/data/extraction")
    entries = sorted(json.loads(path.read_text(encoding="utf-8")).values(), key=lambda e: e["file"])
    pages = []
    for e in [e for e in entries if split == "all" or split_of(e["file"]) == split][:limit]:
        raw = gzip.decompress((folder / "eval" / f"{e['file']}.gz").read_bytes())
        pages.append(Page(dataset, e["file"], decode_html(raw)[0], "", len(raw),
                          tuple(e.get("with") or ()), tuple(e.get("without") or ())))
    return pages


def snippet_counts(got: str, page: Page) -> tuple[int, int, int, int]:
    """(with found, with snippets, without absent, without snippets) of one page."""
    text = " ".join(got.split())
    found = sum(" ".join(s.split()) in text for s in page.with_)
    absent = sum(" ".join(s.split()) not in text for s in page.without)
    return found, len(page.with_), absent, len(page.without)


def _harmonic(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def snippet_prf(counts: list[tuple[int, int, int, int]]) -> tuple[float, float, float]:
    """Precision (share of `without` snippets absent), recall (share of `with` found), their
    harmonic mean; a side with no snippets counts as perfect."""
    found, n_with, absent, n_without = (sum(c[i] for c in counts) for i in range(4))
    r = found / n_with if n_with else 1.0
    p = absent / n_without if n_without else 1.0
    return p, r, _harmonic(p, r)


def bag_prf(got: str, expected: str) -> tuple[float, float, float]:
    """Precision, recall, F1 over bags of lowercased words (an empty extraction scores 0)."""
    a = collections.Counter(_TOKEN.findall(got.lower()))
    b = collections.Counter(_TOKEN.findall(expected.lower()))
    overlap = sum((a & b).values())
    p = overlap / sum(a.values()) if a else 0.0
    r = overlap / sum(b.values()) if b else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    below_half: int              # pages with F1 < 0.5
    per_page: tuple[tuple[str, float, float, float], ...]  # (id, P, R, F1)
    counts: tuple[tuple[int, int, int, int], ...] = ()  # snippet pages: `snippet_counts` per page


def score(outputs: list[str], pages: list[Page]) -> Score:
    """P, R, F1 of texts already extracted from `pages` (same order): per-page means on full-text
    pages, pooled snippet shares on snippet pages (see the module's docstring)."""
    if pages and pages[0].dataset in SNIPPET_DATASETS:
        counts = [snippet_counts(text, p) for text, p in zip(outputs, pages, strict=True)]
        per = tuple((p.id, *snippet_prf([c])) for c, p in zip(counts, pages))
        return Score(*snippet_prf(counts), sum(r[3] < 0.5 for r in per), per, tuple(counts))
    rows = tuple((p.id, *bag_prf(text, p.truth)) for text, p in zip(outputs, pages, strict=True))
    n = max(len(rows), 1)
    return Score(sum(r[1] for r in rows) / n, sum(r[2] for r in rows) / n, sum(r[3] for r in rows) / n,
                 sum(r[3] < 0.5 for r in rows), rows)


def difference_interval(a: Score, b: Score, reps: int = 2000, seed: int = 0, level: float = 0.95
                        ) -> tuple[tuple[float, float], tuple[int, int]]:
    """Paired bootstrap intervals of a - b over the same pages: of F1 as the dataset scores it
    (mean over pages, or pooled snippet shares) and of the count of pages below F1 0.5. Pages
    are resampled with replacement `reps` times; the central `level` share of the differences
    is the interval. A difference whose interval holds 0 is not one this page set can show."""
    n = len(a.per_page)
    if n != len(b.per_page) or not n:
        raise ValueError(f"scores of {n} and {len(b.per_page)} pages: the same pages are needed")
    idx = np.random.default_rng(seed).integers(0, n, size=(reps, n))
    fa, fb = (np.array([r[3] for r in s.per_page]) for s in (a, b))
    below = ((fa < 0.5).astype(int) - (fb < 0.5))[idx].sum(axis=1)
    if a.counts and b.counts:
        sums_a, sums_b = (np.array(s.counts)[idx].sum(axis=1).tolist() for s in (a, b))
        f1 = np.array([snippet_prf([x])[2] - snippet_prf([y])[2] for x, y in zip(sums_a, sums_b)])
    else:
        f1 = (fa - fb)[idx].mean(axis=1)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(f1, [tail, 100 - tail])
    blo, bhi = np.percentile(below, [tail, 100 - tail])
    return (float(lo), float(hi)), (int(round(blo)), int(round(bhi)))


def available() -> Iterator[str]:
    """The datasets present beside this checkout."""
    return (d for d in DATASETS + SNIPPET_DATASETS
            if (EXTRACTION_DIR / d / ("ground_truth.jsonl" if d in DATASETS else SNIPPETS_FILE)).exists())
