"""gzip members of a WARC.gz, read so that damage never reads as data.

The file is memory-mapped and walked member by member. A member is whatever the inflater
accepts as one: any RFC 1952 header (FEXTRA, FNAME, FCOMMENT, any OS byte) that decompresses to
its end with a valid CRC. Plausibility is decided by decompressing, never by guessing from
header bytes: a reader that trusted only the OS bytes Python writes read nothing from a real
Common Crawl file. A member that fails becomes one damaged span with its byte offsets, and
reading resumes at the next member that decompresses. A member's bytes are handed on only once
its CRC has been checked; one that decompresses to more than the record size limit (a whole file
gzipped as one member, or a giant record) is streamed on in pieces, so memory stays bounded.
The record framing on top of these pieces is `warc_stream`'s.
"""
from __future__ import annotations

import mmap
import zlib
from dataclasses import dataclass
from typing import Iterator

from isal import isal_zlib

MAGIC = b"\x1f\x8b\x08"  # gzip id bytes and the deflate method
WINDOW = 1 << 15  # compressed bytes fed per call: a member's unused tail is copied at most this long
RELEASE = 8 << 20  # mapped file pages behind the reading position are handed back this often
FILLER = b" \t\r\n\x00"  # what may stand between records (or after the last member) without being damage
_INFLATE_ERRORS = (zlib.error, isal_zlib.error)


@dataclass(frozen=True, slots=True)
class Piece:
    """Decompressed bytes of file bytes [start, end), and how far they are proven: `checked` (a
    member, or a big member's last piece, whose CRC held), `streamed` (part of a member too
    large to hold until its CRC) or `cut` (the file ends inside the member: no CRC to check)."""

    start: int
    end: int
    data: bytes | mmap.mmap
    state: str


@dataclass(frozen=True, slots=True)
class Damage:
    """File bytes [start, end) that hold no readable record, and why."""

    start: int
    end: int
    error: str


def is_gzip(head: bytes) -> bool:
    return head[:3] == MAGIC


def gzip_pieces(mm: mmap.mmap, max_bytes: int) -> Iterator[Piece | Damage]:
    """The file's members in order as pieces, with damaged spans between them (adjacent ones
    merged, so one damage is one span)."""
    view, n, pos = memoryview(mm), len(mm), 0
    gap: Damage | None = None
    released = 0
    while pos < n:
        released = release(mm, pos, released)
        if mm[pos:pos + 3] != MAGIC:
            end = _next_magic(mm, pos + 1)
            if gap is None and not mm[pos:end].strip(FILLER):  # padding after the last member
                pos = end
                continue
            gap = _merge(gap, Damage(pos, end, "bytes that start no gzip member"))
            pos = end
            continue
        failed = None
        for piece in _inflate_member(view, pos, max_bytes):
            if isinstance(piece, Damage):
                failed = piece
                break
            if piece.state == "cut" and piece.start == pos:
                # No end before the file's: a cut, unless a whole member follows. Damage can make an
                # inflater run on through the members after it without an error; they are read.
                after = _next_member(mm, pos + 1, max_bytes)
                if after < n:
                    failed = Damage(pos, after, "a damaged gzip member (it runs on into the members "
                                                "after it without ending)")
                    break
            if gap is not None:
                yield gap
                gap = None
            yield piece
            pos = piece.end
        if failed is not None:
            end = failed.end if failed.end < n else _next_magic(mm, failed.start + 1)
            gap = _merge(gap, Damage(failed.start, end, failed.error))
            pos = gap.end
    if gap is not None:
        yield gap


def release(mm: mmap.mmap, pos: int, released: int) -> int:
    """Hand the mapped pages before `pos` back (reading never goes back to them), every RELEASE
    bytes: touched pages of a mapping count as the process's memory, which would otherwise
    grow with the file. Returns the offset released up to."""
    if pos - released < RELEASE:
        return released
    upto = pos - pos % mmap.PAGESIZE
    mm.madvise(mmap.MADV_DONTNEED, 0, upto)
    return upto


def _merge(gap: Damage | None, more: Damage) -> Damage:
    return more if gap is None else Damage(gap.start, more.end, gap.error)


def _next_magic(mm: mmap.mmap, start: int) -> int:
    pos = mm.find(MAGIC, start)
    return len(mm) if pos < 0 else pos


def _next_member(mm: mmap.mmap, start: int, max_bytes: int) -> int:
    """Offset of the first whole gzip member (header to checked trailer) at or after start, or
    the file's length if there is none."""
    view = memoryview(mm)
    pos = _next_magic(mm, start)
    while pos < len(view):
        last = None
        for piece in _inflate_member(view, pos, max_bytes):
            last = piece
            if not isinstance(piece, Piece) or piece.state == "cut":
                break
        if isinstance(last, Piece) and last.state == "checked":
            return pos
        pos = _next_magic(mm, pos + 1)
    return len(view)


def _inflate_member(view: memoryview, pos: int, max_bytes: int) -> Iterator[Piece | Damage]:
    """The member at `pos`: one `checked` piece; or, past `max_bytes` of output, `streamed` pieces
    as they come (the last `checked`); a `cut` piece where the file ends inside it; a Damage
    (from the member start, or from the first byte not yet handed on) where the inflater refuses
    it."""
    d = isal_zlib.decompressobj(31)
    out: list[bytes] = []
    held = 0
    start = i = pos  # start: the first compressed byte whose output has not been handed on
    n = len(view)
    while True:
        chunk = view[i:i + WINDOW]
        if not len(chunk):
            if held:
                yield Piece(start, n, b"".join(out), "cut")
            elif start == pos:
                yield Damage(pos, n, "the file ends inside this gzip member's header (cut)")
            return
        try:
            data = d.decompress(chunk)
        except _INFLATE_ERRORS as e:
            yield Damage(start, n, f"corrupt compressed data ({e})")
            return
        out.append(data)
        held += len(data)
        if d.eof:
            end = i + len(chunk) - len(d.unused_data)
            yield Piece(start, end, out[0] if len(out) == 1 else b"".join(out), "checked")
            return
        i += len(chunk)
        if held > max_bytes:  # too large to hold until its CRC: streamed on, unchecked
            yield Piece(start, i, b"".join(out), "streamed")
            out, held, start = [], 0, i
