"""FineWeb's own rules: lines ending in punctuation, short lines, duplicated line characters,
newlines per word (list-like pages)."""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.stages.quality_measures import TERMINAL_PUNCTUATION, Features, find_duplicates
from pipeline.stages.quality_rules.family import Check, RuleFamily, mode_field, ratio, rounded


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

    def check(self, chk: Check, mode: str) -> str | None:
        c = self.config
        m = fineweb(chk.features, c.short_line_length)
        if m is None:
            return "fineweb_empty"
        checks = [
            (m.line_punct_ratio < c.min_line_punct_ratio, "fineweb_line_punct_ratio"),
            (m.short_line_ratio > c.max_short_line_ratio, "fineweb_short_line_ratio"),
            (m.dup_line_char_ratio > c.max_dup_line_char_ratio, "fineweb_char_dup_ratio"),
            (m.newline_word_ratio > c.max_newline_word_ratio, "fineweb_list_ratio"),
        ]
        if mode == "tag":
            chk.info["fineweb"] = rounded(m.__dict__)
        return next((r for bad, r in checks if bad), None)
