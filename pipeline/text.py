"""Pure text helpers shared by stages: normalisation, words, n-grams, stable hashing.

One place for these so that dedup, decontamination and quality agree on what a "word" is.
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_DIGITS = re.compile(r"\d")
_SPACE = re.compile(r"\s")
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


@functools.cache
def _char_classes() -> np.ndarray:
    """Per code point: 1 if `_PUNCT` matches it, 2 if str.split splits on it, 4 if `_DIGITS`
    matches it; taken from the expressions themselves, so the batch form cannot drift from them.
    Built once per process (~0.15 s), the first time a batch holds a non-ASCII text."""
    code = np.arange(0x110000, dtype=np.uint32)
    every = code.tobytes().decode("utf-32-le", "surrogatepass")  # every character, in order

    def matched(pattern: re.Pattern, stand_in: str) -> np.ndarray:
        subbed = pattern.sub(stand_in, every).encode("utf-32-le", "surrogatepass")
        return np.frombuffer(subbed, np.uint32) != code

    classes = np.where(matched(_PUNCT, "a"), 1, 0) | np.where(matched(_DIGITS, "a"), 4, 0)
    classes |= np.where(matched(_SPACE, "a"), 2, 0)  # the characters str.isspace and str.split know
    return classes.astype(np.uint8)


@numba.njit(cache=True, nogil=True)
def _normal_kernel(data: np.ndarray, offsets: np.ndarray, ascii_byte: np.ndarray, ascii_gap: np.ndarray,
                   classes: np.ndarray, punctuation: bool, digits: bool, whitespace: bool) \
        -> tuple[np.ndarray, np.ndarray]:
    """`normalize`'s steps after NFKC and Unicode lowercasing, over UTF-8 texts laid end to end:
    punctuation to a space, digits to "0", whitespace runs to one space and none at either end.
    An ASCII byte becomes `ascii_byte[b]` (lowered too) or, where `ascii_gap[b]`, a gap; others
    are decoded and looked up in `classes`. Never longer than its input (a change writes one byte)."""
    out = np.empty(len(data), np.uint8)
    out_off = np.zeros(len(offsets), np.int64)
    o = 0
    for d in range(len(offsets) - 1):
        i, end, start, pending = offsets[d], offsets[d + 1], o, False
        while i < end:
            b0 = data[i]
            if b0 < 0x80:
                i += 1
                if ascii_gap[b0]:
                    pending = o > start
                    continue
                if pending:
                    out[o] = 32
                    o += 1
                    pending = False
                out[o] = ascii_byte[b0]
                o += 1
                continue
            if b0 < 0xE0:
                cp, n = ((np.int64(b0) & 0x1F) << 6) | (data[i + 1] & 0x3F), 2
            elif b0 < 0xF0:
                cp, n = ((np.int64(b0) & 0x0F) << 12) | ((np.int64(data[i + 1]) & 0x3F) << 6) | (data[i + 2] & 0x3F), 3
            else:
                cp, n = (((np.int64(b0) & 0x07) << 18) | ((np.int64(data[i + 1]) & 0x3F) << 12)
                         | ((np.int64(data[i + 2]) & 0x3F) << 6) | (data[i + 3] & 0x3F)), 4
            c = classes[cp]
            one = -1  # the one byte that replaces the character, if any
            if punctuation and c & 1:
                one = 32
            elif digits and c & 4:
                one = 48
            if whitespace and (c & 2 or one == 32):
                pending = o > start
                i += n
                continue
            if pending:
                out[o] = 32
                o += 1
                pending = False
            if one >= 0:
                out[o] = one
                o += 1
            else:
                for k in range(n):
                    out[o + k] = data[i + k]
                o += n
            i += n
        out_off[d + 1] = o
    return out[:o], out_off


@functools.cache
def _ascii_tables(lowercase: bool, punctuation: bool, digits: bool, whitespace: bool) -> tuple[np.ndarray, np.ndarray]:
    """What `normalize` makes of each ASCII character under these settings: its byte, and whether
    it is a gap (whitespace, or punctuation turned into a space)."""
    normal = [normalize(chr(c), lowercase=lowercase, punctuation=punctuation, digits=digits, whitespace=False)
              for c in range(128)]
    return (np.array([ord(t) for t in normal], np.uint8),
            np.array([whitespace and t.isspace() for t in normal], np.bool_))


def string_buffers(texts: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """A large_string array's offsets (int64, len + 1, the array's slice offset applied) and
    its UTF-8 bytes, as numpy views of Arrow's buffers (no copy)."""
    _, off_buf, data_buf = texts.buffers()
    offsets = np.frombuffer(off_buf, np.int64, len(texts) + 1, texts.offset * 8)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def normalize_array(texts: pa.Array | pa.ChunkedArray, *, lowercase: bool = True, punctuation: bool = True,
                    digits: bool = False, nfkc: bool = True, whitespace: bool = True) -> pa.LargeStringArray:
    """`normalize` of every text of a string array, the same strings, as one large_string array.

    Why: called per document, normalize was a third of dedup's signing (100,000 documents:
    4.7 s). Here the byte work of every text runs in one compiled pass over Arrow's buffer; only
    the non-ASCII texts touch Python, for NFKC and Unicode lowercasing, which are whole-string C
    calls (final sigma and other context rules stay Python's). Equal to normalize (tested)."""
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    arr = arr.cast(pa.large_string())
    other = pc.invert(pc.string_is_ascii(arr)).to_numpy(zero_copy_only=False)
    ascii_byte, ascii_gap = _ascii_tables(lowercase, punctuation, digits, whitespace)
    classes = np.zeros(1, np.uint8)  # looked up for non-ASCII characters only
    if other.any():
        classes = _char_classes()
        if nfkc or lowercase:
            prepared = []
            for t in arr.filter(other).to_pylist():
                t = unicodedata.normalize("NFKC", t) if nfkc else t
                prepared.append(t.lower() if lowercase else t)
            arr = pc.replace_with_mask(arr, pa.array(other), pa.array(prepared, pa.large_string()))
    offsets, data = string_buffers(arr)
    out, out_off = _normal_kernel(data, offsets, ascii_byte, ascii_gap, classes, punctuation, digits, whitespace)
    return pa.LargeStringArray.from_buffers(len(arr), pa.py_buffer(out_off), pa.py_buffer(out))


def words(text: str) -> list[str]:
    """Unicode word tokens (letters, digits, underscore runs)."""
    return _WORD.findall(text)


def word_ngrams(tokens: list[str], n: int) -> list[str]:
    """Space-joined word n-grams; a text shorter than n gives itself as one gram (if non-empty)."""
    if len(tokens) < n:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def hash64(data: str | bytes | memoryview) -> int:
    """Stable 64-bit hash (blake2b): identical across processes and machines, unlike hash()."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def hash64_array(texts: pa.LargeStringArray) -> np.ndarray:
    """hash64 of each string of a large_string array (uint64), read from its buffer: no Python
    string is made (dedup's exact hashes of `normalize_array`'s output)."""
    offsets, data = string_buffers(texts)
    ends, raw = offsets.tolist(), memoryview(data)
    return np.fromiter((hash64(raw[a:b]) for a, b in zip(ends, ends[1:])), np.uint64, len(texts))


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
def gram_kernel(wh: np.ndarray, woff: np.ndarray, n: int, short: bool) -> tuple[np.ndarray, np.ndarray]:
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
    return gram_kernel(word_hashes([w for ws in word_lists for w in ws], cache), woff, n, True)


def utf8_array(texts: list[str]) -> pa.Array:
    """A string array built from encoded bytes: the same array as `pa.array(texts, pa.string())`.

    Why: handed Python strings, Arrow asks each for its UTF-8 form, which CPython builds and then
    keeps inside every non-ASCII string for as long as the string lives; encoding here leaves the
    strings as they were and measured ~35 % faster (111 MB of real HTML: 0.38 s against 0.59 s,
    median of 4 fresh processes). The cast checks that the bytes are valid UTF-8."""
    return pa.array([t.encode("utf-8") for t in texts], pa.binary()).cast(pa.string())


def ngram_hashes(words: list[str], n: int, cache: dict[str, int] | None = None) -> np.ndarray:
    """64-bit hashes of the word n-grams of `words` (one hash of the whole list if it is shorter).
    Each distinct word is hashed once (cached across calls)."""
    return ngram_hashes_batch([words], n, cache)[0]


def gram_hashes(wh: np.ndarray, n: int) -> np.ndarray:
    """Hashes of the n-grams over word hashes `wh` (empty when there are fewer than n words)."""
    return gram_kernel(wh, np.array([0, len(wh)], np.int64), n, False)[0]
