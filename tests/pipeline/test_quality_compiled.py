"""The compiled quality measures give what their plain definitions give, on real pages.

Why a test of its own: the language walk and the repetition counts were rewritten for speed;
a card's drop reasons and language scores may not move because of it. Real pages written by
others (the extraction benchmark's ground-truth texts in ../shared/data) are the input.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.language import LanguageId
from pipeline.stages.quality_measures import PUNCTUATION, Features
from pipeline.stages.quality_rules.gopher_quality import gopher_quality
from pipeline.stages.quality_rules.gopher_repetition import gopher_repetition

EDGE = ["", " ", "x", "ABC DEF GHI", "Привет, мир! Как дела?", "日本語のテキストです。", "a\u0301 e\u0301",
        "word " * 50, "one two three four five six " * 9 + "end", "\ud800 surrogate"]


@pytest.fixture(scope="module")
def real_texts(shared_data: Path) -> list[str]:
    texts = []
    for gt in sorted((shared_data / "extraction").glob("*/ground_truth.jsonl")):
        texts += [json.loads(line)["text"] or "" for line in gt.open(encoding="utf-8")]
    assert len(texts) > 1000
    return texts[::4] + EDGE  # every 4th page of the three sets: ~350 pages, a few seconds


def test_language_id_equals_py3langid(real_texts):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ours, theirs = LanguageId.default(), LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    for text in real_texts:
        assert ours.classify(text) == theirs.classify(text), text[:80]
    ours.set_languages(["en", "de", "fr"])  # a column subset of the table: still equal
    theirs.set_languages(["en", "de", "fr"])
    assert [ours.classify(t) for t in real_texts[:200]] == [theirs.classify(t) for t in real_texts[:200]]


def _top_ngram_chars(words: list[str], n: int) -> int:
    """Gopher's top n-gram share, written plainly (DataTrove's way)."""
    if len(words) < n:
        return 0
    gram, c = Counter(zip(*(words[i:] for i in range(n)))).most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * c


def _dup_ngram_chars(words: list[str], n: int) -> int:
    """Gopher's duplicated n-gram chars, written plainly: scan, jump past each repeat."""
    seen: set[tuple[str, ...]] = set()
    total = idx = 0
    while idx < len(words) - n + 1:
        gram = tuple(words[idx:idx + n])
        if gram in seen:
            total += sum(map(len, gram))
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return total


@pytest.mark.parametrize("split", ["spacy", "whitespace"])
def test_repetition_and_word_measures_equal_plain_definitions(real_texts, split):
    for text in real_texts:
        f = Features(text, split)
        size = len(text) or 1
        m = gopher_repetition(f, (2, 3, 4), (5, 6, 7, 8, 9, 10))
        assert m.top_ngram_char_frac == {n: _top_ngram_chars(f.words, n) / size for n in (2, 3, 4)}
        assert m.dup_ngram_char_frac == {n: _dup_ngram_chars(f.words, n) / size for n in range(5, 11)}
        q = gopher_quality(f)
        words = f.words
        assert q.alpha_words == sum(any(c.isalpha() for c in w) for w in words) / (len(words) or 1)
        assert f.non_symbol_words == [w for w in words if not PUNCTUATION.issuperset(w)]
