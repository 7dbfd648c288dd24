"""Seeded fault injection into every input format the readers support.

Real texts and pages written by others (`../shared/data/extraction`) are written as WARC, WARC.gz,
JSONL, JSONL.gz, JSONL.zst, Parquet and a folder of HTML files, then damaged at random offsets:
byte flips, a cut, a zeroed block, inserted garbage. Each case asserts that reading does not
crash and that nothing is lost without a count:

* framed formats (WARC, WARC.gz, JSONL, Parquet, HTML files): every record that the damage did
  not touch comes through byte-identical, and every record written is read unchanged, read
  changed (only where the format has no checksum: JSONL, HTML, a plain WARC, whose documents
  are marked when the block digest fails; or a record a cut file ends inside, read as far as it
  goes and marked truncated) or lies inside what a counted skip names (its byte span, its row,
  its file) — records read + records counted as lost = records written;
* single compressed streams (JSONL.gz, JSONL.zst), which cannot be resynchronised: the records
  read unchanged are a prefix of the file, and if any record after them is missing or changed,
  a `truncated_input` skip says from which line and how many bytes are lost.
"""
from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.document import Document
from pipeline.readers import READERS, InputConfig, Skip, list_sources
from tests.pipeline.test_io import _real_pages_warc, read_all

FORMATS = ["warc", "warc.gz", "jsonl", "jsonl.gz", "jsonl.zst", "parquet", "html"]
DAMAGES = ["flip", "cut", "zero", "garbage"]
SEEDS = range(25)
TALLY: Counter = Counter()  # figures over the whole suite, printed by the last test


@dataclass
class Written:
    """A file (or folder) as written: each record's id, text and byte span in the file."""

    path: Path
    ids: list[str]
    texts: list[str]
    spans: list[tuple[int, int]] = field(default_factory=list)  # framed byte formats
    files: list[Path] = field(default_factory=list)  # html: one file a record


def _texts(shared: Path, n: int) -> list[str]:
    rows = (shared / "extraction" / "l3s-gn1" / "ground_truth.jsonl").read_text().splitlines()
    return [json.loads(r)["text"] for r in rows[:n]]


def _write(fmt: str, shared: Path, folder: Path) -> Written:
    if fmt.startswith("warc"):
        path = folder / f"crawl.{fmt}"
        spans = _real_pages_warc(shared, path, n=16, gz=fmt.endswith(".gz"))
        ids = [f"r-{i}" for i in range(len(spans))]
        texts = {d.id: d.text for d in read_all(path) if isinstance(d, Document)}
        return Written(path, ids, [texts[i] for i in ids], spans)
    texts = _texts(shared, 40)
    ids = [f"d{i}" for i in range(len(texts))]
    if fmt == "parquet":
        path = folder / "a.parquet"
        pq.write_table(pa.table({"id": ids, "text": texts}), path, row_group_size=5, compression="zstd",
                       use_dictionary=False, write_page_checksum=True)
        md = pq.ParquetFile(path).metadata
        spans = []
        for g in range(md.num_row_groups):
            cols = [md.row_group(g).column(c) for c in range(md.num_columns)]
            start = min(c.data_page_offset for c in cols)
            spans += [(start, max(c.data_page_offset + c.total_compressed_size for c in cols))] * 5
        return Written(path, ids, texts, spans)
    if fmt == "html":
        pages = sorted((shared / "extraction" / "dragnet" / "html").iterdir())[:16]
        (folder / "site").mkdir()
        files = []
        for i, page in enumerate(pages):
            files.append(folder / "site" / f"p{i:02d}.html")
            files[-1].write_bytes(gzip.decompress(page.read_bytes()))
        docs = [d for d in read_all(folder / "site") if isinstance(d, Document)]
        return Written(folder / "site", [d.id for d in docs], [d.text for d in docs], files=files)
    lines = [json.dumps({"id": i, "text": t}).encode() + b"\n" for i, t in zip(ids, texts)]
    spans, pos = [], 0
    for line in lines:
        spans.append((pos, pos + len(line)))
        pos += len(line)
    data = b"".join(lines)
    if fmt == "jsonl.gz":
        data = gzip.compress(data, mtime=0)
    elif fmt == "jsonl.zst":
        import zstandard

        data = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(data)
    path = folder / f"a.{fmt}"
    path.write_bytes(data)
    return Written(path, ids, texts, spans)


def _damage(data: bytes, kind: str, rng: random.Random) -> tuple[bytes, list[tuple[int, int]], int, int]:
    """(damaged bytes, touched ranges in the original's offsets, insertion offset, inserted length)."""
    b = bytearray(data)
    if kind == "flip":
        offs = rng.sample(range(len(b)), rng.randint(1, 8))
        for o in offs:
            b[o] ^= rng.randrange(1, 256)
        return bytes(b), [(o, o + 1) for o in offs], -1, 0
    if kind == "cut":
        o = rng.randrange(1, len(b))
        return bytes(b[:o]), [(o, len(b))], -1, 0
    if kind == "zero":
        o, n = rng.randrange(len(b)), rng.randint(16, 2048)
        b[o:o + n] = bytes(len(b[o:o + n]))
        return bytes(b), [(o, o + n)], -1, 0
    o, n = rng.randrange(len(b) + 1), rng.randint(1, 500)
    b[o:o] = bytes(rng.randrange(256) for _ in range(n))
    return bytes(b), [(o, o + 1)], o, n


def _declared(path: Path) -> dict[str, str]:
    """The skip reasons the reader of `path` declares: a reason it gives must be one of them."""
    return READERS[list_sources(InputConfig(path=str(path))).sources[0].format].reasons


def _skip_span(s: Skip) -> tuple[int, int] | None:
    m = re.search(r"bytes ([\d,]+)\.\.([\d,]+)", s.detail)
    return (int(m[1].replace(",", "")), int(m[2].replace(",", ""))) if m else None


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _check_framed(fmt: str, w: Written, docs: list[Document], skips: list[Skip], touched: list, ins: tuple,
                  cut: int) -> None:
    n = len(w.ids)
    if fmt == "html":  # a file a record: the damaged file is record `touched`
        t = set(touched)
        present = set(range(n))
    else:
        lead = 1 if fmt == "jsonl" else 0  # a line's framing starts at the previous line's newline
        t = {i for i, (a, b) in enumerate(w.spans) if any(_overlaps((a - lead, b), r) for r in touched)}
        if fmt == "parquet" and any(_overlaps(r, (0, 4)) or r[1] > max(b for _, b in w.spans) for r in touched):
            t = set(range(n))  # the magic bytes and the footer frame every row
        if fmt == "parquet" and ins[0] >= 0:  # the footer's absolute offsets miss what moved
            t |= {i for i, (_, b) in enumerate(w.spans) if b > ins[0]}
        present = {i for i, (a, _) in enumerate(w.spans) if a < cut}
    got = Counter((d.id, d.text) for d in docs)
    same = {i for i in present if got[(w.ids[i], w.texts[i])] > 0}
    assert set(present) - t <= same, f"untouched records lost or changed: {sorted(set(present) - t - same)}"

    def shifted(span: tuple[int, int]) -> tuple[int, int]:  # original offsets -> damaged file's
        at, k = ins
        return (span[0] + (k if at >= 0 and span[0] >= at else 0), span[1] + (k if at >= 0 and span[1] > at else 0))

    def named(i: int) -> bool:
        if any(s.reason == "damaged_file" for s in skips):
            return True
        if fmt == "html":
            return any(s.id == w.ids[i] for s in skips)
        if fmt == "parquet":
            return any(s.id.endswith(f":{i + 1}") for s in skips)
        spans = [sp for s in skips if (sp := _skip_span(s))]
        return any(_overlaps(shifted(w.spans[i]), sp) for sp in spans) or any(s.id == w.ids[i] for s in skips)

    read_ids = {d.id for d in docs}
    # a record read changed whose tail is a counted damaged span (a plain WARC block with bytes
    # inserted) counts once, as read
    lost = {i for i in present - same if named(i) and w.ids[i] not in read_ids}
    changed = len(docs) - sum(min(got[(w.ids[i], w.texts[i])], 1) for i in same)
    # records read + records counted as lost = records written (changed ones were read)
    assert len(same) + changed + len(lost) == len(present), (len(same), changed, len(lost), len(present))
    if fmt in ("warc.gz", "parquet"):  # CRCs: damage never reads as unmarked data; only a record in a
        known = set(zip(w.ids, w.texts))  # member the file's end cuts is read changed, and says so
        assert all("truncated" in d.meta or "unchecked" in d.meta for d in docs if (d.id, d.text) not in known)
    TALLY.update(cases=1, written=len(present), touched=len(t & present), lost=len(lost), changed=changed,
                 read=len(same))


def _check_stream(w: Written, docs: list[Document], skips: list[Skip]) -> None:
    k = 0
    while k < len(docs) and k < len(w.ids) and (docs[k].id, docs[k].text) == (w.ids[k], w.texts[k]):
        k += 1
    if k < len(w.ids):  # something after the clean prefix is missing or changed: it must be said
        cut = [s for s in skips if s.reason == "truncated_input"]
        assert cut, [s.detail for s in skips]
        assert re.search(r"unreadable from line \d+ on", cut[0].detail) and "bytes" in cut[0].detail
    TALLY.update(cases=1, stream_prefix_read=k, stream_written=len(w.ids))


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_damage_is_counted_never_silent(tmp_path, shared_data, fmt):
    w = _write(fmt, shared_data, tmp_path)
    declared = _declared(w.path)
    for damage in DAMAGES:
        for seed in SEEDS:
            rng = random.Random(f"{fmt}-{damage}-{seed}")
            if fmt == "html":
                victim = rng.randrange(len(w.files))
                original = w.files[victim].read_bytes()
                bad, _, _, _ = _damage(original, damage, rng)
                w.files[victim].write_bytes(bad)
                items = read_all(w.path)
                w.files[victim].write_bytes(original)
                touched, ins, cut = [victim], (-1, 0), 1 << 62
            else:
                original = w.path.read_bytes()
                bad, touched, at, k = _damage(original, damage, rng)
                w.path.write_bytes(bad)
                items = read_all(w.path)
                w.path.write_bytes(original)
                ins, cut = (at, k), (touched[0][0] if damage == "cut" else 1 << 62)
            docs = [x for x in items if isinstance(x, Document)]
            skips = [x for x in items if isinstance(x, Skip)]
            assert len(docs) + len(skips) == len(items)
            assert all(s.reason in declared and s.detail for s in skips)
            if fmt in ("jsonl.gz", "jsonl.zst"):
                _check_stream(w, docs, skips)
            else:
                _check_framed(fmt, w, docs, skips, touched, ins, cut)


REAL_WARCS = ["commoncrawl__ia-web-commons/IAH-urls-wget.warc", "commoncrawl__ia-web-commons/IAH-urls-wget.warc.gz",
              "oduwsdl__ipwb/sample-1.warc.gz", "oduwsdl__ipwb/mkelly1.warc", "N0taN3rd__node-warc/parseMe.warc.gz",
              "webrecorder__warcio/example-iana.org-chunked.warc", "webrecorder__warcio/example.warc.gz",
              "webrecorder__warcio/example-wget-bad-target-uri.warc.gz",
              "commoncrawl__whirlwind-python/whirlwind.warc.gz", "commoncrawl__whirlwind-python/whirlwind.warc.wet.gz",
              "iipc__jwarc/cc.warc.gz"]


def _real(shared: Path, name: str, folder: Path) -> tuple[str, Written]:
    """A copy of a real crawl file and its documents, each with the byte span warcio gives its
    record (the oracle: our reader does not grade itself)."""
    from warcio.archiveiterator import ArchiveIterator

    path = folder / Path(name).name
    path.write_bytes((shared / "warc" / name).read_bytes())
    spans = {}
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for rec in it:
            rid = (rec.rec_headers.get_header("WARC-Record-ID") or "").strip("<>").removeprefix("urn:uuid:")
            rec.content_stream().read()
            spans[rid] = (it.get_record_offset(), it.get_record_offset() + it.get_record_length())
    docs = [d for d in read_all(path) if isinstance(d, Document)]
    return ("warc.gz" if name.endswith(".gz") else "warc"), Written(path, [d.id for d in docs], [d.text for d in docs],
                                                                    [spans[d.id] for d in docs])


@pytest.mark.parametrize("name", REAL_WARCS)
def test_random_damage_in_real_crawl_files(tmp_path, shared_data, name):
    """The same damage, injected into real WARC/WET files from other writers (Wget, Heritrix, WAIL,
    warcprox, Webrecorder, Nutch for Common Crawl): the same guarantees, with warcio's record
    offsets as the spans."""
    fmt, w = _real(shared_data, name, tmp_path)
    assert w.ids, name
    original = w.path.read_bytes()
    declared = _declared(w.path)
    for damage in DAMAGES:
        for seed in range(10):
            rng = random.Random(f"{name}-{damage}-{seed}")
            bad, touched, at, k = _damage(original, damage, rng)
            w.path.write_bytes(bad)
            items = read_all(w.path)
            w.path.write_bytes(original)
            docs = [x for x in items if isinstance(x, Document)]
            skips = [x for x in items if isinstance(x, Skip)]
            assert all(s.reason in declared and w.path.name in s.detail for s in skips)
            _check_framed(fmt, w, docs, skips, touched, (at, k), touched[0][0] if damage == "cut" else 1 << 62)
            TALLY.update(real_cases=1)


def test_fault_suite_figures():
    """Prints what the suite above ran (it runs after the parametrised cases in file order)."""
    if not TALLY:
        pytest.skip("the fault cases did not run")
    print(f"\nfault injection: {TALLY['cases']} cases; framed formats: {TALLY['written']} records written, "
          f"{TALLY['touched']} touched by damage, {TALLY['read']} read unchanged, {TALLY['changed']} read changed "
          f"(no checksum, or cut), {TALLY['lost']} counted as lost; streams: {TALLY['stream_prefix_read']} of "
          f"{TALLY['stream_written']} records read before the damage; {TALLY['real_cases']} of the cases in real "
          "crawl files")
    assert TALLY["read"] + TALLY["changed"] + TALLY["lost"] == TALLY["written"]
