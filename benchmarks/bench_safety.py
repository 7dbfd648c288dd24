"""Safety filters: docs/s per filter on 2 KB documents from the default corpus, one process.

    python benchmarks/bench_safety.py

Targets: >= 20,000 docs/s for the word filter, >= 10,000 docs/s for fastText scoring (per core).
The fastText model is trained here on the default corpus (planted unsafe pages vs clean pages).
"""
from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from common import default_corpus_dir, sized, timed
from pipeline.classifier import load_model, score, train_classifier
from pipeline.document import Document
from pipeline.pii import mask_pii
from pipeline.stages.safety import Config, SafetyStage


def two_kb_docs(n: int = 20_000) -> list[Document]:
    texts = [json.loads(l)["text"] for l in gzip.open(default_corpus_dir() / "expected.jsonl.gz")]
    chunks = [t[i:i + 2048] for t in texts for i in range(0, len(t) - 2048, 2048)]
    return [Document(str(i), chunks[i % len(chunks)], url=f"https://docs.example.org/p/{i}") for i in range(n)]


def rate(label: str, n: int, fn) -> float:
    with timed() as t:
        fn()
    r = n / t["seconds"]
    print(f"{label:34s} {r:10,.0f} docs/s")
    return r


def main() -> None:
    docs = two_kb_docs(sized(20_000, 500))
    n = len(docs)
    print(f"{n:,} documents of 2 KB")
    stage = SafetyStage(Config(pii="off"))
    stage.setup()
    rate("url filter", n, lambda: [stage.url_verdict(d.url) for d in docs])
    words = rate("word filter (tokens + matcher)", n, lambda: [stage.words.count(d.text) for d in docs])
    rate("pii masking", n, lambda: [mask_pii(d.text) for d in docs])
    labels = {r["id"]: r["kind"] for r in map(json.loads, open(default_corpus_dir() / "labels.jsonl"))}
    texts = {r["id"]: r["text"] for r in map(json.loads, gzip.open(default_corpus_dir() / "expected.jsonl.gz"))}
    from common import raw_pages
    pages = {p.id: p.text for p in raw_pages()}
    pos = [pages[i] for i, k in labels.items() if k == "unsafe"]
    neg = [texts[i] for i, k in labels.items() if k == "clean"][:sized(1000, 100)]
    with tempfile.TemporaryDirectory() as tmp:
        train_classifier(pos, neg, Path(tmp) / "m.bin", epoch=5)
        model = load_model(Path(tmp) / "m.bin")
        ft = rate("fastText scoring (batched)", n, lambda: score(model, [d.text for d in docs]))
    stage_all = SafetyStage(Config())
    stage_all.setup()
    rate("whole stage (url+words+pii)", n, lambda: stage_all.process_batch(
        [Document(d.id, d.text, d.url) for d in docs]))
    print(f"targets: word filter {words / 20_000:.2f}x of 20,000 docs/s; fastText {ft / 10_000:.2f}x of 10,000 docs/s")


if __name__ == "__main__":
    main()
