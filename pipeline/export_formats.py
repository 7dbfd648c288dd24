"""The three trainer formats an export writes, each as its trainer's own reader expects it.

* `megatron`: Megatron-LM's indexed dataset (`megatron.core.datasets.indexed_dataset`), what
  Megatron-LM and NeMo train from and NeMo Curator and DataTrove write: `<prefix>.bin`, the tokens;
  `<prefix>.idx`, the header `MMIDIDX\\0\\0`, version 1, the token dtype's code, then the sequence
  count, the document count + 1, each sequence's length (int32), its byte offset (int64) and the
  document index (int64, the first sequence of each document and the end). One document is one
  sequence, EOS last, as Megatron's `preprocess_data.py --append-eod` writes it.
* `nanotron`: DataTrove's tokenized files, which nanotron reads (`DatatroveFolderDataset`):
  `<name>.ds`, the tokens; `<name>.ds.index`, each document's end (uint64, in tokens);
  `<name>.ds.metadata`, the tokenizer, token size and count.
* `npy`: a flat token memmap with no NPY header (`part-00000.npy`), what OLMo's
  `NumpyFSLDataset` and nanoGPT's `np.memmap` read; documents are EOS-delimited.

Every writer streams: tokens go to the file as they come, and what an index needs per document
(a length, an end) goes to a side file of its own and is copied into the index in chunks at the
end, so memory is set by the writer's buffer, not by the number of documents.
"""
from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

import numpy as np

MEGATRON_HEADER = b"MMIDIDX\x00\x00"
_MEGATRON_CODES = {"uint16": (8, np.uint16), "uint32": (4, np.int32)}  # megatron's DType; it has no uint32
CHUNK = 1 << 20  # per-document entries copied a chunk at a time into an index


class Writer(ABC):
    """Documents in, a trainer's files out: `add` each whole document (EOS included) in order,
    then `close`, which returns the files written (relative to the export folder)."""

    def __init__(self, folder: Path, dtype: str, tokenizer_name: str):
        self.folder, self.dtype, self.tokenizer_name = folder, np.dtype(dtype), tokenizer_name
        self.tokens = self.docs = 0

    @abstractmethod
    def add(self, docs: list[np.ndarray]) -> None:
        """Write these whole documents after those before."""

    @abstractmethod
    def close(self) -> list[str]:
        """Finish the files; the names of those written."""


def _append(fh: BinaryIO, docs: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Write the documents' tokens one after another; returns their lengths."""
    if docs:
        fh.write(np.concatenate(docs).astype(dtype, copy=False).tobytes())
    return np.array([len(d) for d in docs], np.int64)


class MegatronWriter(Writer):
    """`tokens.bin` + `tokens.idx` (prefix `tokens`)."""

    def __init__(self, folder: Path, dtype: str, tokenizer_name: str):
        super().__init__(folder, dtype, tokenizer_name)
        self.code, self.bin_dtype = _MEGATRON_CODES[self.dtype.name]
        self.bin = open(folder / "tokens.bin", "wb")
        self.lengths = open(folder / ".lengths.tmp", "wb")

    def add(self, docs: list[np.ndarray]) -> None:
        n = _append(self.bin, docs, np.dtype(self.bin_dtype))
        self.lengths.write(n.tobytes())
        self.tokens += int(n.sum())
        self.docs += len(n)

    def close(self) -> list[str]:
        self.bin.close()
        self.lengths.close()
        side, size = self.folder / ".lengths.tmp", np.dtype(self.bin_dtype).itemsize
        with open(self.folder / "tokens.idx", "wb") as idx:
            idx.write(MEGATRON_HEADER + struct.pack("<Q", 1) + struct.pack("<B", self.code))
            idx.write(struct.pack("<Q", self.docs) + struct.pack("<Q", self.docs + 1))
            for a in _chunks(side, np.int64):  # each sequence's length
                idx.write(a.astype(np.int32).tobytes())
            start = 0
            for a in _chunks(side, np.int64):  # each sequence's byte offset in tokens.bin
                ends = start + np.cumsum(a * size)
                idx.write(np.concatenate([[start], ends[:-1]]).astype(np.int64).tobytes())
                start = int(ends[-1])
            for first in range(0, self.docs + 1, CHUNK):  # document k is sequence k
                idx.write(np.arange(first, min(self.docs + 1, first + CHUNK), dtype=np.int64).tobytes())
        side.unlink()
        return ["tokens.bin", "tokens.idx"]


class NanotronWriter(Writer):
    """`tokens.ds` + `tokens.ds.index` + `tokens.ds.metadata`, as DataTrove's DocumentTokenizer writes them."""

    def __init__(self, folder: Path, dtype: str, tokenizer_name: str):
        super().__init__(folder, dtype, tokenizer_name)
        self.ds = open(folder / "tokens.ds", "wb")
        self.index = open(folder / "tokens.ds.index", "wb")

    def add(self, docs: list[np.ndarray]) -> None:
        n = _append(self.ds, docs, self.dtype)
        self.index.write((self.tokens + np.cumsum(n)).astype(np.uint64).tobytes())
        self.tokens += int(n.sum())
        self.docs += len(n)

    def close(self) -> list[str]:
        self.ds.close()
        self.index.close()
        (self.folder / "tokens.ds.metadata").write_text(
            f"{self.tokenizer_name}|{self.dtype.itemsize}\n{self.tokens}\n{_metric(self.tokens)}", encoding="utf-8")
        return ["tokens.ds", "tokens.ds.index", "tokens.ds.metadata"]


def _metric(n: int) -> str:
    """The token count as DataTrove's metadata line spells it (humanize.metric, 'T' for tokens)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}T"
    return f"{n} T"


class NpyWriter(Writer):
    """`part-00000.npy`: the tokens, EOS between documents, no header (OLMo's and nanoGPT's memmaps)."""

    def __init__(self, folder: Path, dtype: str, tokenizer_name: str):
        super().__init__(folder, dtype, tokenizer_name)
        self.fh = open(folder / "part-00000.npy", "wb")

    def add(self, docs: list[np.ndarray]) -> None:
        n = _append(self.fh, docs, self.dtype)
        self.tokens += int(n.sum())
        self.docs += len(n)

    def close(self) -> list[str]:
        self.fh.close()
        return ["part-00000.npy"]


def counts(folder: Path, fmt: str, dtype: str, eos_id: int) -> tuple[int, int]:
    """(tokens, documents) of an export's files as its trainer's reader sees them, read from the
    files themselves (not from our manifest), a chunk at a time: what `card verify` checks the
    manifest against. -1 tokens: the files disagree with each other (an index that does not add up)."""
    size = np.dtype(_MEGATRON_CODES[dtype][1] if fmt == "megatron" else dtype).itemsize
    if fmt == "megatron":
        head_size = len(MEGATRON_HEADER) + 9 + 16
        with open(folder / "tokens.idx", "rb") as fh:
            head = fh.read(head_size)
        if len(head) < head_size or head[:len(MEGATRON_HEADER)] != MEGATRON_HEADER:
            return -1, -1
        seqs, docs = struct.unpack("<QQ", head[len(MEGATRON_HEADER) + 9:])
        listed = sum(int(a.sum()) for a in _chunks(folder / "tokens.idx", np.int32, head_size, seqs))
        tokens = (folder / "tokens.bin").stat().st_size // size
        return (tokens if listed == tokens else -1), docs - 1
    if fmt == "nanotron":
        n_docs = end = 0
        for a in _chunks(folder / "tokens.ds.index", np.uint64):
            n_docs, end = n_docs + len(a), int(a[-1])
        tokens = (folder / "tokens.ds").stat().st_size // size
        return (tokens if end == tokens else -1), n_docs
    tokens = docs = 0
    last = eos_id
    for a in _chunks(folder / "part-00000.npy", np.dtype(dtype)):
        tokens, docs, last = tokens + len(a), docs + int(np.count_nonzero(a == eos_id)), int(a[-1])
    return tokens, docs + int(last != eos_id)


def _chunks(path: Path, dtype, offset: int = 0, count: int | None = None):
    """The file's values from `offset` (bytes), `count` of them (all: None), a chunk at a time."""
    item = np.dtype(dtype).itemsize
    left = (path.stat().st_size - offset) // item if count is None else count
    while left > 0:
        a = np.fromfile(path, dtype, min(left, CHUNK), offset=offset)
        if not len(a):
            return
        yield a
        offset, left = offset + len(a) * item, left - len(a)


WRITERS: dict[str, type[Writer]] = {"megatron": MegatronWriter, "nanotron": NanotronWriter, "npy": NpyWriter}
