"""Gopher quality rules (MassiveText paper, Table A1; DataTrove's defaults): word counts and
lengths, symbol and bullet shares, alphabetic words, stop words."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipeline.errors import ConfigError
from pipeline.stages.quality_measures import GOPHER_STOP_WORDS, Features
from pipeline.stages.quality_rules.family import Check, Rule, RuleFamily, mode_field, ratio


@dataclass(frozen=True)
class GopherQuality:
    n_words: int            # non-symbol words
    mean_word_length: float
    hash_ratio: float       # '#' per word (words include punctuation tokens)
    ellipsis_ratio: float
    bullet_lines: float
    ellipsis_lines: float
    alpha_words: float      # words with an alphabetic character / words
    stop_words: int         # distinct Gopher stop words present


def gopher_quality(f: Features) -> GopherQuality:
    words, ns = f.words, f.non_symbol_words
    n = len(words) or 1
    lines = f.lines or [""]
    alpha = {w for w in f.distinct_words if w.isalpha() or any(c.isalpha() for c in w)}
    return GopherQuality(
        n_words=len(ns),
        mean_word_length=sum(map(len, ns)) / len(ns) if ns else 0.0,
        hash_ratio=f.text.count("#") / n,
        ellipsis_ratio=(f.text.count("...") + f.text.count("…")) / n,
        bullet_lines=sum(l.lstrip().startswith(("•", "-")) for l in lines) / len(lines),
        ellipsis_lines=sum(l.rstrip().endswith(("...", "…")) for l in lines) / len(lines),
        alpha_words=sum(map(alpha.__contains__, words)) / n,
        stop_words=len(GOPHER_STOP_WORDS.intersection(words)),
    )


@dataclass(frozen=True)
class Settings:
    gopher_quality: str = mode_field()
    min_words: int = field(default=50, metadata={"help": "non-symbol words, at least"})
    max_words: int = field(default=100_000, metadata={"help": "non-symbol words, at most"})
    min_mean_word_length: float = field(default=3.0, metadata={"help": "mean length of non-symbol words, at least"})
    max_mean_word_length: float = field(default=10.0, metadata={"help": "mean length of non-symbol words, at most"})
    max_symbol_word_ratio: float = ratio(0.1, "'#' or ellipses per word")
    max_bullet_lines: float = ratio(0.9, "share of lines starting with a bullet")
    max_ellipsis_lines: float = ratio(0.3, "share of lines ending with an ellipsis")
    min_alpha_words: float = ratio(0.8, "share of words with a letter")
    min_stop_words: int = field(default=2, metadata={"help": "distinct of: the be to of and that have with"})


class GopherQualityRules(RuleFamily):
    name = "gopher_quality"
    Settings = Settings
    columns = {f: (pa.int64() if t == "int" else pa.float64()) for f, t in GopherQuality.__annotations__.items()}

    @classmethod
    def validate(cls, c: Settings) -> None:
        if c.min_words > c.max_words or c.min_mean_word_length > c.max_mean_word_length:
            raise ConfigError("quality: a minimum exceeds its maximum")

    def measure(self, chk: Check) -> dict[str, Any]:
        return gopher_quality(chk.features).__dict__

    def rules(self) -> list[Rule]:
        return [Rule("gopher_min_words", "n_words", "<", "min_words"),
                Rule("gopher_max_words", "n_words", ">", "max_words"),
                Rule("gopher_mean_word_length", "mean_word_length", "<", "min_mean_word_length"),
                Rule("gopher_mean_word_length", "mean_word_length", ">", "max_mean_word_length"),
                Rule("gopher_hash_ratio", "hash_ratio", ">", "max_symbol_word_ratio"),
                Rule("gopher_ellipsis_ratio", "ellipsis_ratio", ">", "max_symbol_word_ratio"),
                Rule("gopher_bullet_lines", "bullet_lines", ">", "max_bullet_lines"),
                Rule("gopher_ellipsis_lines", "ellipsis_lines", ">", "max_ellipsis_lines"),
                Rule("gopher_alpha_words", "alpha_words", "<", "min_alpha_words"),
                Rule("gopher_stop_words", "stop_words", "<", "min_stop_words")]
