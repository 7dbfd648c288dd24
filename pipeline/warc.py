"""WARC.gz reading that survives damage: one bad gzip member costs one record, not the file.

A WARC.gz is a series of independent gzip members, one record each (the WARC standard's
recommendation, which crawlers follow), precisely so that a reader can start at any member. warcio
reads the file as one stream and stops at the first corrupt member, losing everything after it.
Here the file is memory-mapped and walked member by member with zlib: a member that does not
decompress (flipped bytes, zeroed blocks, inserted garbage, a cut end) becomes one damaged span
with its byte offsets, and reading resumes at the next gzip header. Each good member is parsed
by warcio. A member that decompresses to more than a set size is skipped, so one giant record
cannot exhaust memory.
"""
from __future__ import annotations

import mmap
import zlib
from dataclasses import dataclass
from typing import Iterator

MAGIC = b"\x1f\x8b\x08"  # gzip id bytes and the deflate method
CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    """A span of the file: a gzip member's decompressed bytes, or a span that cannot be read."""

    offset: int
    length: int
    data: bytes | None
    error: str = ""


def _header_plausible(mm: mmap.mmap, pos: int) -> bool:
    """A gzip header's fixed fields (RFC 1952): reserved flag bits clear, a known OS byte. Rules
    out most chance occurrences of the magic bytes inside compressed data."""
    if len(mm) < pos + 10 or mm[pos:pos + 3] != MAGIC:
        return False
    flags, os_byte = mm[pos + 3], mm[pos + 9]
    return flags & 0xE0 == 0 and (os_byte <= 13 or os_byte == 255)


def _next_header(mm: mmap.mmap, start: int) -> int:
    """Offset of the next plausible gzip header at or after start (len(mm) if none)."""
    pos = mm.find(MAGIC, start)
    while pos >= 0 and not _header_plausible(mm, pos):
        pos = mm.find(MAGIC, pos + 1)
    return len(mm) if pos < 0 else pos


def _decompress(mm: mmap.mmap, pos: int, max_bytes: int) -> tuple[bytes | None, int, str]:
    """(data, end offset, error) of the member starting at pos."""
    d = zlib.decompressobj(31)
    out: list[bytes] = []
    size, i = 0, pos
    while True:
        chunk = mm[i:i + CHUNK]
        if not chunk:
            return None, i, "the file ends inside this gzip member (truncated)"
        try:
            data = d.decompress(chunk, max_bytes + 1 - size)
        except zlib.error as e:
            return None, i, f"corrupt compressed data ({e})"
        size += len(data)
        if size > max_bytes:
            return None, i, f"the record decompresses to more than {max_bytes:,} bytes (input.max_record_mb)"
        out.append(data)
        if d.eof:
            return b"".join(out), i + len(chunk) - len(d.unused_data), ""
        i += len(chunk)  # below the size cap, the whole chunk was consumed


def gzip_members(mm: mmap.mmap, max_bytes: int) -> Iterator[Member]:
    """Every member of a multi-member gzip file in order, damaged spans included: a span that
    cannot be read runs from where reading failed to the next plausible gzip header."""
    pos, n = 0, len(mm)
    while pos < n:
        if not _header_plausible(mm, pos):
            end = _next_header(mm, pos + 1)
            yield Member(pos, end - pos, None, "bytes that start no gzip member")
            pos = end
            continue
        data, end, error = _decompress(mm, pos, max_bytes)
        if data is not None:
            yield Member(pos, end - pos, data)
            pos = end
            continue
        end = _next_header(mm, pos + 1)
        yield Member(pos, end - pos, None, error)
        pos = end
