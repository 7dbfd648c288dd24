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

import numpy as np

MEGATRON_HEADER = b"MMIDIDX\x00\x00"
_MEGATRON_CODES = {"uint16": (8, np.uint16), "uint32": (4, np.int32)}  # megatron's DType; it has no uint32
CHUNK = 1 << 20  # per-document entries copied a chunk at a time into an index


class Writer(ABC):
    """Documents in, a trainer's files out: `add` whole documents (EOS included) in order, then
    `close`, which returns the files written (relative to the export folder). A format names its
    token file and dtype and says what its index keeps of each batch (`index`)."""

    data_file: str
    files: tuple[str, ...]

    def __init__(self, folder: Path, dtype: str, tokenizer_name: str):
        self.folder, self.dtype, self.tokenizer_name = folder, np.dtype(dtype), tokenizer_name
        self.tokens = self.docs = 0
        self.data = open(folder / self.data_file, "wb")

    def token_dtype(self) -> np.dtype:
        """How tokens are stored on disk (the shards' dtype unless the format has no such type)."""
        return self.dtype

    def add(self, docs: list[np.ndarray]) -> None:
        """Write these whole documents after those before."""
        if docs:
            self.data.write(np.concatenate(docs).astype(self.token_dtype(), copy=False).tobytes())
        lengths = np.array([len(d) for d in docs], np.int64)
        self.index(lengths)
        self.tokens += int(lengths.sum())
        self.docs += len(lengths)

    @abstractmethod
    def index(self, lengths: np.ndarray) -> None:
        """Keep what the index needs of the documents just written (their lengths; `self.tokens`
        still counts the tokens before them)."""

    def close(self) -> list[str]:
        """Finish the files; the names of those written."""
        self.data.close()
        self.finish()
        return list(self.files)

    def finish(self) -> None:
        """Write what follows the tokens (an index, metadata)."""


class MegatronWriter(Writer):
    """`tokens.bin` + `tokens.idx` (prefix `tokens`)."""

    data_file, files = "tokens.bin", ("tokens.bin", "tokens.idx")

    def __init__(self, folder: Path, dtype: str, tokenizer_name: str):
        super().__init__(folder, dtype, tokenizer_name)
        self.code, self.bin_dtype = _MEGATRON_CODES[self.dtype.name]
        self.lengths = open(folder / ".lengths.tmp", "wb")

    def token_dtype(self) -> np.dtype:
        return np.dtype(self.bin_dtype)

    def index(self, lengths: np.ndarray) -> None:
        self.lengths.write(lengths.tobytes())

    def finish(self) -> None:
        self.lengths.close()
        side, size = self.folder / ".lengths.tmp", self.token_dtype().itemsize
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


class NanotronWriter(Writer):
    """`tokens.ds` + `tokens.ds.index` + `tokens.ds.metadata`, as DataTrove's DocumentTokenizer writes them."""

    data_file, files = "tokens.ds", ("tokens.ds", "tokens.ds.index", "tokens.ds.metadata")

    def __init__(self, folder: Path, dtype: str, tokenizer_name: str):
        super().__init__(folder, dtype, tokenizer_name)
        self.ends = open(folder / "tokens.ds.index", "wb")

    def index(self, lengths: np.ndarray) -> None:
        self.ends.write((self.tokens + np.cumsum(lengths)).astype(np.uint64).tobytes())

    def finish(self) -> None:
        self.ends.close()
        (self.folder / "tokens.ds.metadata").write_text(
            f"{self.tokenizer_name}|{self.dtype.itemsize}\n{self.tokens}\n{_metric(self.tokens)}", encoding="utf-8")


def _metric(n: int) -> str:
    """The token count as DataTrove's metadata line spells it (humanize.metric, 'T' for tokens)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}T"
    return f"{n} T"


class NpyWriter(Writer):
    """`part-00000.npy`: the tokens, EOS between documents, no header (OLMo's and nanoGPT's memmaps)."""

    data_file, files = "part-00000.npy", ("part-00000.npy",)

    def index(self, lengths: np.ndarray) -> None:
        """None: EOS marks the documents."""


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
