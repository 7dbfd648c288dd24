"""Pure text helpers shared by stages: normalisation, words, n-grams, stable hashing.

One place for these so that dedup, decontamination and quality agree on what a "word" is.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_DIGITS = re.compile(r"\d")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize(text: str, *, lowercase: bool = True, punctuation: bool = True,
              digits: bool = False, nfkc: bool = True, whitespace: bool = True) -> str:
    """Canonical form for comparing texts: each flag removes one kind of difference."""
    if nfkc:
        text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.lower()
    if punctuation:
        text = _PUNCT.sub(" ", text)
    if digits:
        text = _DIGITS.sub("0", text)
    if whitespace:
        text = _WS.sub(" ", text).strip()
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
    return np.fromiter((cache[w] if w in cache else cache.setdefault(w, hash64(w)) for w in words),
                       dtype=np.uint64, count=len(words))


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
