"""What every quality rule family measures from: words, lines, paragraphs (`Features`, computed
once a document and shared), and the published word and punctuation lists.

Measure, then decide (as dolma does): the families (quality_rules/) compute their measures from
these and compare them with their thresholds.

Words: DataTrove splits with spaCy's English tokenizer, whose punctuation tokens count in the
denominators of several published ratios (alpha-word share, '#' per word, newlines per word).
`spacy_words` re-states spaCy's prefix/suffix/infix rules without spaCy, at a fraction of the
cost; benchmarks/bench_quality.py measures how often the decisions agree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

# spaCy's English tokenizer rules (prefixes, suffixes, infixes; URLs and a few exceptions kept
# whole), re-stated as three regexes and a loop per whitespace chunk. Chunks of letters and digits
# only (most words) skip the loop.
_P = r"""…,:;!?¿¡()\[\]{}<>_#*&'"”“`‘´’‚„»«"""
_PREFIX = re.compile(r"^(?:\.\.+|[§%=—–$£€¥]|\+(?![0-9])|[" + _P + r"])")
_SUFFIX = re.compile(r"(?:\.\.+|'[sS]|’[sS]|[—–\ufe0f]|[" + _P + r"]|(?<=[0-9])[+%°]|"
                     r"(?<=[0-9a-z%²+\-" + _P + r"])\.|(?<=[A-Z][A-Z])\.)$")
_INFIX = re.compile(r"\.\.+|…|(?<=[0-9])[+\-*^](?=[0-9-])|(?<=[a-z'\"])\.(?=[A-Z'\"])|"
                    r"(?<=[^\W\d_]),(?=[^\W\d_])|(?<=[^\W_])(?:---|--|——|[-–—~])(?=[^\W\d_])|"
                    r"(?<=[^\W_])[:<>=/](?=[^\W\d_])")
_WHOLE = re.compile(r"^(?:https?://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:[^\W\d_]\.)+|"
                    r"and/or|Mr\.|Mrs\.|Ms\.|Dr\.|St\.|vs\.|Inc\.|Ltd\.|Co\.|Jr\.|Sr\.|''|"
                    r"\):|:\]|:\)|\(:|:\(|;\)|:-\)|:-\(|=\)|:D|:P|:p|<3)$")
_NT = re.compile(r"^(\w+)(n['’]t)$|^(can)(not)$", re.I)


_CHUNKS: dict[str, list[str]] = {}  # chunk -> its tokens; pages repeat most of their chunks
_CHUNKS_MAX = 200_000  # entries, then the cache starts afresh: memory stays bounded


def spacy_words(text: str) -> list[str]:
    """Word tokens as spaCy's blank English tokenizer makes them (what DataTrove counts)."""
    out: list[str] = []
    for chunk in text.split():
        if chunk.isalnum():
            out.append(chunk)
            continue
        tokens = _CHUNKS.get(chunk)
        if tokens is None:
            if len(_CHUNKS) >= _CHUNKS_MAX:
                _CHUNKS.clear()
            tokens = _CHUNKS[chunk] = _chunk_tokens(chunk)
        out += tokens
    return out


def _chunk_tokens(chunk: str) -> list[str]:
    """spaCy's prefix, suffix, infix and exception rules on one whitespace-free chunk."""
    out: list[str] = []
    if _WHOLE.match(chunk):
        return [chunk]
    suffixes: list[str] = []
    while chunk and not _WHOLE.match(chunk):
        m = _PREFIX.match(chunk)
        if m and m.end() < len(chunk):
            out.append(m.group())
            chunk = chunk[m.end():]
            continue
        m = _SUFFIX.search(chunk)
        if m and m.start() > 0:
            suffixes.append(m.group())
            chunk = chunk[:m.start()]
            continue
        break
    if chunk:
        nt = _NT.match(chunk)
        if nt:
            out += [g for g in nt.groups() if g]
        elif _WHOLE.match(chunk) or chunk.isalnum():
            out.append(chunk)
        else:
            pos = 0
            for m in _INFIX.finditer(chunk):
                if m.start() > pos:
                    out.append(chunk[pos:m.start()])
                if m.group():
                    out.append(m.group())
                pos = m.end()
            if pos < len(chunk):
                out.append(chunk[pos:])
    out += reversed(suffixes)
    return out


# DataTrove's punctuation set (ASCII and common CJK/Unicode marks, and control characters).
PUNCTUATION = set("!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»") | \
    {chr(x) for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b)}
# Sentence terminals (Unicode Sentence_Terminal marks in common scripts; no quotes or ellipsis).
TERMINAL_PUNCTUATION = tuple(".!?。！？．｡।॥؟۔‼‽⁇⁈⁉։።፧።᙮")
GOPHER_STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
C4_END = (".", "?", "!", '"', "'")
C4_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+\S)")
_PARA = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


@dataclass
class Features:
    """What every rule needs, computed at most once per document.

    `word_split`: "spacy" splits punctuation into tokens of their own, as DataTrove's English
    tokenizer does (its ratios then count "(" and "," as words); "whitespace" takes
    whitespace-separated words, as the Gopher paper describes its word ratios.
    """

    text: str
    word_split: str = "spacy"

    @cached_property
    def words(self) -> list[str]:
        return spacy_words(self.text) if self.word_split == "spacy" else self.text.split()

    @cached_property
    def distinct_words(self) -> set[str]:
        """Per-word tests run once per distinct word (a page repeats most of its words)."""
        return set(self.words)

    @cached_property
    def non_symbol_words(self) -> list[str]:
        p = PUNCTUATION
        symbols = {w for w in self.distinct_words if p.issuperset(w)}
        return [w for w in self.words if w not in symbols] if symbols else self.words

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def nonempty_lines(self) -> list[str]:
        return [l for l in self.text.split("\n") if l.strip()]


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(repeated elements, chars in repeated elements) — repeats after the first occurrence."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


def repeated_span(text: str, items: list[str]) -> tuple[int, int] | None:
    """Where the most repeated of `items` (lines, paragraphs) second occurs in `text`: what a
    duplication rule counted (for `inspect`)."""
    counts: dict[str, int] = {}
    for x in items:
        if x.strip():
            counts[x] = counts.get(x, 0) + 1
    if not counts or max(counts.values()) < 2:
        return None
    top = max(counts, key=counts.__getitem__)
    first = text.find(top)
    second = text.find(top, first + len(top))
    at = second if second >= 0 else first
    return at, at + len(top)


def ngram_span(text: str, n: int) -> tuple[int, int] | None:
    """Where the most frequent word n-gram first occurs in `text` (for `inspect`)."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    words = [text[a:b] for a, b in spans]
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        g = tuple(words[i:i + n])
        counts[g] = counts.get(g, 0) + 1
    if not counts:
        return None
    top = max(counts, key=counts.__getitem__)
    i = next(i for i in range(len(words) - n + 1) if tuple(words[i:i + n]) == top)
    return spans[i][0], spans[i + n - 1][1]
