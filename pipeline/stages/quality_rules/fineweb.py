"""FineWeb's own rules: lines ending in punctuation, short lines, duplicated line characters,
newlines per word (list-like pages)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipeline.stages.quality_measures import TERMINAL_PUNCTUATION, Features, find_duplicates, repeated_span
from pipeline.stages.quality_rules.family import Check, Rule, RuleFamily, mode_field, ratio


@dataclass(frozen=True)
class FineWeb:
    line_punct_ratio: float
    short_line_ratio: float
    dup_line_char_ratio: float
    newline_word_ratio: float


def fineweb(f: Features, short_line_length: int) -> FineWeb | None:
    lines = f.nonempty_lines
    if not lines:
        return None
    chars = len(f.text.replace("\n", "")) or 1
    return FineWeb(
        line_punct_ratio=sum(l.endswith(TERMINAL_PUNCTUATION) for l in lines) / len(lines),
        short_line_ratio=sum(len(l) <= short_line_length for l in lines) / len(lines),
        dup_line_char_ratio=find_duplicates(lines)[1] / chars,
        newline_word_ratio=f.text.count("\n") / (len(f.words) or 1),
    )


@dataclass(frozen=True)
class Settings:
    fineweb: str = mode_field()
    min_line_punct_ratio: float = ratio(0.12, "share of lines ending in terminal punctuation, at least")
    max_short_line_ratio: float = ratio(0.67, "share of short lines (see short_line_length), at most")
    short_line_length: int = field(default=30, metadata={"help": "a line of at most this many characters is short"})
    max_dup_line_char_ratio: float = ratio(0.01, "share of characters in repeated lines, at most")
    max_newline_word_ratio: float = field(default=0.3, metadata={"help": "newlines per word, at most"})


class FineWebRules(RuleFamily):
    name = "fineweb"
    Settings = Settings
    columns = {f: pa.float64() for f in FineWeb.__annotations__}

    def measure(self, chk: Check) -> dict[str, Any] | None:
        m = fineweb(chk.features, self.config.short_line_length)
        return None if m is None else m.__dict__

    def rules(self) -> list[Rule]:
        return [Rule("fineweb_empty", "line_punct_ratio", "missing"),
                Rule("fineweb_line_punct_ratio", "line_punct_ratio", "<", "min_line_punct_ratio"),
                Rule("fineweb_short_line_ratio", "short_line_ratio", ">", "max_short_line_ratio"),
                Rule("fineweb_char_dup_ratio", "dup_line_char_ratio", ">", "max_dup_line_char_ratio"),
                Rule("fineweb_list_ratio", "newline_word_ratio", ">", "max_newline_word_ratio")]

    def trigger(self, text: str, reason: str) -> tuple[int, int] | None:
        return repeated_span(text, text.split("\n")) if reason == "fineweb_char_dup_ratio" else None
