"""Every distinct text of the shards step's documents, read once, a batch at a time.

A document has a text in each variant that holds it (stages change texts: safety masks PII,
quality drops lines, decontamination redacts) and maybe one as the stage that dropped it saw it
(the mixes draw from those). Variants share most texts, so a text equal to one the same
document already has (compared by a 128-bit hash) is not encoded again. Each new text is encoded
and its 13-gram set computed as its batch is read, into the on-disk store (`shard_store`); what
stays in memory is a few numbers a document (its id in a pyarrow array, its shuffle key, which
text each variant has of it), not its text or tokens.

Documents are numbered in order of first appearance (the variants in order, each in run order,
then the dropped texts), texts in the order they are added: the numbering the validation
groups are labelled by.
"""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import stage_folder
from pipeline.errors import ConfigError
from pipeline.shard_store import PostingRuns, TokenStore
from pipeline.splits import ngram_sets
from pipeline.tokenizer import encode


def _postings(texts: list[str], first: int) -> tuple[np.ndarray, np.ndarray]:
    return PostingRuns.sorted_postings(ngram_sets(texts), first)


def shuffle_keys(ids: pa.Array, seed: int) -> np.ndarray:
    """Each id's place in the seeded shuffle (the same whichever variant it comes from): its
    blake2b digest read big-endian, so sorting the keys sorts the digests."""
    digests = b"".join(hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest() for i in ids.to_pylist())
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def variant_batches(stage_dir: Path, batch: int) -> Iterator[pa.RecordBatch]:
    """A stage's kept documents (id, text) in run order, `batch` at a time."""
    parts = stage_folder.part_files(Path(stage_dir))
    if not parts:
        raise ConfigError(f"{stage_dir}: no part-*.parquet files (is it a stage output folder?)")
    for p in parts:
        yield from pq.ParquetFile(p).iter_batches(batch_size=batch, columns=["id", "text"])


def variant_ids(stage_dir: Path) -> pa.Array:
    parts = stage_folder.part_files(Path(stage_dir))
    return pa.chunked_array([pq.read_table(p, columns=["id"])["id"] for p in parts], pa.string()).combine_chunks() \
        if parts else pa.array([], pa.string())


def first_texts(stage_dir: Path, chars: int) -> list[str]:
    """A stage's texts in run order until `chars` characters (what trains the tokenizer)."""
    out, total = [], 0
    for b in variant_batches(stage_dir, 1024):
        for t in b.column("text").to_pylist():
            if total >= chars:
                return out
            out.append(t)
            total += len(t)
    return out


@dataclass
class Side:
    """One source of texts (a variant, or the dropped texts): its documents in order."""

    ids: pa.Array
    doc: np.ndarray  # each one's document number
    text: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # each one's text number


class Texts:
    """The run's documents and their distinct texts (see the module's docstring)."""

    def __init__(self, work: Path, tok, dtype: np.dtype, batch: int, buffer_postings: int):
        self.tok, self.batch = tok, batch
        work.mkdir(parents=True, exist_ok=True)
        self.store = TokenStore(work / "tokens.bin", dtype)
        self.postings = PostingRuns(work / "postings", buffer_postings)
        self.sides: list[Side] = []
        self.doc_ids: list[pa.Array] = []
        self.n_docs = 0
        self.owner: list[np.ndarray] = []  # per batch: each new text's document
        self.hash: list[np.ndarray] = []  # per batch: each new text's 128-bit hash
        self.n_texts = 0
        self.length = np.zeros(0, np.int64)
        self.queue: list[str] = []  # the newest texts, not encoded yet
        self.grams = ThreadPoolExecutor(1)

    def add_side(self, ids: pa.Array, batches: Iterator[pa.RecordBatch], progress) -> Side:
        """A variant's (or the dropped texts') documents: numbered, their new texts encoded."""
        earlier = self.sides
        doc = self._numbers(ids, earlier)
        same = [self._text_of(s, ids) for s in earlier]  # per earlier side: the text it has of each doc
        texts, k = [], 0
        hashes = self.hashes()
        for b in batches:
            n = b.num_rows
            texts.append(self._add_batch(b.column("text").to_pylist(), doc[k:k + n], [c[k:k + n] for c in same],
                                         hashes))
            k += n
            progress.update(n)
        side = Side(ids, doc, np.concatenate(texts) if texts else np.zeros(0, np.int64))
        self.sides.append(side)
        return side

    def _numbers(self, ids: pa.Array, earlier: list[Side]) -> np.ndarray:
        """Document numbers of `ids`: an earlier side's, or new ones in order."""
        doc = np.full(len(ids), -1, np.int64)
        for s in earlier:
            pos = pc.index_in(ids, value_set=s.ids).fill_null(-1).to_numpy()
            found = (doc < 0) & (pos >= 0)
            doc[found] = s.doc[pos[found]]
        new = np.flatnonzero(doc < 0)
        doc[new] = self.n_docs + np.arange(len(new))
        self.n_docs += len(new)
        self.doc_ids.append(ids.take(pa.array(new)))
        return doc

    @staticmethod
    def _text_of(side: Side, ids: pa.Array) -> np.ndarray:
        pos = pc.index_in(ids, value_set=side.ids).fill_null(-1).to_numpy()
        return np.where(pos >= 0, side.text[np.maximum(pos, 0)], -1) if len(side.text) else np.full(len(ids), -1)

    def hashes(self) -> np.ndarray:
        return np.concatenate(self.hash) if self.hash else np.zeros(0, "V16")

    def _add_batch(self, texts: list[str], doc: np.ndarray, same: list[np.ndarray], hashes: np.ndarray) -> np.ndarray:
        """Text numbers of one batch: an equal text the document has already, or a new one (queued
        to be encoded in full batches: a later variant's batch holds few new texts)."""
        h = np.frombuffer(b"".join(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                                   for t in texts), "V16")
        number = np.full(len(texts), -1, np.int64)
        for cand in same:
            ok = (number < 0) & (cand >= 0)
            ok[ok] = hashes[cand[ok]] == h[ok]
            number[ok] = cand[ok]
        new = np.flatnonzero(number < 0)
        self.queue += [texts[j] for j in new]
        number[new] = self.n_texts + np.arange(len(new))
        self.owner.append(doc[new])
        self.hash.append(h[new])
        self.n_texts += len(new)
        if len(self.queue) >= self.batch:
            self._encode_queue()
        return number

    def _encode_queue(self) -> None:
        """Encode the queued texts, their postings computed beside (both mostly outside the GIL)."""
        fresh, self.queue = self.queue, []
        postings = self.grams.submit(_postings, fresh, self.n_texts - len(fresh))
        self.store.add(encode(self.tok, fresh, self.batch))
        self.postings.add(*postings.result())

    def close(self) -> None:
        """Encoding done: every text's length known, its tokens readable."""
        if self.queue:
            self._encode_queue()
        self.grams.shutdown()
        self.length = self.store.close()
        self.postings.flush(wait=True)

    def owners(self) -> np.ndarray:
        return np.concatenate(self.owner) if self.owner else np.zeros(0, np.int64)

    def ids(self) -> pa.Array:
        """Every document's id, by document number."""
        return pa.chunked_array(self.doc_ids, pa.string()).combine_chunks()

    def per_doc(self, *sides: Side) -> np.ndarray:
        """Each document's text in the first of `sides` that has it (-1: none)."""
        out = np.full(self.n_docs, -1, np.int64)
        for s in reversed(sides):
            out[s.doc] = s.text
        return out
