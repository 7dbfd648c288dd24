"""The HTTP response inside a WARC response record: status, headers and the payload as sent.

Lenient where real writers differ: LF-only header lines, chunked bodies stored as received
(with or without trailers), gzip/deflate/brotli bodies stored compressed. A body whose framing
or encoding does not decode is not dropped: what decodes is used, and the quirk is named, as
warcio does (it falls back to the raw bytes).
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import brotli
from isal import isal_zlib

_HEADER = re.compile(r"^([^:\r\n]+):([^\n]*)", re.M)  # name: value (both stripped after: 4x a lazy pattern's speed)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: str
    headers: dict[str, str]  # lowercased names, the first of repeated ones
    body: bytes
    complete: bool  # the header block has its blank line (a cut record may not)
    quirks: tuple[str, ...]

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def parse_response(block: bytes) -> HttpResponse | None:
    """The HTTP response a record's block holds, or None where it holds none (a `dns:` record)."""
    if not block.startswith(b"HTTP/"):
        return None
    crlf = block.find(b"\n\r\n")
    lf = block.find(b"\n\n", 0, crlf if crlf >= 0 else len(block))  # an LF-only blank line before it?
    quirks: list[str] = []
    if crlf >= 0 and (lf < 0 or crlf < lf):
        head, body = block[:crlf], block[crlf + 3:]
    elif lf >= 0:
        head, body = block[:lf], block[lf + 2:]
    else:
        head, body = block, b""
    if b"\r\n" not in head and b"\n" in head:
        quirks.append("lf_only_http_headers")
    text = head.decode("latin-1")
    first, _, rest = text.partition("\n")
    parts = first.split(None, 2)
    headers: dict[str, str] = {}
    for name, value in _HEADER.findall(rest):
        headers.setdefault(name.strip().lower(), value.strip())
    return HttpResponse(parts[1] if len(parts) > 1 else "", headers, body, crlf >= 0 or lf >= 0, tuple(quirks))


def payload(resp: HttpResponse, max_bytes: int) -> tuple[bytes | None, tuple[str, ...]]:
    """(the body as the server meant it, de-chunked and decoded, the quirks met on the way);
    None for a body that is encoded as its header says but does not decode (damaged)."""
    body, quirks = resp.body, list(resp.quirks)
    if "chunked" in resp.headers.get("transfer-encoding", "").lower():
        plain = dechunk(body)
        if plain is None:
            quirks.append("bad_chunking")  # stored de-chunked under the header, or damaged: as it is
        else:
            body = plain
    coding = resp.headers.get("content-encoding", "").lower().strip()
    if coding and coding != "identity":
        decoded = decode_content(body, coding, max_bytes)
        if decoded is None:
            if not _looks_like_text(body):
                return None, tuple(quirks + ["content_encoding_damaged"])
            quirks.append("content_encoding_not_applied")  # stored decoded under the header
        else:
            body, cut = decoded
            if cut:
                quirks.append("content_encoding_cut")
    return body, tuple(quirks)


def _looks_like_text(body: bytes) -> bool:
    """Markup or UTF-8 text, not compressed bytes: what a body stored already decoded looks like."""
    head = body[:1024]
    if b"\x00" in head:
        return False
    if head.lstrip()[:1] == b"<":
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # a character cut at the end of the sample
    return True


def dechunk(body: bytes) -> bytes | None:
    """A chunked transfer-coded body joined (RFC 9112 7.1; extensions and trailers ignored), or
    None where it is not chunked as declared. A body cut inside a chunk keeps what is there."""
    out: list[bytes] = []
    i, n = 0, len(body)
    while i < n:
        j = body.find(b"\n", i)
        if j < 0:
            return None if not out else b"".join(out)
        try:
            size = int(body[i:j].split(b";")[0].strip(), 16)
        except ValueError:
            return None
        i = j + 1
        if size == 0:
            break
        out.append(body[i:i + size])
        i += size
        if body[i:i + 2] == b"\r\n":
            i += 2
        elif body[i:i + 1] == b"\n":
            i += 1
    return b"".join(out)


def decode_content(body: bytes, coding: str, max_bytes: int) -> tuple[bytes, bool] | None:
    """(decoded body, whether the encoded stream was cut short) for gzip, deflate or br; None
    where the body does not decode so. At most max_bytes come out."""
    try:
        if coding in ("gzip", "x-gzip"):
            if body[:2] != b"\x1f\x8b":
                return None
            d = isal_zlib.decompressobj(31)
            return d.decompress(body, max_bytes), not d.eof
        if coding == "deflate":  # zlib-wrapped as the RFC says, or raw deflate as some servers send
            for wbits in (15, -15):
                try:
                    z = zlib.decompressobj(wbits)
                    return z.decompress(body, max_bytes), not z.eof
                except zlib.error:
                    continue
            return None
        if coding == "br":
            b = brotli.Decompressor()
            out = b.process(body, output_buffer_limit=max_bytes)
            return out[:max_bytes], not b.is_finished()
    except (zlib.error, isal_zlib.error, brotli.error):
        return None
    return None
