"""WARC reading: MB/s of corpusprep's reader against warcio and FastWARC in one run, and what each
reads from damaged files.

    python benchmarks/bench_read.py            # the 100 MB WARC.gz, 5 interleaved rounds
    python benchmarks/bench_read.py --quick    # a 1 MB file, 1 round (the test suite runs this)

1. Speed. The input is real records only: the WARC.gz files of ../shared/data/warc (Heritrix,
   Wget, WAIL, Webrecorder, Nutch for Common Crawl), one gzip member a record, concatenated until
   the file is >= 100 MB (gzip members concatenate into a valid WARC.gz). Every reader does the
   same work: every record is parsed, and each HTML response's payload is de-chunked, its
   Content-Encoding undone, and decoded to text with the same `decode_html`. MB/s are of the
   compressed file. The ratio is paired per round (median and range), so a slow spell of the
   machine hits all readers alike.
2. Damage. The same HTML responses counted by each reader on the malformed files and on one
   real file with planted damage (flipped bytes in one member, garbage between members, a cut),
   and whether the reader stopped with an error.
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Iterator

from common import have
from pipeline.document import Document
from pipeline.encoding import decode_html, http_charset
from pipeline.readers import InputConfig, list_sources, read_source
from pipeline.resources import shared_data_dir


# Each reader yields one item per HTML response, as text: a reader that stops with an error has
# still said how far it got.
def ours(path: Path) -> Iterator[str]:
    cfg = InputConfig(path=str(path), format="warc")
    for s in list_sources(cfg).sources:
        yield from (d.text for d in read_source(s, cfg) if isinstance(d, Document))


def warcio(path: Path) -> Iterator[str]:
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        for r in ArchiveIterator(fh):
            ctype = (r.http_headers.get_header("Content-Type") or "") if r.http_headers else ""
            if r.rec_type == "response" and "html" in ctype.lower():
                yield decode_html(r.content_stream().read(), http_charset(ctype))[0]


def fastwarc(path: Path) -> Iterator[str]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with open(path, "rb") as fh:
        for r in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
            ctype = r.http_headers.get("Content-Type", "") if r.http_headers is not None else ""
            if "html" in ctype.lower():  # FastWARC's reader de-chunks and undoes Content-Encoding
                yield decode_html(r.reader.read(), http_charset(ctype))[0]


def count(read, path: Path) -> tuple[int, bool]:
    """(HTML responses read, whether the reader stopped with an error)."""
    n = 0
    try:
        for _ in read(path):
            n += 1
    except Exception:  # a peer that gives up on damage: what it read before counts
        return n, True
    return n, False


READERS = {"corpusprep": ours, "warcio": warcio} | ({"fastwarc": fastwarc} if have("fastwarc") else {})


def real_warc_gz(shared: Path, out: Path, target: int) -> int:
    """A WARC.gz of >= target bytes from the real WARC.gz files, repeated; returns its size."""
    files = sorted(p for p in (shared / "warc").glob("*/*.warc.gz"))
    data = b"".join(p.read_bytes() for p in files)
    copies = max(1, -(-target // len(data)))
    with open(out, "wb") as fh:
        for _ in range(copies):
            fh.write(data)
    return len(data) * copies


def speed(shared: Path, tmp: Path, target: int, rounds: int) -> None:
    path = tmp / "real.warc.gz"
    size = real_warc_gz(shared, path, target)
    secs: dict[str, list[float]] = {name: [] for name in READERS}
    docs: dict[str, int] = {}
    for read in READERS.values():  # imports and first-call set-up, untimed
        count(read, shared / "warc" / "iipc__jwarc" / "cc.warc.gz")
    for _ in range(rounds):
        for name, read in READERS.items():
            t0 = time.perf_counter()
            docs[name] = count(read, path)[0]
            secs[name].append(time.perf_counter() - t0)
    print(f"{size / 1e6:.1f} MB WARC.gz of real records, {docs['corpusprep']:,} HTML responses; median of {rounds} "
          "interleaved round(s)")
    for name in READERS:
        print(f"  {name:11s} {size / statistics.median(secs[name]) / 1e6:7.1f} MB/s   documents {docs[name]:,}")
    for peer in [p for p in READERS if p != "corpusprep"]:
        ratios = sorted(b / a for a, b in zip(secs["corpusprep"], secs[peer]))
        print(f"  corpusprep / {peer}: {statistics.median(ratios):.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f}x per round)")
    if "fastwarc" not in READERS:
        print("  (FastWARC not installed: pip install -e '.[bench]')")


def _damaged(shared: Path, tmp: Path) -> dict[str, Path]:
    """Planted damage in a real Heritrix WARC.gz (231 records, 64 HTML responses)."""
    import zlib

    data = (shared / "warc" / "oduwsdl__ipwb" / "sample-1.warc.gz").read_bytes()
    starts, pos = [], 0
    while pos < len(data):  # its members, by decompressing them (one record each)
        starts.append(pos)
        d = zlib.decompressobj(31)
        d.decompress(data[pos:])
        pos = len(data) - len(d.unused_data)
    flip = bytearray(data)
    for o in range(starts[50] + 40, starts[50] + 60):
        flip[o] ^= 0xFF
    garbage = data[:starts[50]] + bytes(random.Random(0).randrange(256) for _ in range(300)) + data[starts[50]:]
    out = {"flipped member 50 of 231": bytes(flip), "garbage before member 50": garbage,
           "cut at 60 %": data[:int(len(data) * 0.6)]}
    paths = {}
    for i, (label, b) in enumerate(out.items()):
        paths[label] = tmp / f"damaged-{i}.warc.gz"
        paths[label].write_bytes(b)
    return paths


def damage(shared: Path, tmp: Path) -> None:
    cases = {p.relative_to(shared / "warc").as_posix(): p for p in sorted((shared / "warc" / "malformed").rglob("*"))
             if p.is_file()} | _damaged(shared, tmp)
    print("\nHTML responses read from damaged files (! = the reader stopped with an error):")
    print("  " + " ".join(f"{n:>11s}" for n in READERS) + "  file")
    for label, path in cases.items():
        cells = [f"{n}{'!' if failed else ' '}" for n, failed in (count(read, path) for read in READERS.values())]
        print("  " + " ".join(f"{c:>11s}" for c in cells) + f"  {label}")


def main(quick: bool = False) -> None:
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data is not beside the checkout: the benchmark reads its real WARC files")
    with tempfile.TemporaryDirectory() as tmp:
        speed(shared, Path(tmp), 1 << 20 if quick else 100_000_000, 1 if quick else 5)
        damage(shared, Path(tmp))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 1 MB file and one round (seconds)")
    main(ap.parse_args().quick)
