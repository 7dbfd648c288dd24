"""The built-in default corpus: size, speed, determinism, and its label file."""
from __future__ import annotations

import collections
import hashlib

from pipeline.document import Document
from pipeline.readers import InputConfig, list_sources, read_source
from pipeline.sample.build import _source_articles, build_sample, jaccard, load_labels
from pipeline.stages.html import HtmlStage


def test_default_corpus_size_speed_and_text_after_html(sample_corpus):
    m = sample_corpus["manifest"]
    assert m["documents"] >= 2000
    assert sample_corpus["seconds"] < 120
    cfg = InputConfig(path=str(sample_corpus["dir"] / "warc"))
    docs = [d for s in list_sources(cfg).sources for d in read_source(s, cfg) if isinstance(d, Document)]
    assert len(docs) == m["documents"]
    res = HtmlStage().apply(docs)
    assert sum(d.nbytes for d in res.kept) >= 5_000_000


def test_labels_cover_every_document_with_planted_kinds(sample_corpus):
    labels = load_labels(sample_corpus["dir"])
    assert len(labels) == sample_corpus["manifest"]["documents"]
    kinds = collections.Counter(l["kind"] for l in labels.values())
    for k in ("clean", "exact_dup", "near_dup", "unsafe", "low_quality", "leak"):
        assert kinds[k] >= 30, k
    near = [l for l in labels.values() if l["kind"] == "near_dup"]
    assert min(l["jaccard"] for l in near) < 0.4 and max(l["jaccard"] for l in near) > 0.9
    assert {l["variant"] for l in labels.values() if l["kind"] == "leak"} == {"verbatim", "edited", "split"}
    for l in labels.values():  # every duplicate points at a document of the corpus
        if "of" in l:
            assert labels[l["of"]]["kind"] == "clean"


def test_planted_jaccard_is_measured_on_main_text():
    a = "one two three four five six seven eight nine ten"
    assert jaccard(a, a) == 1.0
    assert jaccard(a, "one two three four five six seven eight nine eleven") == 5 / 7


def test_same_seed_same_corpus_other_seed_differs(tmp_path, sample_corpus):
    def digest(d):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((d / "warc").glob("*")) + [d / "labels.jsonl"]}

    _source_articles.cache_clear()  # collected afresh, as by another process
    build_sample(tmp_path / "again", seed=0)
    assert digest(tmp_path / "again") == digest(sample_corpus["dir"])
    build_sample(tmp_path / "other", seed=1, max_articles=400)  # the same articles, another seed
    assert digest(tmp_path / "other") != digest(sample_corpus["dir"])
