"""WARC(.gz) reading that survives damage: one bad record costs that record, not the file.

A WARC.gz is a series of independent gzip members, one record each (the WARC standard's
recommendation, which crawlers follow), precisely so that a reader can start at any member. warcio
reads the file as one stream and stops at the first corrupt member, losing everything after it.
Here the file is memory-mapped and walked member by member with zlib: a member that does not
decompress (flipped bytes, zeroed blocks, inserted garbage, a cut end) becomes one damaged span
with its byte offsets, and reading resumes at the next gzip header. Each good member is parsed
by warcio. A member that decompresses to more than a set size is skipped, so one giant record
cannot exhaust memory. An uncompressed WARC is walked the same way by each record's
Content-Length, resynchronising at the next `WARC/1.x` version line.
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


def _next_warc_header(mm: mmap.mmap, start: int) -> int:
    """Offset of the next WARC version line (`WARC/1.0` or `WARC/1.1` and CRLF) at or after
    start; not required to follow a newline, since garbage may run right up to it."""
    pos = start
    while True:
        pos = mm.find(b"WARC/1.", pos)
        if pos < 0:
            return len(mm)
        if mm[pos + 7:pos + 10] in (b"0\r\n", b"1\r\n"):
            return pos
        pos += 1


def warc_records(mm: mmap.mmap, max_bytes: int) -> Iterator[Member]:
    """The records of an uncompressed WARC file by their Content-Length, damaged spans included:
    where a record's headers cannot be parsed or its declared length does not end on the record's
    closing blank line (or runs past the file's end), the span up to the next `WARC/1.x` header
    line is damaged."""
    pos, n = 0, len(mm)
    while pos < n:
        if mm[pos:pos + 7] != b"WARC/1.":
            end = _next_warc_header(mm, pos + 1)
            if mm[pos:end].strip():
                yield Member(pos, end - pos, None, "bytes that start no WARC record")
            pos = end
            continue
        head_end = mm.find(b"\r\n\r\n", pos, pos + (1 << 20))
        length = -1
        if head_end > 0:
            for line in mm[pos:head_end].split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    try:
                        length = int(line.split(b":", 1)[1])
                    except ValueError:
                        pass
        end = head_end + 4 + length + 4 if length >= 0 else -1  # block, then \r\n\r\n
        if end < 0 or end > n or mm[end - 4:end] != b"\r\n\r\n":
            nxt = _next_warc_header(mm, pos + 1)
            yield Member(pos, nxt - pos, None, "unparsable headers, or a Content-Length that does not end "
                                               "where the record does (damaged or cut)")
            pos = nxt
            continue
        if end - pos > max_bytes:
            yield Member(pos, end - pos, None, f"the record is larger than {max_bytes:,} bytes (input.max_record_mb)")
        else:
            yield Member(pos, end - pos, mm[pos:end])
        pos = end
