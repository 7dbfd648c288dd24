"""C4's rules (the T5 paper's code): a line filter (too-long words, citations, terminal
punctuation, short lines, javascript, policy lines) and page rules (lorem ipsum, curly brackets,
too few sentences). In drop mode the page keeps only the lines that pass.

Two defaults differ from C4's paper, as FineWeb's did: lines without terminal punctuation are
kept (`c4_terminal_punct = false`), and so are pages with a curly bracket
(`c4_curly_bracket = false`): on documentation and code-bearing web text C4's bracket rule
removes most pages, measured on the default corpus (see README).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

import pyarrow as pa

from pipeline.stages.quality_measures import C4_END, C4_POLICY, CITATION, SENTENCE_END
from pipeline.stages.quality_rules.family import Check, Rule, RuleFamily, mode_field


@dataclass(frozen=True)
class C4Result:
    text: str            # the kept lines
    sentences: int
    lorem_ipsum: bool
    curly_bracket: bool
    lines_removed: dict[str, int]


def c4_lines(text: str, *, terminal_punct: bool, min_words_per_line: int, max_word_length: int,
             remove_citations: bool, javascript: bool, policy: bool, lorem_ipsum: bool,
             curly_bracket: bool) -> C4Result:
    """C4's line filter; stops early (like C4) at the first line that condemns the page."""
    kept: list[str] = []
    removed: Counter = Counter()
    sentences = 0
    for line in text.splitlines():
        line = line.strip()
        words = line.split()
        if max_word_length > 0 and any(len(w) > max_word_length for w in words):
            removed["too_long_word"] += 1
            continue
        if remove_citations:
            line = CITATION.sub("", line)
        if terminal_punct and (not line.endswith(C4_END) or line.endswith("...")):
            removed["no_terminal_punct"] += 1
            continue
        if len(words) < min_words_per_line:
            removed["too_few_words"] += 1
            continue
        low = line.lower()
        if lorem_ipsum and "lorem ipsum" in low:
            return C4Result("", sentences, True, False, dict(removed))
        if javascript and "javascript" in low:
            removed["javascript"] += 1
            continue
        if curly_bracket and "{" in line:
            return C4Result("", sentences, False, True, dict(removed))
        if policy and any(p in low for p in C4_POLICY):
            removed["policy"] += 1
            continue
        sentences += len(SENTENCE_END.findall(line)) + 1
        kept.append(line)
    return C4Result("\n".join(kept).strip(), sentences, False, False, dict(removed))


@dataclass(frozen=True)
class Settings:
    c4: str = mode_field(what="drop also removes lines")
    c4_terminal_punct: bool = field(default=False, metadata={
        "help": "keep only lines ending in . ? ! \" ' (C4: true, FineWeb: false)"})
    c4_min_words_per_line: int = field(default=3, metadata={"help": "lines with fewer words are removed"})
    c4_min_sentences: int = field(default=5, metadata={"help": "pages with fewer sentences are dropped"})
    c4_max_word_length: int = field(default=1000, metadata={"help": "lines with a longer word are removed"})
    c4_remove_citations: bool = field(default=True, metadata={"help": "remove [1], [edit], [citation needed]"})
    c4_javascript: bool = field(default=True, metadata={"help": "remove lines mentioning javascript"})
    c4_policy: bool = field(default=True, metadata={"help": "remove cookie/terms/privacy lines"})
    c4_lorem_ipsum: bool = field(default=True, metadata={"help": "drop pages with lorem ipsum"})
    c4_curly_bracket: bool = field(default=False, metadata={"help": "drop pages with '{' (C4: true)"})


class C4Rules(RuleFamily):
    name = "c4"
    Settings = Settings
    columns = {"sentences": pa.int64(), "lorem_ipsum": pa.bool_(), "curly_bracket": pa.bool_()}
    rewrites_text = True

    def measure(self, chk: Check) -> dict[str, Any]:
        """C4's line filter; in drop mode the later families measure (and a kept page keeps) the
        lines that passed."""
        c = self.config
        r = c4_lines(chk.text, terminal_punct=c.c4_terminal_punct, min_words_per_line=c.c4_min_words_per_line,
                     max_word_length=c.c4_max_word_length, remove_citations=c.c4_remove_citations,
                     javascript=c.c4_javascript, policy=c.c4_policy, lorem_ipsum=c.c4_lorem_ipsum,
                     curly_bracket=c.c4_curly_bracket)
        m = {"sentences": r.sentences, "lorem_ipsum": r.lorem_ipsum, "curly_bracket": r.curly_bracket}
        if chk.alive:  # lines removed from pages that reach C4 (as when the run stops at a drop)
            for k, n in r.lines_removed.items():
                chk.count(f"c4_lines_removed.{k}", n)
        if chk.mode == "drop" and not (r.lorem_ipsum or r.curly_bracket):  # a page too short still
            chk.rewrite(r.text)  # passes them on: what-if may lower c4_min_sentences
        return m

    def rules(self) -> list[Rule]:
        return [Rule("c4_lorem_ipsum", "lorem_ipsum", "true"), Rule("c4_curly_bracket", "curly_bracket", "true"),
                Rule("c4_too_few_sentences", "sentences", "<", "c4_min_sentences")]

    def note(self, m: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"c4_sentences": m["sentences"]} if m else {}

    def trigger(self, text: str, reason: str) -> tuple[int, int] | None:
        what = {"c4_lorem_ipsum": "lorem ipsum", "c4_curly_bracket": "{"}.get(reason)
        at = text.lower().find(what) if what else -1
        return (at, at + len(what)) if at >= 0 else None
