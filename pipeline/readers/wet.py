"""Common Crawl WET: the plain text of each capture, in `conversion` records of a WARC file.

The format most text pipelines start from: its documents are text already, so a run on WET
skips the html stage (the runner refuses an html stage on WET input at start-up). Framing,
damage and quirks are the WARC reader's; only which records are documents differs. Detected by
content (a warcinfo naming a .wet file, or conversion records), whatever the file is called.
"""
from __future__ import annotations

from typing import Iterator

from pipeline.document import Document
from pipeline.readers.base import Count, Item, Skip, Source
from pipeline.readers.warc import WarcReader, cut_note, record_id
from pipeline.readers.warc_stream import Record


class WetReader(WarcReader):
    name = "wet"
    suffixes = (".wet", ".wet.gz", ".warc.wet", ".warc.wet.gz")
    description = "Common Crawl WET: plain text in conversion records (.warc.wet.gz); skips the html stage"
    reasons = {"damaged_record": WarcReader.reasons["damaged_record"],
               "record_too_large": "a text over input.max_record_mb, read past without holding it"}
    document_type = "conversion"
    text_only = True
    packages = ("isal",)

    def document(self, rec: Record, src: Source, n: int, path: str, max_bytes: int) -> Iterator[Item]:
        rid = record_id(rec, src, n)
        where = f"{path}: bytes {rec.start:,}..{rec.end:,} (record {rid})"
        if rec.cut == "too_large":
            yield Skip(rid, "record_too_large", f"{where}: {rec.declared:,} bytes, more than input.max_record_mb "
                       f"= {max_bytes >> 20}; read past without holding it")
            return
        try:
            text = rec.block.decode("utf-8")
        except UnicodeDecodeError:
            text = rec.block.decode("utf-8", "replace")
            yield Count("quirks.invalid_utf8_replaced")
        meta = {"source": f"{src.label}:{n}", "date": rec.headers.get("warc-date", ""), "warc_record_id": rid}
        for header, key in (("warc-identified-content-language", "language"), ("warc-refers-to", "refers_to")):
            if rec.headers.get(header):
                meta[key] = rec.headers[header].strip("<>").removeprefix("urn:uuid:")
        yield from cut_note(rec, rid, where, meta)
        yield Document(rid, text, rec.headers.get("warc-target-uri", ""), meta)
