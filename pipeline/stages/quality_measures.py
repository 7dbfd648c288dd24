"""Pure measures behind the quality rules (Gopher quality and repetition, C4, FineWeb).

Measure, then decide (as dolma does): this module only computes numbers from a document; the
stage compares them with thresholds. The per-document features (lines, paragraphs, words) are
computed once in `Features` and shared by every rule.

Words: DataTrove splits with spaCy's English tokenizer, whose punctuation tokens count in the
denominators of several published ratios (alpha-word share, '#' per word, newlines per word).
`spacy_words` re-states spaCy's prefix/suffix/infix rules without spaCy, at a fraction of the
cost; benchmarks/bench_quality.py measures how often the decisions agree.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

from pipeline.text import mix64_one

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


# --- Gopher quality -----------------------------------------------------------------------------
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


# --- Gopher repetition --------------------------------------------------------------------------
@dataclass(frozen=True)
class GopherRepetition:
    dup_para_frac: float
    dup_para_char_frac: float
    dup_line_frac: float
    dup_line_char_frac: float
    top_ngram_char_frac: dict[int, float]
    dup_ngram_char_frac: dict[int, float]


def word_ids(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each word as a small integer (equal words, equal ids: exact, unlike hashes) and its length.
    The n-gram counts below run on these in compiled code."""
    index = {w: i for i, w in enumerate(dict.fromkeys(words))}
    ids = np.fromiter(map(index.__getitem__, words), np.int64, len(words))
    return ids, np.fromiter(map(len, words), np.int64, len(words))


@numba.njit(cache=True, nogil=True)
def _find_or_add(table: np.ndarray, hashes: np.ndarray, ids: np.ndarray, pos: int, n: int) -> tuple[int, bool]:
    """Open-addressing set of n-grams (stored as their first position): the slot of the n-gram at
    `pos` and whether it was there already. Equal hashes are confirmed on the ids, so the set is
    exact whatever the hash collisions."""
    mask = len(table) - 1
    slot = np.int64(hashes[pos] & np.uint64(mask))
    while table[slot] >= 0:
        other = table[slot]
        if hashes[other] == hashes[pos]:
            same = True
            for j in range(n):
                if ids[other + j] != ids[pos + j]:
                    same = False
                    break
            if same:
                return slot, True
        slot = (slot + 1) & mask
    table[slot] = pos
    return slot, False


@numba.njit(cache=True, nogil=True)
def _gram_table(ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-gram hashes of `ids` (position i: ids[i:i + n]) and an empty table for them."""
    grams = len(ids) - n + 1
    hashes = np.empty(grams, np.uint64)
    for i in range(grams):
        h = np.uint64(0)
        for j in range(n):
            h = mix64_one(h ^ np.uint64(ids[i + j]))
        hashes[i] = h
    size = 2
    while size < 2 * grams:
        size *= 2
    return hashes, np.full(size, -1, np.int64)


@numba.njit(cache=True, nogil=True)
def _top_ngram_chars(ids: np.ndarray, lengths: np.ndarray, n: int) -> int:
    """Chars of the most frequent n-gram (space-joined) times its count; first seen wins ties."""
    if len(ids) < n:
        return 0
    hashes, table = _gram_table(ids, n)
    counts = np.zeros(len(table), np.int64)
    best_slot, best = -1, 0
    for i in range(len(hashes)):
        slot, _ = _find_or_add(table, hashes, ids, i, n)
        counts[slot] += 1
    for i in range(len(hashes)):  # in order of first appearance, as Counter.most_common ranks ties
        slot, _ = _find_or_add(table, hashes, ids, i, n)
        if table[slot] == i and counts[slot] > best:
            best_slot, best = slot, counts[slot]
    first = table[best_slot]
    return (lengths[first:first + n].sum() + n - 1) * best


@numba.njit(cache=True, nogil=True)
def _dup_ngram_chars(ids: np.ndarray, lengths: np.ndarray, n: int) -> int:
    """Chars covered by repeated n-grams, scanning left to right and jumping past each repeat
    (as Gopher and DataTrove count it; n-grams are joined without spaces)."""
    if len(ids) < n:
        return 0
    hashes, table = _gram_table(ids, n)
    total = idx = 0
    while idx < len(hashes):
        _, seen = _find_or_add(table, hashes, ids, idx, n)
        if seen:
            total += lengths[idx:idx + n].sum()
            idx += n
        else:
            idx += 1
    return total


def gopher_repetition(f: Features, top_ns: tuple[int, ...], dup_ns: tuple[int, ...]) -> GopherRepetition:
    text = f.text
    size = len(text) or 1
    paras = _PARA.split(text.strip())
    p_n, p_chars = find_duplicates(paras)
    lines = _LINES.split(text)
    l_n, l_chars = find_duplicates(lines)
    ids, lengths = word_ids(f.words)
    return GopherRepetition(
        dup_para_frac=p_n / len(paras), dup_para_char_frac=p_chars / size,
        dup_line_frac=l_n / len(lines), dup_line_char_frac=l_chars / size,
        top_ngram_char_frac={n: _top_ngram_chars(ids, lengths, n) / size for n in top_ns},
        dup_ngram_char_frac={n: _dup_ngram_chars(ids, lengths, n) / size for n in dup_ns},
    )


# --- C4 -----------------------------------------------------------------------------------------
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


# --- FineWeb ------------------------------------------------------------------------------------
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
