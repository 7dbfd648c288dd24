"""Gopher repetition rules: duplicated lines and paragraphs, the most frequent word n-grams, and
characters in duplicated n-grams (counted as Gopher and DataTrove count them, in compiled code)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pyarrow as pa

from pipeline.errors import ConfigError
from pipeline.stages.quality_measures import _LINES, _PARA, Features, find_duplicates, ngram_span, repeated_span
from pipeline.stages.quality_rules.family import Check, Rule, RuleFamily, mode_field, ratio
from pipeline.text import gram_hash


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
        hashes[i] = gram_hash(ids, i, n)
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


@dataclass(frozen=True)
class Settings:
    gopher_repetition: str = mode_field()
    dup_line_frac: float = ratio(0.3, "share of lines that repeat an earlier line")
    dup_para_frac: float = ratio(0.3, "share of paragraphs that repeat an earlier one")
    dup_line_char_frac: float = ratio(0.2, "share of characters in repeated lines")
    dup_para_char_frac: float = ratio(0.2, "share of characters in repeated paragraphs")
    top_ngram_char_frac: dict[int, float] = field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16},
        metadata={"help": "n -> most the most frequent word n-gram may cover (share of characters)"})
    dup_ngram_char_frac: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        metadata={"help": "n -> most the repeated word n-grams may cover (share of characters)"})


class GopherRepetitionRules(RuleFamily):
    name = "gopher_repetition"
    Settings = Settings

    def setup(self) -> None:
        gopher_repetition(Features("warm up the compiled n-gram counts"), (2,), (5,))

    @classmethod
    def validate(cls, c: Settings) -> None:
        for d in (c.top_ngram_char_frac, c.dup_ngram_char_frac):
            for n, v in d.items():
                if n < 1 or not 0.0 <= v <= 1.0:
                    raise ConfigError(f"quality n-gram thresholds: n = {n} must be >= 1, value {v} within [0, 1]")

    def measure_columns(self) -> dict[str, pa.DataType]:
        c = self.config
        return {**dict.fromkeys(("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"),
                                pa.float64()),
                **{f"top_{n}gram_char_frac": pa.float64() for n in c.top_ngram_char_frac},
                **{f"dup_{n}gram_char_frac": pa.float64() for n in c.dup_ngram_char_frac}}

    def measure(self, chk: Check) -> dict[str, Any]:
        c = self.config
        m = gopher_repetition(chk.features, tuple(c.top_ngram_char_frac), tuple(c.dup_ngram_char_frac))
        return {"dup_para_frac": m.dup_para_frac, "dup_para_char_frac": m.dup_para_char_frac,
                "dup_line_frac": m.dup_line_frac, "dup_line_char_frac": m.dup_line_char_frac,
                **{f"top_{n}gram_char_frac": v for n, v in m.top_ngram_char_frac.items()},
                **{f"dup_{n}gram_char_frac": v for n, v in m.dup_ngram_char_frac.items()}}

    def rules(self) -> list[Rule]:
        c = self.config
        return [Rule(f"gopher_{k}", k, ">", k) for k in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac",
                                                          "dup_line_char_frac")] \
            + [Rule(f"gopher_top_{n}gram", f"top_{n}gram_char_frac", ">", "top_ngram_char_frac", n)
               for n in c.top_ngram_char_frac] \
            + [Rule(f"gopher_dup_{n}gram", f"dup_{n}gram_char_frac", ">", "dup_ngram_char_frac", n)
               for n in c.dup_ngram_char_frac]

    def trigger(self, text: str, reason: str) -> tuple[int, int] | None:
        if reason.endswith("gram"):  # gopher_top_2gram, gopher_dup_5gram
            return ngram_span(text, int(reason.rsplit("_", 1)[1][:-4]))
        return repeated_span(text, _PARA.split(text.strip()) if "_para_" in reason else _LINES.split(text))
