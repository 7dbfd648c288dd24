"""Is a .zst file whole? A walk over its frame and block headers (RFC 8878), no decompression.

Why: python-zstandard's stream reader returns end-of-file, not an error, when a file is cut
inside a frame, so a truncated `.jsonl.zst` would read as a short file plus one bad last line,
and everything after the cut would vanish from the accounting. Block headers carry their sizes,
so the walk jumps from header to header: cheap (one look per 128 KB block) and exact about
where the file stops being a sequence of whole frames.
"""
from __future__ import annotations

import mmap
from pathlib import Path

ZSTD_MAGIC = 0xFD2FB528
SKIPPABLE_MIN, SKIPPABLE_MAX = 0x184D2A50, 0x184D2A5F


def _frame_end(mm: mmap.mmap, pos: int) -> int:
    """End offset of the frame starting at pos, or -1 when its headers run past the file or
    make no sense."""
    n = len(mm)
    if pos + 8 > n:
        return -1
    magic = int.from_bytes(mm[pos:pos + 4], "little")
    if SKIPPABLE_MIN <= magic <= SKIPPABLE_MAX:
        end = pos + 8 + int.from_bytes(mm[pos + 4:pos + 8], "little")
        return end if end <= n else -1
    if magic != ZSTD_MAGIC:
        return -1
    fhd = mm[pos + 4]
    single_segment = (fhd >> 5) & 1
    fcs = {0: single_segment, 1: 2, 2: 4, 3: 8}[fhd >> 6]
    i = pos + 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 3] + fcs
    while True:
        if i + 3 > n:
            return -1
        header = int.from_bytes(mm[i:i + 3], "little")
        last, kind, size = header & 1, (header >> 1) & 3, header >> 3
        if kind == 3:  # reserved block type: not a zstd stream here
            return -1
        i += 3 + (1 if kind == 1 else size)
        if last:
            i += 4 if fhd & 4 else 0  # content checksum
            return i if i <= n else -1


def zstd_cut_at(path: str | Path) -> int | None:
    """Offset of the first frame that is not whole (cut or damaged headers), or None when the
    file is a sequence of whole frames."""
    with open(path, "rb") as fh:
        if fh.seek(0, 2) == 0:
            return None
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = 0
            while pos < len(mm):
                end = _frame_end(mm, pos)
                if end < 0:
                    return pos
                pos = end
    return None
