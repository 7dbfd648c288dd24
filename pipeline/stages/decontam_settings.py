"""The decontam stage's settings, below the stage and its index (both read them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ConfigError
from pipeline.testsets import BenchmarkSpec, default_benchmarks


@dataclass(frozen=True)
class Config:
    benchmarks: tuple[dict[str, Any], ...] = field(default=({"name": "default"},), metadata={
        "help": 'benchmarks: {name, path, fields = [...], format, split}; {name = "default"} = '
                "GSM8K + HumanEval + MMLU-Redux from ../shared/data (else a built-in sample); a path relative "
                "to the config file", "path": True})
    ngram: int = field(default=13, metadata={"help": "words per n-gram (GPT-3, lm-eval-harness: 13)"})
    min_words: int = field(default=8, metadata={"help": "items shorter than ngram are matched whole if they have this "
                                                        "many words"})
    max_docs_per_ngram: int = field(default=10, metadata={"help": "n-grams in more documents are common phrases and "
                                                                  "ignored"})
    policy: str = field(default="drop", metadata={"help": "drop | redact | tag"})
    redact_margin: int = field(default=200, metadata={"help": "redact: characters removed on each side of a match"})
    min_piece_chars: int = field(default=200, metadata={"help": "redact: shorter pieces are dropped"})
    max_splits: int = field(default=10, metadata={"help": "redact: documents split more often are dropped"})
    examples: int = field(default=3, metadata={"help": "examples per benchmark in the report"})
    fuzzy: bool = field(default=True, metadata={
        "help": "also find items with a few edited words (word n-gram screen + in-order word alignment)"})
    fuzzy_ngram: int = field(default=5, metadata={"help": "fuzzy: words per screening n-gram"})
    fuzzy_min_score: float = field(default=0.8, metadata={
        "help": "fuzzy: share of an item's words found in order in the document to call it a match"})
    fuzzy_min_coverage: float = field(default=0.2, metadata={
        "help": "fuzzy: share of an item's screening n-grams a document must hold to be aligned"})
    fuzzy_max_items_per_ngram: int = field(default=5, metadata={
        "help": "fuzzy: n-grams in more test items are the test set's template phrasing and ignored"})

    def __post_init__(self) -> None:
        if self.policy not in ("drop", "redact", "tag"):
            raise ConfigError(f"decontam.policy = {self.policy!r}; available: drop, redact, tag")
        if self.ngram < 1 or self.min_words < 1 or self.max_docs_per_ngram < 1:
            raise ConfigError("decontam.ngram, min_words and max_docs_per_ngram must be >= 1")
        if self.fuzzy_ngram < 2 or self.fuzzy_max_items_per_ngram < 1:
            raise ConfigError("decontam.fuzzy_ngram must be >= 2 and fuzzy_max_items_per_ngram >= 1")
        for key in ("fuzzy_min_score", "fuzzy_min_coverage"):
            if not 0 < getattr(self, key) <= 1:
                raise ConfigError(f"decontam.{key} = {getattr(self, key)}: must be in (0, 1]")
        for b in self.benchmarks:
            if not isinstance(b, dict) or "name" not in b:
                raise ConfigError(f"decontam.benchmarks: each entry needs a name, got {b!r}")
            if b["name"] != "default" and not {"path", "fields"} <= set(b):
                raise ConfigError(f"decontam.benchmarks {b['name']!r}: needs path and fields "
                                  "(the fields that make an item's text)")

    def specs(self) -> list[BenchmarkSpec]:
        out: list[BenchmarkSpec] = []
        for b in self.benchmarks:
            if b["name"] == "default":
                out += default_benchmarks()
            else:
                extra = set(b) - {"name", "path", "fields", "format", "split"}
                if extra:
                    raise ConfigError(f"decontam.benchmarks {b['name']!r}: unknown key(s) {', '.join(sorted(extra))}")
                out.append(BenchmarkSpec(b["name"], b["path"], tuple(b["fields"]),
                                         b.get("format", "auto"), b.get("split", "test")))
        return out
