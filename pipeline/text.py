"""Pure text helpers shared by stages: normalisation, words, n-grams, stable hashing.

One place for these so that dedup, decontamination and quality agree on what a "word" is.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    return np.array(list(map(cache.__getitem__, words)), dtype=np.uint64)


@numba.njit(cache=True, nogil=True)
def mix64_one(x: np.uint64) -> np.uint64:
    """mix64 for one value, inside compiled code."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def gram_hash(words: np.ndarray, start: int, n: int) -> np.uint64:
    """The hash of the n-gram words[start:start + n] (uint64 word hashes or ids): each word folded
    in with mix64, starting from 0. The one definition every compiled n-gram count uses."""
    h = np.uint64(0)
    for j in range(n):
        h = mix64_one(h ^ np.uint64(words[start + j]))
    return h


@numba.njit(cache=True, nogil=True)
def _gram_kernel(wh: np.ndarray, woff: np.ndarray, n: int, short: bool) -> tuple[np.ndarray, np.ndarray]:
    """n-gram hashes of many word-hash lists laid end to end (list d is wh[woff[d]:woff[d+1]]) and
    each list's offsets into the result. A gram's hash folds its words in with mix64, starting
    from 0. A list shorter than n gives one hash of itself when `short`, else none."""
    docs = len(woff) - 1
    goff = np.zeros(docs + 1, np.int64)
    for d in range(docs):
        m = woff[d + 1] - woff[d]
        grams = m - n + 1 if m >= n else (1 if short and m > 0 else 0)
        goff[d + 1] = goff[d] + grams
    out = np.empty(goff[docs], np.uint64)
    for d in range(docs):
        start, k = woff[d], min(n, woff[d + 1] - woff[d])
        for i in range(goff[d + 1] - goff[d]):
            out[goff[d] + i] = gram_hash(wh, start + i, k)
    return out, goff


def ngram_hashes_batch(word_lists: list[list[str]], n: int, cache: dict[str, int] | None = None) \
        -> tuple[np.ndarray, np.ndarray]:
    """`ngram_hashes` of many word lists in one compiled pass: the hashes laid end to end, and
    each list's offsets (list d's are values[offsets[d]:offsets[d + 1]]).

    Why one pass: combining n word hashes a gram is a few integer operations, and per list numpy
    calls cost more than the work (the validation split's 13-grams, dedup's shingles)."""
    woff = np.zeros(len(word_lists) + 1, np.int64)
    np.cumsum([len(w) for w in word_lists], out=woff[1:])
    return _gram_kernel(word_hashes([w for ws in word_lists for w in ws], cache), woff, n, True)


def utf8_array(texts: list[str]) -> pa.Array:
    """A string array built from encoded bytes: the same array as `pa.array(texts, pa.string())`.

    Why: handed Python strings, Arrow asks each for its UTF-8 form, which CPython builds and then
    keeps inside every non-ASCII string for as long as the string lives; encoding here leaves the
    strings as they were and measured ~35 % faster (111 MB of real HTML: 0.38 s against 0.59 s,
    median of 4 fresh processes). The cast checks that the bytes are valid UTF-8."""
    return pa.array([t.encode("utf-8") for t in texts], pa.binary()).cast(pa.string())


def ngram_hashes_spaced(texts: list[str], n: int, cache: dict[str, int] | None = None) \
        -> tuple[np.ndarray, np.ndarray]:
    """`ngram_hashes_batch` of `[t.split() for t in texts]`, the same values, for texts whose words
    are separated by single spaces (`normalize` with `whitespace`, the form dedup signs).

    Why: splitting into Python lists and looking each word up in the cache was 85 % of dedup's
    signing (the kernels ~2 %). Here Arrow splits the texts and finds the distinct words in C++,
    and only the distinct words touch Python (0.67 s -> 0.18 s on 5,000 pages of the default
    corpus, bench_dedup's sample)."""
    cache = {} if cache is None else cache
    arr = utf8_array(texts)
    lists = pc.split_pattern(arr, " ")
    counts = pc.list_value_length(lists).to_numpy().astype(np.int64)
    empty = pc.binary_length(arr).to_numpy() == 0  # "" splits into [""], str.split into []
    counts[empty] = 0
    flat = lists.flatten()
    if empty.any():
        flat = flat.filter(pc.not_equal(flat, ""))  # a normalised text has no other empty word
    codes = pc.dictionary_encode(flat)
    distinct = codes.dictionary.to_pylist()
    for w in set(distinct).difference(cache):
        cache[w] = hash64(w)
    wh = np.fromiter(map(cache.__getitem__, distinct), np.uint64, len(distinct))[codes.indices.to_numpy()]
    woff = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(counts, out=woff[1:])
    return _gram_kernel(wh, woff, n, True)


def ngram_hashes(words: list[str], n: int, cache: dict[str, int] | None = None) -> np.ndarray:
    """64-bit hashes of the word n-grams of `words` (one hash of the whole list if it is shorter).
    Each distinct word is hashed once (cached across calls)."""
    return ngram_hashes_batch([words], n, cache)[0]


def gram_hashes(wh: np.ndarray, n: int) -> np.ndarray:
    """Hashes of the n-grams over word hashes `wh` (empty when there are fewer than n words)."""
    return _gram_kernel(wh, np.array([0, len(wh)], np.int64), n, False)[0]
