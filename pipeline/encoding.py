"""Bytes -> text for HTML, with the guess recorded.

bs4's UnicodeDammit weighs a definite HTTP charset, a BOM and the page's own meta charset, then
falls back to detection; bytes that are valid UTF-8 (most of the web) take a fast path that skips
all of it, even when a <meta charset> names another encoding: pages re-saved as UTF-8 keep their
old declaration (118 of 621 pages of the L3S-GN1 crawl do), and non-ASCII text that happens to be
valid UTF-8 is almost never Latin-1 or cp1252, where decoding it as declared gives mojibake.
Bytes that are UTF-8 but for a few stray bytes are decoded as UTF-8 too, each stray byte a U+FFFD,
as a browser decodes a page declared UTF-8: detection called eight such pages of
../shared/data/extraction mac_latin2, windows-1250, iso8859_10 or cp775, and every non-ASCII
letter of them came out wrong (a Polish page with 499 valid sequences and one bad byte; a
dragnet page whose only stray bytes sit in a mangled <meta> description: "youâ€™re").
"""
from __future__ import annotations

import codecs
import re

_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
# Labels a browser decodes as windows-1252 (the WHATWG Encoding Standard): a page that declares
# ISO-8859-1 means cp1252's curly quotes, dashes and ellipses by its bytes 0x80-0x9F, which
# Latin-1 reads as control characters ("Xiaomi\x92s" for "Xiaomi’s", "\x84Bernd\x93" for
# „Bernd“: 8 pages of ../shared/data/extraction are read as ISO-8859-1 and hold such bytes; their
# extraction scores do not move, since neither scorer counts punctuation, but the text is right).
_WINDOWS_1252_LABELS = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii",
                                  "cp819", "ibm819", "windows-1252", "cp1252"})
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
_NON_ASCII_BYTES = bytes(range(128, 256))
# cp1252 leaves five bytes unassigned; browsers map them to the control characters of the same
# value, as Latin-1 does
codecs.register_error("c1_as_latin1", lambda e: (e.object[e.start:e.end].decode("latin-1"), e.end))


def http_charset(content_type: str | None) -> str | None:
    m = _CHARSET.search(content_type or "")
    return m.group(1).lower() if m else None


def decode_html(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode HTML bytes; returns (text, encoding used). Bytes that are valid UTF-8, declared so
    or not declared, take the fast path: UnicodeDammit would decode them the same way."""
    if not data:
        return "", "empty"
    # (NUL bytes are valid UTF-8 but mark UTF-16/32 without a BOM: those go to detection)
    if declared in (None, "utf-8") and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) \
            and b"\x00" not in data[:1024]:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text = _mostly_utf8(data)
            if text is not None:
                return text, "utf-8-replace"
    from bs4 import UnicodeDammit

    dammit = UnicodeDammit(data, known_definite_encodings=[declared] if declared else [],
                           is_html=True)
    if dammit.unicode_markup is None:
        return data.decode("utf-8", errors="replace"), "utf-8-replace"
    encoding = (dammit.original_encoding or "unknown").lower()
    if encoding in _WINDOWS_1252_LABELS and _C1_BYTES.search(data):
        return data.decode("cp1252", errors="c1_as_latin1"), "windows-1252"
    return dammit.unicode_markup, encoding


def _mostly_utf8(data: bytes, min_valid_per_bad: float = 1.0) -> str | None:
    """The bytes decoded as UTF-8 with U+FFFD for each stray byte, when they hold valid
    multi-byte sequences, at least `min_valid_per_bad` per stray byte; else None. Text in a
    single-byte encoding (cp1252, Latin-1) has next to no valid sequences: an accented letter
    followed by an ASCII one is never valid UTF-8. (Of ../shared/data/extraction's 34 pages that
    are not valid UTF-8, the eight that are UTF-8 but for 1-8 stray bytes have 1.5 to 499 valid
    sequences per stray byte; of the other 26, in single-byte encodings or GB2312, none has more
    than 0.3.)"""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    ascii_bytes = len(data.translate(None, _NON_ASCII_BYTES))
    valid = len(text) - ascii_bytes - bad  # decoded non-ASCII chars that came from valid sequences
    return text if valid and valid >= min_valid_per_bad * bad else None
