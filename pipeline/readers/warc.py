"""WARC and WARC.gz from any writer: HTML responses become documents, every other record is
counted by type, damage is a counted skip with its byte span.

Framing, damage and the writers' quirks are `warc_stream`'s; this module decides what each
record is. A response whose HTTP Content-Type names HTML (text/html, application/xhtml+xml) is a
document, whatever its status: that is what warcio and FastWARC count as an HTML response, and
a redirect page is left to the html and quality stages to judge. Requests, metadata, revisits,
warcinfo, resources and other responses are counted in the read stats under `records.<type>`
(and `responses.not_html` / `responses.not_http`), not as drops: they are not documents, and
nothing about them is lost. A record the file cuts short is read as far as it goes, flagged in
its meta and listed with the run's losses, as the reference readers read it.

Digests: a WARC.gz member's CRC already proves its bytes, so only a plain WARC's block digests
are checked; a mismatch is a counted quirk and a mark in the document's meta (`block_digest =
mismatch`), never a reason to drop a readable record (writers get digests wrong too).
"""
from __future__ import annotations

import base64
import hashlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline.document import Document
from pipeline.encoding import decode_html, http_charset
from pipeline.errors import InputError
from pipeline.readers.base import Count, Head, Item, Reader, RecordSize, Skip, Source, read_head
from pipeline.readers.gzip_members import Damage, is_gzip
from pipeline.readers.http_payload import parse_response, payload
from pipeline.readers.warc_stream import Record, find_version, warc_kind, warc_records

WARC_TYPES = {"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation"}


class WarcReader(Reader):
    name = "warc"
    suffixes = (".warc", ".warc.gz", ".arc.warc.gz")
    description = "WARC files, gzipped or not, any writer (.warc, .warc.gz; gzip told by magic bytes)"
    packages = ("isal", "brotli", "beautifulsoup4")
    reasons = {"damaged_record": "bytes that hold no readable record (a damaged gzip member, a header "
               "without Content-Length, bytes between records): their byte span is named",
               "record_too_large": "a document over input.max_record_mb, read past without holding it",
               "undecodable_payload": "a body that is gzip/deflate/br encoded but does not decode"}
    document_type = "response"  # the WARC-Type whose records may be documents

    @dataclass(frozen=True)
    class Config(RecordSize):
        pass

    @classmethod
    def claims(cls, path: Path, head: Head) -> bool:
        named = path.name.lower().endswith(cls.suffixes)
        if not named and not (is_gzip(head.raw) or head.raw.startswith(b"WARC/")):
            return False
        kind = warc_kind(head.data)
        if kind == "wat":
            raise InputError(f"{path}: a WAT file (Common Crawl's metadata records, JSON about each capture), not "
                             "a document format; read the WARC file (HTML) or the WET file (text) of the same crawl")
        return kind == cls.name or (kind is None and named)

    def check(self, src: Source) -> None:
        """Refuse a file whose first bytes hold no WARC version line at all (a text file named
        .warc.gz): it is not a WARC. A damaged one still has version lines, and reads as damage."""
        path = Path(src.paths[0])
        head = read_head(path)
        if head.strip() and warc_kind(head) is None and find_version(head, 0) < 0:
            shown = head[:40].decode("utf-8", "replace").replace("\n", " ")
            raise InputError(f"{path}: named a {self.name.upper()} file, but its first {len(head):,} bytes hold no "
                             f"WARC record (they start {shown!r}); check the file, or set input.format")

    def read(self, src: Source) -> Iterator[Item]:
        path = src.paths[0]
        if os.path.getsize(path) == 0:
            return
        max_bytes = self.config.max_record_mb << 20
        n = 0
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            check_digests = not is_gzip(mm[:3])
            for rec in warc_records(mm, max_bytes):
                if isinstance(rec, Damage):
                    yield Skip(f"{src.label}@{rec.start}", "damaged_record",
                               f"{path}: bytes {rec.start:,}..{rec.end:,} ({rec.end - rec.start:,} bytes) cannot be "
                               f"read: {rec.error}; what they held is lost and reading resumed after them")
                    continue
                if rec.type not in WARC_TYPES:  # a damaged header: not silently passed over
                    yield Skip(f"{src.label}@{rec.start}", "damaged_record",
                               f"{path}: bytes {rec.start:,}..{rec.end:,} hold a record of unknown WARC-Type "
                               f"{rec.headers.get('warc-type', '')!r} (damaged headers?); it is skipped")
                    continue
                yield Count(f"records.{rec.type}")
                for q in rec.quirks + ((rec.cut.partition(":")[0] + "_record",) if ":" in rec.cut else ()):
                    yield Count(f"quirks.{q}")
                digest_ok = not check_digests or rec.cut.startswith(("truncated", "too_large")) or _digest_ok(rec)
                if not digest_ok:
                    yield Count("quirks.block_digest_mismatch")
                if rec.type == self.document_type:
                    n += 1
                    for item in self.document(rec, src, n, path, max_bytes):
                        if not digest_ok and isinstance(item, Document):
                            item.meta["block_digest"] = "mismatch"  # read as it is; a filter can drop it
                        yield item

    def document(self, rec: Record, src: Source, n: int, path: str, max_bytes: int) -> Iterator[Item]:
        """The document a response record holds, or what it is instead."""
        rid = record_id(rec, src, n)
        where = f"{path}: bytes {rec.start:,}..{rec.end:,} (record {rid})"
        http = parse_response(rec.block)
        if rec.cut.startswith("truncated") and (http is None or not http.complete):  # what it was is lost too
            yield Skip(rid, "damaged_record", f"{where}: {rec.cut.removeprefix('truncated: ')}, before the end of "
                       "its HTTP headers, so what it held is lost; the records before it were read")
            return
        if http is None:
            yield Count("responses.not_http")  # e.g. Heritrix's dns: records
            return
        if "html" not in http.content_type.lower():
            yield Count("responses.not_html")
            return
        if rec.cut == "too_large":
            yield Skip(rid, "record_too_large", f"{where}: {rec.declared:,} bytes, more than input.max_record_mb "
                       f"= {max_bytes >> 20}; read past without holding it")
            return
        body, quirks = payload(http, max_bytes)
        yield from (Count(f"quirks.{q}") for q in quirks)
        if body is None:
            yield Skip(rid, "undecodable_payload", f"{where}: the body is not valid "
                       f"{http.headers.get('content-encoding')} data (Content-Encoding), so it cannot be read")
            return
        text, enc = decode_html(body, http_charset(http.content_type))
        meta = {"source": f"{src.label}:{n}", "encoding": enc, "date": rec.headers.get("warc-date", ""),
                "warc_record_id": rid}
        yield from cut_note(rec, rid, where, meta)
        yield Document(rid, text, rec.headers.get("warc-target-uri", ""), meta)


def record_id(rec: Record, src: Source, n: int) -> str:
    """The WARC-Record-ID without `<urn:uuid:` and `>`, or `<file>:<n>` where it has none."""
    rid = rec.headers.get("warc-record-id", "").strip("<>").removeprefix("urn:uuid:")
    return rid or f"{src.label}:{n}"


def cut_note(rec: Record, rid: str, where: str, meta: dict[str, str]) -> Iterator[Count]:
    """For a record the file cuts short (or whose gzip member it cuts): its meta says so, and the
    loss is listed with the run's losses."""
    kind, _, why = rec.cut.partition(": ")
    if kind in ("truncated", "unchecked"):
        meta[kind] = why
        yield Count(f"lost.{kind}_document", rid, f"{where}: {why}; the document holds what there is of it")


def _digest_ok(rec: Record) -> bool:
    """Whether the block matches WARC-Block-Digest (base32 or hex; sha1, sha256 or md5). A record
    without one, or with an algorithm not known here, passes: there is nothing to check against."""
    value = rec.headers.get("warc-block-digest", "")
    algo, _, digest = value.partition(":")
    algo = algo.strip().lower().replace("-", "")
    if algo not in ("sha1", "sha256", "md5") or not digest:
        return True
    raw = hashlib.new(algo, rec.block).digest()
    digest = digest.strip()
    return digest.upper() in (base64.b32encode(raw).decode(), raw.hex().upper())
