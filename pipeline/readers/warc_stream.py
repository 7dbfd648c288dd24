"""WARC framing that survives damage and reads what real writers write.

A WARC file is a series of records, each a header block and a content block of Content-Length
bytes; a WARC.gz is usually one gzip member per record (the standard's recommendation), so that
a reader can start at any member. Two layers here:

* **gzip members** (`gzip_members`): each member decompressed and its CRC checked before
  its bytes are handed on; a member that fails is one damaged span.
* **records** (`_Framer`). The decompressed members (or the mapped plain file) form one logical
  stream, so a record split across members (as some writers do) reads whole. Records are framed
  by Content-Length and read leniently, as warcio and FastWARC do: WARC/0.17 to 1.1 version
  lines, LF-only lines, header continuation lines, `<uri>` in angle brackets, a Content-Length
  a few bytes off (the record ends at the next version line), a cut file (the record is read as
  far as it goes, and says so). What cannot be framed (no valid Content-Length, bytes between
  records) is a damaged span, and reading resumes at the next `WARC/x.y` line.

Every quirk is named in the record (`Record.quirks`), so the read stats count them.
"""
from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from typing import Iterator

from pipeline.readers.gzip_members import FILLER, Damage, Piece, gzip_pieces, is_gzip, release

MAX_HEADER = 1 << 20  # a WARC header block longer than this is damage, not a header
PEEK = 1 << 16  # of a record too large to hold, this much of its block is kept (its HTTP headers)
MAX_FILLER = 64  # blank or NUL bytes between records beyond this are damage (a zeroed record)
_VERSION = re.compile(rb"WARC/(\d+\.\d+)\r?\n")


@dataclass(frozen=True, slots=True)
class Record:
    """One WARC record. `headers` has lowercased names (the first of repeated ones). `block` is
    the content block, or where `cut` says why, its first bytes only: `too_large` (a record over
    the size limit: its first PEEK bytes, the rest skipped unread) or `truncated` (the file, or a
    damaged member, ends inside it); or `unchecked`: whole, but in a gzip member the file ends
    inside, so no CRC proves it (damage that runs to the end of the file reads like a cut).
    [start, end) is where it lies in the file: exact in a plain file, the gzip members that hold
    it in a WARC.gz."""

    start: int
    end: int
    version: str
    headers: dict[str, str]
    block: bytes
    declared: int  # Content-Length
    cut: str = ""
    quirks: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        return self.headers.get("warc-type", "").lower()


def warc_kind(head: bytes) -> str | None:
    """"warc", "wet" or "wat" for the first bytes of a WARC-family file (decompressed), from its
    warcinfo's file name or its first record of another type; None where they are no WARC."""
    if _VERSION.match(head.lstrip(FILLER)) is None:
        return None
    for rec in _Framer(iter([Piece(0, len(head), head, "checked")]), len(head)).records():
        if isinstance(rec, Damage):
            continue
        if rec.type == "warcinfo":
            name = rec.headers.get("warc-filename", "").lower()
            for kind in ("wet", "wat"):
                if f".{kind}" in name:
                    return kind
            continue
        if rec.type == "conversion":
            return "wet"
        if rec.type == "metadata" and b'"Envelope"' in rec.block[:4096]:  # WAT's JSON, per capture
            return "wat"
        return "warc"
    return "warc"


def warc_records(mm: mmap.mmap, max_bytes: int) -> Iterator[Record | Damage]:
    """Every record of a WARC or WARC.gz file (told apart by magic bytes, not by name) in order,
    damaged spans included."""
    if is_gzip(mm[:3]):
        yield from _Framer(gzip_pieces(mm, max_bytes), max_bytes).records()
    else:
        yield from _Framer(iter([Piece(0, len(mm), mm, "checked")]), max_bytes).records()


# ---------------------------------------------------------------------------------------------
# records
class _Framer:
    """Records from a stream of pieces. `buf[pos:]` is read but not yet framed; a record being
    framed starts at `pos`, and its offsets are kept relative to it, since reading a further
    piece moves what is left of the buffer to its start. `marks` maps buffer offsets back to the
    file: (buffer offset, file start, file end, state) per piece in the buffer."""

    def __init__(self, pieces: Iterator[Piece | Damage], max_bytes: int):
        self.pieces, self.max_bytes = pieces, max_bytes
        self.buf: bytes | mmap.mmap = b""
        self.pos = 0
        self.marks: list[tuple[int, int, int, str]] = []
        self.gap: Damage | None = None  # a damaged span that stopped the filling
        self.done = False
        self.released = 0  # a plain file's mapped pages are handed back behind pos

    # -- the buffer ------------------------------------------------------------------------
    def _fill(self, n: int) -> bool:
        """At least n bytes after pos, reading pieces up to a damaged span or the end."""
        while len(self.buf) - self.pos < n:
            if self.gap is not None or self.done:
                return False
            piece = next(self.pieces, None)
            if piece is None:
                self.done = True
                return False
            if isinstance(piece, Damage):
                self.gap = piece
                return False
            self._append(piece)
        return True

    def _append(self, piece: Piece) -> None:
        rest = self.buf[self.pos:]
        kept = []
        if rest:
            for k, (o, s, e, state) in enumerate(self.marks):
                following = self.marks[k + 1][0] if k + 1 < len(self.marks) else len(self.buf)
                if following > self.pos:
                    kept.append((max(o - self.pos, 0), s, e, state))
        self.marks = kept + [(len(rest), piece.start, piece.end, piece.state)]
        self.buf = rest + piece.data if rest else piece.data
        self.pos = 0

    def _at(self, rel: int) -> int:
        """The file offset of buffer byte pos + rel: exact in a plain file; in a WARC.gz, the
        start of the member that holds it (deflate has no byte-exact offsets)."""
        a = self.pos + rel
        if isinstance(self.buf, mmap.mmap):
            return a
        mark = self.marks[0]
        for m in self.marks:
            if m[0] <= a:
                mark = m
        return mark[1]

    def _until(self, rel: int) -> int:
        """The file offset where buffer bytes before pos + rel end (exact, or a member's end)."""
        a = self.pos + rel
        if isinstance(self.buf, mmap.mmap):
            return a
        mark = self.marks[0]
        for m in self.marks:
            if m[0] < max(a, 1):
                mark = m
        return mark[2]

    # -- framing ---------------------------------------------------------------------------
    def records(self) -> Iterator[Record | Damage]:
        while True:
            if isinstance(self.buf, mmap.mmap):
                self.released = release(self.buf, self.pos, self.released)
            blank = self._skip_filler()
            if blank is None:
                if self.gap is None:
                    return
                gap, self.gap = self.gap, None
                yield gap
                continue
            if _VERSION.match(self.buf, self.pos, self.pos + 16) is None:
                yield self._resync("bytes that start no WARC record", blank)
                continue
            if blank >= 0:
                yield Damage(blank, self._at(0), "a run of blank or NUL bytes where a record should be")
            yield self._record()

    def _skip_filler(self) -> int | None:
        """Past blank lines and NUL padding between records: None at a gap or the end; else the
        file offset where a run longer than MAX_FILLER began (a zeroed record is damage, not
        padding), or -1."""
        first, run = self._at(0) if self.pos < len(self.buf) else -1, 0
        while self._fill(1):
            if self.buf[self.pos] not in FILLER:
                self._fill(16)
                return first if run > MAX_FILLER else -1
            if run == 0:
                first = self._at(0)
            self.pos += 1
            run += 1
        return None

    def _resync(self, error: str, first: int = -1) -> Damage:
        """The bytes from pos (or from file offset `first`) up to the next version line, however
        many pieces they take, as one damaged span; pos moves to that line (or to the end, or
        to a damaged member)."""
        first = self._at(0) if first < 0 else first
        look = 1
        while True:
            found = find_version(self.buf, self.pos + look)
            if found >= 0:
                self.pos = found
                starts_piece = isinstance(self.buf, mmap.mmap) or any(m[0] == found for m in self.marks)
                return Damage(first, self._at(0) if starts_piece else self._until(0), error)
            end = self._until(len(self.buf) - self.pos)
            self.pos = max(self.pos, len(self.buf) - 15)  # a version line may straddle two pieces
            look = 0
            if not self._fill(16):
                self.pos = len(self.buf)
                return Damage(first, end, error)

    def _header_end(self) -> tuple[int, int]:
        """(end of the header block's last line, start of the content block) relative to pos,
        or (-1, -1) where no blank line ends the header within MAX_HEADER bytes."""
        while True:
            lim = min(len(self.buf), self.pos + MAX_HEADER)
            crlf = self.buf.find(b"\n\r\n", self.pos, lim)
            lf = self.buf.find(b"\n\n", self.pos, crlf if crlf >= 0 else lim)  # an LF-only blank line first?
            if crlf >= 0 and (lf < 0 or crlf < lf):
                return crlf + 1 - self.pos, crlf + 3 - self.pos
            if lf >= 0:
                return lf + 1 - self.pos, lf + 2 - self.pos
            have = len(self.buf) - self.pos
            if have >= MAX_HEADER or not self._fill(have + 1):
                return -1, -1

    def _record(self) -> Record | Damage:
        head_end, block = self._header_end()
        if head_end < 0:
            return self._resync("a WARC header block with no end (cut, or not a header)")
        version, headers, quirks = parse_headers(bytes(self.buf[self.pos:self.pos + head_end]))
        try:
            declared = int(headers.get("content-length", "").strip())
            if declared < 0:
                raise ValueError
        except ValueError:
            return self._resync(f"a WARC header without a valid Content-Length "
                                f"({headers.get('content-length', 'none')!r})")
        if declared > self.max_bytes:
            return self._too_large(block, version, headers, declared, quirks)
        end = block + declared
        buf, p = self.buf, self.pos
        if len(buf) - p >= end + 4 and buf[p + end:p + end + 4] == b"\r\n\r\n":  # the usual case
            nxt, stop, more = end + 4, end, ()
        else:
            self._fill(end + 80)  # the block, the separator, and enough to see the next version line
            have = len(self.buf) - self.pos
            if have >= end:
                nxt, stop, more = self._boundary(block, end)
            else:  # the stream ends inside the block: unless a record starts there, it is cut
                inside = find_version(self.buf, self.pos + block, line_start=True)
                if inside < 0:
                    return self._truncated(block, version, headers, declared, quirks)
                nxt, stop = inside - self.pos, _rstrip_end(self.buf, self.pos + block, inside) - self.pos
                more = ("content_length_too_long",)
        cut = ""
        if self._from_cut_member(nxt):
            cut = ("unchecked: the file ends inside the gzip member that holds it, so no CRC proves its "
                   "bytes (read as they decompress: a cut file, or damage that runs to its end)")
        rec = Record(self._at(0), self._until(nxt), version, headers,
                     bytes(self.buf[self.pos + block:self.pos + stop]), declared, cut, quirks + more)
        self.pos += nxt
        return rec

    def _from_cut_member(self, rel: int) -> bool:
        """Whether buffer bytes [pos, pos + rel) come in part from a member the file cuts."""
        a, b = self.pos, self.pos + rel
        for k, (o, _, _, state) in enumerate(self.marks):
            following = self.marks[k + 1][0] if k + 1 < len(self.marks) else len(self.buf)
            if state == "cut" and o < b and a < following:
                return True
        return False

    def _truncated(self, block: int, version: str, headers: dict[str, str], declared: int,
                   quirks: tuple[str, ...]) -> Record:
        """A record whose block the file's end (or a damaged member) cuts: what is there of it."""
        have = len(self.buf) - self.pos
        cut = (f"truncated: the {'damaged gzip member after it' if self.gap else 'end of the file'} cuts it: "
               f"{max(have - block, 0):,} of its {declared:,} declared bytes are there")
        rec = Record(self._at(0), self._until(have), version, headers, bytes(self.buf[self.pos + block:]),
                     declared, cut, quirks)
        self.pos = len(self.buf)
        return rec

    def _boundary(self, block: int, end: int) -> tuple[int, int, tuple[str, ...]]:
        """(where the next record starts, where this block ends, quirks), relative to pos: after
        the separator (and any padding) that follows Content-Length bytes; else at a version
        line inside the declared block (Content-Length too long)."""
        buf, p = self.buf, self.pos
        if buf[p + end:p + end + 4] == b"\r\n\r\n":
            return end + 4, end, ()
        i = p + end
        while i < len(buf) and i < p + end + 64 and buf[i] in FILLER:
            i += 1
        if (i >= len(buf) and (self.done or self.gap)) or _VERSION.match(buf, i, i + 16):
            return i - p, end, () if buf[p + end:i] in (b"\n\n", b"\r\n\r\n") else ("record_separator",)
        inside = find_version(buf, p + block, p + end, line_start=True)
        if inside >= 0:
            return inside - p, _rstrip_end(buf, p + block, inside) - p, ("content_length_too_long",)
        # Too short, or the bytes after it damaged: the block is what Content-Length says, and what
        # follows is left to resync, a counted damaged span. (Running the block on to the next
        # version line would swallow a damaged record after it without a count.)
        return i - p, end, ("record_separator",)

    def _too_large(self, block: int, version: str, headers: dict[str, str], declared: int,
                   quirks: tuple[str, ...]) -> Record:
        """A record over the size limit: the first PEEK bytes of its block kept (its HTTP
        headers say what it was), the rest read past without holding it."""
        start = self._at(0)
        self._fill(block + PEEK)
        peek = bytes(self.buf[self.pos + block:self.pos + block + PEEK])
        self.pos += block
        left = declared
        while left > len(self.buf) - self.pos:
            left -= len(self.buf) - self.pos
            self.pos = len(self.buf)
            if not self._fill(1):
                return Record(start, self._until(0), version, headers, peek, declared, "too_large",
                              quirks + ("truncated",))
        self.pos += left
        end = self._until(0)
        if self._fill(4) and self.buf[self.pos:self.pos + 4] == b"\r\n\r\n":
            self.pos += 4
        return Record(start, end, version, headers, peek, declared, "too_large", quirks)


def find_version(buf: bytes | mmap.mmap, start: int, stop: int = -1, line_start: bool = False) -> int:
    """Offset of the next `WARC/x.y` version line in buf[start:stop] (-1 if none); with
    `line_start`, only one that begins a line (a record boundary, not text inside a payload)."""
    stop = len(buf) if stop < 0 else stop
    pos = start
    while True:
        pos = buf.find(b"WARC/", pos, stop)
        if pos < 0:
            return -1
        if _VERSION.match(buf, pos, pos + 16) and (not line_start or pos == 0 or buf[pos - 1] == 10):
            return pos
        pos += 1


def _rstrip_end(buf: bytes | mmap.mmap, start: int, end: int) -> int:
    """`end` moved back over the separator (CR, LF) that ends a block."""
    while end > start and buf[end - 1] in b"\r\n":
        end -= 1
    return end


def parse_headers(head: bytes) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """(version, headers, quirks) of a WARC header block: lowercased names, the first of repeated
    ones, continuation lines joined, `<uri>` unwrapped (WARC 1.0's own examples write it so)."""
    quirks: list[str] = []
    if b"\r\n" not in head:
        quirks.append("lf_only_lines")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("utf-8", "replace")
    first, _, rest = text.partition("\n")
    headers: dict[str, str] = {}
    if "\n " in rest or "\n\t" in rest or rest[:1] in (" ", "\t"):
        rest = _unfold(rest)
    for name, value in _HEADER.findall(rest):
        headers.setdefault(name.strip().lower(), value.strip())
    uri = headers.get("warc-target-uri", "")
    if uri.startswith("<") and uri.endswith(">"):
        headers["warc-target-uri"] = uri[1:-1]
        quirks.append("angle_bracket_uri")
    return first.strip().removeprefix("WARC/"), headers, tuple(quirks)


_HEADER = re.compile(r"^([^:\r\n]+):([^\n]*)", re.M)  # name: value (both stripped after: 4x a lazy pattern's speed)


def _unfold(text: str) -> str:
    """Header continuation lines (starting with a space or tab) joined to the line above."""
    return re.sub(r"\r?\n[ \t]+", " ", text)
