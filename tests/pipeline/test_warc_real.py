"""Real crawl files written by others (`../shared/data/warc`: Nutch for Common Crawl, Wget 1.14-1.20,
Heritrix 3, WAIL, warcprox, Webrecorder, node-warc, ia-web-commons), read against two well-kept
readers: `counts.json` (what warcio 1.8.1 and FastWARC 2.0.1 count in each file) and warcio
itself, live, for the documents' URLs and texts.

* every file outside malformed/: documents = warcio's HTML responses (WET: conversions), nothing
  counted as damaged, every other record counted by type, exactly as warcio counts them;
* malformed/ (broken on purpose by their authors): no crash, and each file loses at most what the
  better of the two readers loses, every loss counted with a byte span. The expectation of each
  is written below from counts.json, with what the readers did.
"""
from __future__ import annotations

import gzip
import json
import re
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest

from pipeline.document import Document
from pipeline.encoding import decode_html, http_charset
from pipeline.errors import InputError
from pipeline.readers import Count, InputConfig, Skip, list_sources
from tests.pipeline.test_io import read_all


def _counts(shared: Path) -> dict[str, dict]:
    return {c["file"]: c for c in json.loads((shared / "warc" / "counts.json").read_text())}


def _read(path: Path) -> tuple[list[Document], list[Skip], Counter, list[Count]]:
    items = read_all(path, counts=True)
    counts = [x for x in items if isinstance(x, Count)]
    return ([x for x in items if isinstance(x, Document)], [x for x in items if isinstance(x, Skip)],
            Counter(x.key for x in counts), [c for c in counts if c.detail])


MAIN = ["commoncrawl__whirlwind-python/whirlwind.warc.gz", "commoncrawl__whirlwind-python/whirlwind.warc.wet.gz",
        "commoncrawl__whirlwind-python/whirlwind.warc.wet", "iipc__jwarc/cc.warc.gz",
        "iipc__jwarc/gzip_extra_sl.warc.gz",
        "commoncrawl__ia-web-commons/IAH-urls-wget.warc", "commoncrawl__ia-web-commons/IAH-urls-wget.warc.gz",
        "webrecorder__warcio/example-wget-bad-target-uri.warc.gz", "webrecorder__warcio/example.warc.gz",
        "webrecorder__warcio/example-iana.org-chunked.warc", "webrecorder__warcio/post-test.warc.gz",
        "oduwsdl__ipwb/sample-1.warc.gz", "oduwsdl__ipwb/mkelly1.warc", "N0taN3rd__node-warc/parseMe.warc.gz"]


def test_the_list_covers_every_main_file(shared_data):
    """A file added to ../shared/data/warc is not left out of these tests unseen."""
    main = {f for f, c in _counts(shared_data).items() if c["set"] == "main" and c["format"] != "wat"}
    assert main == set(MAIN)


@pytest.mark.parametrize("name", MAIN)
def test_every_real_file_reads_whole(shared_data, name):
    c = _counts(shared_data)[name]
    docs, skips, counts, losses = _read(shared_data / "warc" / name)
    expected = c["warcio_conversions"] if c["format"] == "wet" else c["warcio_html_responses"]
    assert len(docs) == expected == (c.get("fastwarc_conversions") or c.get("fastwarc_html_responses") or 0)
    assert not skips and not losses, [s.detail for s in skips]
    assert {k[len("records."):]: v for k, v in counts.items() if k.startswith("records.")} == c["warcio_record_types"]
    assert sum(v for k, v in counts.items() if k.startswith("records.")) == c["warcio_records"]
    assert {list_sources(InputConfig(path=str(shared_data / "warc" / name))).sources[0].format} == {c["format"]}


@pytest.mark.parametrize("name", MAIN)
def test_documents_are_warcios_html_responses_text_for_text(shared_data, name):
    """Live oracle: the same records in the same order, the same URLs, and the same text as
    warcio's decoded payload (de-chunked, Content-Encoding undone) decoded the same way."""
    from warcio.archiveiterator import ArchiveIterator

    path = shared_data / "warc" / name
    ref = []
    with open(path, "rb") as fh:
        for r in ArchiveIterator(fh):
            if r.rec_type == "conversion":
                ref.append((r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read().decode("utf-8")))
            elif r.rec_type == "response" and r.http_headers and "html" in (
                    r.http_headers.get_header("Content-Type") or "").lower():
                body = r.content_stream().read()
                ref.append((r.rec_headers.get_header("WARC-Target-URI").strip("<>"),
                            decode_html(body, http_charset(r.http_headers.get_header("Content-Type")))[0]))
    docs = _read(path)[0]
    assert [(d.url, d.text) for d in docs] == ref


def test_a_wat_file_is_a_clear_error_naming_it(shared_data):
    path = shared_data / "warc" / "commoncrawl__whirlwind-python" / "whirlwind.warc.wat.gz"
    with pytest.raises(InputError, match=r"whirlwind\.warc\.wat\.gz: a WAT file .*not a document format"):
        list_sources(InputConfig(path=str(path)))


# malformed/: what each file is, what warcio and FastWARC read (counts.json), and what we must read
MALFORMED = {
    # one gzip member holding all six records: warcio stops after the warcinfo, FastWARC reads all
    "malformed/webrecorder__warcio/example-bad.warc.gz.bad": dict(docs=2, damaged=0),
    "malformed/webrecorder__warcio/example-bad-non-chunked.warc.gz": dict(docs=1, damaged=0),
    # a record split across gzip members: warcio stops at the second member, FastWARC reads it
    "malformed/webrecorder__warcio/example-wrong-chunks.warc.gz": dict(docs=1, damaged=0),
    # a Content-Length two bytes short, NUL padding after it: both read it (FastWARC errors after)
    "malformed/webrecorder__warcio/example-trunc.warc": dict(docs=1, damaged=0),
    "malformed/webrecorder__warcio/example-space-in-target-uri.warc.gz": dict(docs=0, damaged=0),
    "malformed/webrecorder__warcio.js/example-bad-length.warc": dict(docs=1, damaged=0),
    # the gzip stream cut inside the one response: both read it as far as it goes
    "malformed/chatnoir-eu__chatnoir-resiliparse/clipped.warc.gz": dict(docs=1, damaged=0, cut=1),
    "malformed/netarchivesuite__solrwayback/transfer_compression_none_truncated.warc.gz":
        dict(docs=1, damaged=0, cut=1),
    # WARC/0.17, LF-only lines, a Content-Length past the end: a text/plain response, no document
    "malformed/netarchivesuite__solrwayback/Evil-Warc-Headers.warc": dict(docs=0, damaged=0),
    "malformed/apache__incubator-stormcrawler/unparsable-date.warc.gz": dict(docs=1, damaged=0),
    # a Content-Length of 7 on the last record: the 336 bytes after it start no record; both
    # readers error there (warcio: "Invalid WARC record", FastWARC: "Invalid WARC header")
    "malformed/oduwsdl__ipwb/broken.warc": dict(docs=1, damaged=1),
    # chunked body with trailers: warcio reads it, FastWARC fails ("Maximum header length")
    "malformed/oduwsdl__ipwb/baconIpsum_chunked_httpTrailors.warc": dict(docs=1, damaged=0),
}


def test_the_table_covers_every_malformed_file(shared_data):
    assert {f for f, c in _counts(shared_data).items() if c["set"] == "malformed"} == set(MALFORMED)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_loses_at_most_what_the_reference_readers_lose(shared_data, name):
    c, want = _counts(shared_data)[name], MALFORMED[name]
    docs, skips, counts, losses = _read(shared_data / "warc" / name)
    best = max(c["warcio_html_responses"], c["fastwarc_html_responses"])
    assert len(docs) >= best and len(docs) == want["docs"]
    assert len(skips) == want["damaged"]
    for s in skips:  # every loss with its byte span
        assert re.search(r"bytes [\d,]+\.\.[\d,]+ \([\d,]+ bytes\)", s.detail) and Path(name).name in s.detail
    assert len(losses) == want.get("cut", 0)
    for doc in docs:
        if want.get("cut"):
            assert "truncated" in doc.meta and any(x.id == doc.id and "bytes " in x.detail for x in losses)
    records = sum(v for k, v in counts.items() if k.startswith("records."))
    assert records >= min(c["warcio_records"], c["fastwarc_records"])


def _reheader(member: bytes, flags: int, os_byte: int) -> bytes:
    """The same gzip member with another RFC 1952 header: FEXTRA, FNAME, FCOMMENT and FHCRC as
    `flags` asks, and any OS byte. Only the header changes; the deflate data and trailer stay."""
    d = zlib.decompressobj(31)
    d.decompress(member)
    body_and_trailer = member[_header_len(member):]
    head = bytearray(b"\x1f\x8b\x08" + bytes([flags]) + member[4:8] + b"\x00" + bytes([os_byte]))
    if flags & 4:
        head += struct.pack("<H", 6) + b"SL\x02\x00ab"  # a subfield, as Wget writes one
    if flags & 8:
        head += b"record.warc\x00"
    if flags & 16:
        head += b"written elsewhere\x00"
    if flags & 2:
        head += struct.pack("<H", zlib.crc32(bytes(head)) & 0xFFFF)
    return bytes(head) + body_and_trailer


def _header_len(member: bytes) -> int:
    flags, pos = member[3], 10
    if flags & 4:
        pos += 2 + struct.unpack("<H", member[pos:pos + 2])[0]
    for bit in (8, 16):
        if flags & bit:
            pos = member.index(b"\x00", pos) + 1
    return pos + (2 if flags & 2 else 0)


@pytest.mark.parametrize("os_byte", [0, 3, 11, 19, 255, 77])
@pytest.mark.parametrize("flags", [0, 2, 4, 8, 16, 4 | 8 | 16 | 2])
def test_any_rfc1952_header_is_a_member(tmp_path, shared_data, flags, os_byte):
    """A real Common Crawl record (one gzip member) with every optional header field and OS byte
    a writer may put there (Common Crawl and Wget write 19, Python 255, Windows 11, any is valid):
    read, whatever the header; and nothing else changes."""
    member = (shared_data / "warc" / "iipc__jwarc" / "cc.warc.gz").read_bytes()
    p = tmp_path / "cc.warc.gz"
    p.write_bytes(_reheader(member, flags, os_byte) * 2)  # two members, to cross a boundary
    assert gzip.decompress(p.read_bytes()) == gzip.decompress(member) * 2  # a valid file, says Python
    docs, skips, _, _ = _read(p)
    assert len(docs) == 2 and not skips and docs[0].text == docs[1].text and len(docs[0].text) > 1000


@pytest.mark.parametrize("name", ["crawl.warc", "crawl", "crawl.warc.gz.bad"])
def test_a_gzipped_warc_is_told_by_its_bytes_not_its_name(tmp_path, shared_data, name):
    p = tmp_path / name
    p.write_bytes((shared_data / "warc" / "oduwsdl__ipwb" / "sample-1.warc.gz").read_bytes())
    docs, skips, _, _ = _read(p)
    assert len(docs) == 64 and not skips


def test_a_wet_run_accounts_for_every_conversion_record(tmp_path, shared_data):
    """`corpusprep run` on a Common Crawl WET file, safety -> quality -> dedup: documents come from
    its conversion records (plain text, no html stage), and every one is kept or dropped with a
    reason. An html stage on WET input is refused at start-up, naming the fix."""
    from tests.conftest import run_cli, write_config

    wet = shared_data / "warc" / "commoncrawl__whirlwind-python" / "whirlwind.warc.wet.gz"
    stages = '[[stages]]\nname = "safety"\n[[stages]]\nname = "quality"\n[[stages]]\nname = "dedup"\n'
    cfg = write_config(tmp_path / "wet.toml", wet, tmp_path / "out", stages=stages, input_extra="")
    run_cli("run", str(cfg), "--no-progress")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    read = report["stages"][0]
    assert report["input"]["sources"] == ["whirlwind.warc.wet.gz"]
    assert read["docs_in"] == read["docs_out"] == 1 and read["counters"] == {"records.conversion": 1,
                                                                              "records.warcinfo": 1}
    assert report["docs_in"] == 1 and report["docs_kept"] + report["docs_dropped"] == 1
    for prev, cur in zip(report["stages"], report["stages"][1:]):
        assert cur["docs_in"] == prev["docs_out"] and cur["docs_in"] == cur["docs_out"] + cur["docs_dropped"]
    html = write_config(tmp_path / "html.toml", wet, tmp_path / "out2", input_extra="")
    res = run_cli("run", str(html), "--no-progress", check=False)
    assert res.returncode == 2 and "plain text already" in res.stderr and "remove the html stage" in res.stderr
    assert "Traceback" not in res.stderr


def _rewritten(path: Path, version: bytes, eol: bytes) -> bytes:
    """A real plain WARC written again as another writer would: every version line `version`,
    every WARC and HTTP header line ended by `eol`, Content-Length recomputed; payloads as they were."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        head_end = data.index(b"\r\n\r\n", pos)
        lines = data[pos:head_end].split(b"\r\n")
        length = int(next(v for k, _, v in (l.partition(b":") for l in lines) if k.lower() == b"content-length"))
        block = data[head_end + 4:head_end + 4 + length]
        if block.startswith(b"HTTP/"):
            http_end = block.index(b"\r\n\r\n")
            block = eol.join(block[:http_end].split(b"\r\n")) + eol + eol + block[http_end + 4:]
        lines = [version] + [l if not l.lower().startswith(b"content-length") else b"Content-Length: %d" % len(block)
                             for l in lines[1:]]
        out.append(eol.join(lines) + eol + eol + block + eol + eol)
        pos = head_end + 4 + length + 4
    return b"".join(out)


@pytest.mark.parametrize("version,eol", [(b"WARC/1.1", b"\r\n"), (b"WARC/1.0", b"\n"), (b"WARC/0.17", b"\n")])
def test_other_versions_and_lf_only_lines_read_the_same_documents(tmp_path, shared_data, version, eol):
    """Wget's real IAH crawl (36 records, 11 HTML responses) rewritten as WARC/1.1, and with
    LF-only lines in its WARC and HTTP headers (a held-out writer's file had 60 of 60 records
    "damaged" that way): the same documents, URL for URL and text for text, nothing damaged."""
    src = shared_data / "warc" / "commoncrawl__ia-web-commons" / "IAH-urls-wget.warc"
    p = tmp_path / "rewritten.warc"
    p.write_bytes(_rewritten(src, version, eol))
    want = [(d.url, d.text) for d in _read(src)[0]]
    docs, skips, counts, _ = _read(p)
    assert [(d.url, d.text) for d in docs] == want and len(want) == 11 and not skips
    assert sum(v for k, v in counts.items() if k.startswith("records.")) == 36
    assert (counts["quirks.lf_only_lines"] == 36) == (eol == b"\n")


@pytest.mark.parametrize("gz", [True, False])
def test_reading_memory_does_not_grow_with_the_file(tmp_path, shared_data, gz):
    """Peak RSS of reading a file of real records 4x larger stays within a few MB: mapped pages
    behind the reading position are handed back (they counted as the process's memory, and the
    peak grew from 93 to 166 MB between 25 and 100 MB of WARC.gz before)."""
    import gzip as gz_module
    import subprocess
    import sys

    member = (shared_data / "warc" / "oduwsdl__ipwb" / "sample-1.warc.gz").read_bytes()
    data = member if gz else gz_module.decompress(member)
    code = ("import re, sys\nfrom pipeline.readers import InputConfig, list_sources, read_source\n"
            "cfg = InputConfig(path=sys.argv[1])\n"
            "n = sum(1 for s in list_sources(cfg).sources for _ in read_source(s, cfg))\n"
            "print(n, re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])")
    peaks = {}
    for copies in (8, 32):
        p = tmp_path / f"x{copies}.warc{'.gz' if gz else ''}"
        p.write_bytes(data * copies)
        out = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, check=True).stdout
        n, peak = map(int, out.split())
        assert n > copies * 64
        peaks[copies] = peak / 1024
    print(f"\npeak RSS reading {len(data) * 8 / 1e6:.0f} and {len(data) * 32 / 1e6:.0f} MB: "
          f"{peaks[8]:.1f} and {peaks[32]:.1f} MB")
    assert peaks[32] < peaks[8] + 6, peaks
