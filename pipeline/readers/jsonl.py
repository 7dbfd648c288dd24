"""JSON lines, plain or gzip/zstd-compressed (told by magic bytes, not by the name).

A compressed JSONL is one stream that cannot be resynchronised: a cut or damaged stream keeps the
records before the damage and says, in one counted skip, from which line and how many bytes of
the file are lost. A line longer than the record size limit is read past in bounded pieces.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from dataclasses import dataclass
from typing import Any, Iterator

import zstandard

from pipeline.document import Document
from pipeline.errors import InputError
from pipeline.readers.base import ZSTD_MAGIC, Item, Reader, RecordFields, RecordSize, Skip, Source, record_to_doc
from pipeline.readers.zstd_frames import zstd_cut_at

_TRUNCATION_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError, zstandard.ZstdError)


class JsonlReader(Reader):
    name = "jsonl"
    suffixes = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson", ".json")
    description = "JSON lines, one object a line (.jsonl, .jsonl.gz, .jsonl.zst)"
    packages = ("zstandard",)
    reasons = {"invalid_json": "a line that is not JSON", "invalid_utf8": "a line that is not UTF-8",
               "missing_text": "an object without the text field", "invalid_text": "a text field that is "
               "not a string", "invalid_record": "a line that is not an object", "record_too_large":
               "a line over input.max_record_mb", "truncated_input": "a cut or damaged compressed stream"}

    @dataclass(frozen=True)
    class Config(RecordSize, RecordFields):
        pass

    def check(self, src: Source, probe: int = 20) -> None:
        """Refuse a file none of whose first records is a document: none has the text field (set
        as it is, every record would be a skip), or none is a JSON object at all (not JSONL)."""
        first: list[Item] = []
        for item in self.read(src):
            if isinstance(item, Document):
                return
            first.append(item)
            if len(first) >= probe:
                break
        reasons = {s.reason for s in first if isinstance(s, Skip)}
        if not first or reasons & {"truncated_input", "record_too_large"}:
            return  # empty, or damaged: counted by the read
        if reasons == {"missing_text"}:
            fields = first[0].detail.split("(has: ", 1)[1].split(")", 1)[0]  # type: ignore[union-attr]
            raise InputError(f"{src.paths[0]}: none of its first {len(first)} records has the field "
                             f"{self.config.text_field!r} (they have: {fields}); set input.text_field")
        if reasons <= {"invalid_json", "invalid_utf8", "invalid_record", "invalid_text"}:
            raise InputError(f"{src.paths[0]}: its first {len(first)} lines are no JSON objects (read as "
                             f"{self.name}: {', '.join(sorted(reasons))}); check the file, or set input.format "
                             "(auto tells each file's format from its name and first bytes)")

    def read(self, src: Source) -> Iterator[Item]:
        cfg = self.config
        path = src.paths[0]
        lineno = pos = 0  # pos: offset of the line in the (decompressed) stream, named in skips
        try:
            fh, raw_file, kind = _open_binary(path)
        except OSError as e:
            raise InputError(f"{path}: cannot open ({e})") from None
        limit = cfg.max_record_mb << 20
        with fh, raw_file:
            try:
                while raw := fh.readline(limit + 1):
                    lineno += 1
                    rid, start = f"{src.label}:{lineno}", pos
                    pos += len(raw)
                    if len(raw) > limit and not raw.endswith(b"\n"):
                        skipped = len(raw) + _skip_line(fh)  # the rest of the line, never held whole
                        pos = start + skipped
                        yield Skip(rid, "record_too_large", f"{path} line {lineno} (bytes {start:,}..{pos:,}): "
                                   f"{skipped:,} bytes, more than input.max_record_mb = {cfg.max_record_mb}; "
                                   "skipped without reading it whole")
                        continue
                    if not raw.strip():
                        continue
                    yield _line_item(raw, rid, f"{path} line {lineno} (bytes {start:,}..{pos:,})", cfg)
                if kind == "zstd":
                    cut = zstd_cut_at(path)  # the zstd reader ends quietly where a file is cut
                    if cut is not None:
                        raise _StreamCut(cut)
            except _TRUNCATION_ERRORS as e:
                yield Skip(f"{src.label}:{lineno + 1}", "truncated_input",
                           f"{path}: unreadable from line {lineno + 1} on ({type(e).__name__}: {e}); "
                           + _lost_bytes(e.at if isinstance(e, _StreamCut) else raw_file.tell(), path)
                           + "the records before it were read")


def _line_item(raw: bytes, rid: str, where: str, cfg: RecordFields) -> Item:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return Skip(rid, "invalid_utf8", f"{where}: bytes are not UTF-8 at offset {e.start}; "
                    "re-encode the file as UTF-8")
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        return Skip(rid, "invalid_json", f"{where}: {e.msg} at column {e.colno}")
    return record_to_doc(rec, cfg, rid)


def _open_binary(path: str) -> tuple[io.BufferedIOBase, io.BufferedIOBase, str]:
    """(decompressed stream, the file under it, "gzip" | "zstd" | "plain"): the file's position
    says how far into the compressed bytes reading got."""
    raw = open(path, "rb")
    magic = raw.read(4)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw, "gzip"  # type: ignore[return-value]
    if magic == ZSTD_MAGIC:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return io.BufferedReader(reader), raw, "zstd"  # type: ignore[arg-type]
    return raw, raw, "plain"


class _StreamCut(EOFError):
    """A compressed stream that ends inside a frame, found after its reader ended quietly."""

    def __init__(self, at: int):
        super().__init__(f"the file stops being whole zstd frames at compressed byte {at:,}")
        self.at = at


def _skip_line(fh: Any, chunk: int = 1 << 20) -> int:
    """Read past the rest of the current line in bounded pieces; returns the bytes skipped."""
    n = 0
    while piece := fh.readline(chunk):
        n += len(piece)
        if piece.endswith(b"\n"):
            break
    return n


def _lost_bytes(pos: int, path: str) -> str:
    """How much of a single-stream file is lost after a read error at compressed byte `pos`, in
    words: a compressed stream cannot be resynchronised, so everything after it is gone."""
    size = os.path.getsize(path)
    return (f"{size - pos:,} of its {size:,} bytes ({100 * (size - pos) / max(size, 1):.0f} %) after compressed byte "
            f"{pos:,} are unreadable, with an unknown number of records; ")

