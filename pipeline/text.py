"""Pure text helpers shared by stages: normalisation, words, n-grams, stable hashing.

One place for these so that dedup, decontamination and quality agree on what a "word" is.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_DIGITS = re.compile(r"\d")
_WORD = re.compile(r"\w+", re.UNICODE)


# _PUNCT split in two: ASCII punctuation and "_" as a byte table over UTF-8 (bytes from 128 up,
# all parts of non-ASCII characters, map to themselves), the rest as a regular expression
_ASCII_PUNCT = bytes(ord(" ") if c < 128 and _PUNCT.match(chr(c)) else c for c in range(256))
_OTHER_PUNCT = re.compile(r"[^\w\s\x00-\x7f]", re.UNICODE)


def normalize(text: str, *, lowercase: bool = True, punctuation: bool = True,
              digits: bool = False, nfkc: bool = True, whitespace: bool = True) -> str:
    """Canonical form for comparing texts: each flag removes one kind of difference.

    Why the fast paths: the regular expressions cost ~80 % of dedup's signing, mostly one match
    per punctuation mark. ASCII text is already NFKC; ASCII punctuation is one byte table and
    only the rare non-ASCII marks go through a regular expression; `" ".join(text.split())` is
    the whitespace regex exactly (both split on str.isspace). Same results (tested)."""
    if nfkc and not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.lower()
    if punctuation:
        text = text.encode("utf-8", "surrogatepass").translate(_ASCII_PUNCT).decode("utf-8", "surrogatepass")
        if not text.isascii():
            text = _OTHER_PUNCT.sub(" ", text)
    if digits:
        text = _DIGITS.sub("0", text)
    if whitespace:
        text = " ".join(text.split())
    return text


def words(text: str) -> list[str]:
    """Unicode word tokens (letters, digits, underscore runs)."""
    return _WORD.findall(text)


def word_ngrams(tokens: list[str], n: int) -> list[str]:
    """Space-joined word n-grams; a text shorter than n gives itself as one gram (if non-empty)."""
    if len(tokens) < n:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def hash64(data: str | bytes) -> int:
    """Stable 64-bit hash (blake2b): identical across processes and machines, unlike hash()."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps, as intended)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def word_hashes(words: list[str], cache: dict[str, int] | None = None) -> np.ndarray:
    """hash64 of each word (uint64), each distinct word hashed once (cached across calls)."""
    cache = {} if cache is None else cache
    for w in set(words).difference(cache):
        cache[w] = hash64(w)
    return np.array(list(map(cache.__getitem__, words)), dtype=np.uint64).reshape(len(words))


def ngram_hashes(words: list[str], n: int, cache: dict[str, int] | None = None) -> np.ndarray:
    """64-bit hashes of the word n-grams of `words` (one hash of the whole list if it is shorter).

    Each distinct word is hashed once (cached across calls); the n-gram hashes are combined with
    numpy over the n positions, so there is no Python loop per n-gram.
    """
    if not words:
        return np.empty(0, dtype=np.uint64)
    return gram_hashes(word_hashes(words, cache), min(n, len(words)))


def gram_hashes(wh: np.ndarray, n: int) -> np.ndarray:
    """Hashes of the n-grams over word hashes `wh` (empty when there are fewer than n words)."""
    m = len(wh) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    for j in range(n):
        h = mix64(h ^ wh[j:j + m])
    return h
