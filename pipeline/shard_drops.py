"""What the pipeline dropped, as the shards step uses it: the stage that dropped each document (a
budget's composition, fates.parquet) and the dropped texts the mixes draw from.

Read from the stages' drops.parquet a batch at a time; what is kept in memory is a stage number
per document of the shards, and for the mixes the ids of the texts they draw from, never the
dropped texts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


class Fates:
    """Which stage dropped each document (the first that did, in the drops' order).

    Why not a table of every dropped id: on a crawl most documents are dropped (1.27 M of 1.6 M
    in bench_scale), and their ids held through the shards step grew its peak with the corpus;
    a stage's ids are matched against the shards' documents a batch at a time instead, and what
    stays is one small number per document."""

    BATCH = 1 << 20  # dropped ids matched at once

    def __init__(self, drops: dict[str, Path]):
        self.paths = [Path(p) for p in drops.values()]
        self.names = list(drops)
        self.any = any(p.is_file() and pq.read_metadata(p).num_rows for p in self.paths)

    def of(self, ids: pa.Array) -> np.ndarray:
        """The stage number of each id (-1: no stage dropped it)."""
        fate = np.full(len(ids), -1, np.int16)
        for k, path in enumerate(self.paths):
            if not path.is_file():
                continue
            for b in pq.ParquetFile(path).iter_batches(batch_size=self.BATCH, columns=["id"]):
                pos = pc.index_in(b.column("id").cast(pa.string()), value_set=ids).drop_null().to_numpy()
                pos = pos[fate[pos] < 0]
                fate[pos] = k
        return fate

    def numbers(self, names: list[str]) -> np.ndarray:
        return np.array([self.names.index(n) for n in names if n in self.names], np.int64)


class DroppedTexts:
    """The non-empty dropped texts of `stages` (a document's first, in the drops' order)."""

    def __init__(self, drops: dict[str, Path], stages: set[str], batch: int):
        self.paths = [Path(p) for s, p in drops.items() if s in stages and Path(p).is_file()]
        self.batch = batch
        self.before: list[pa.Array] = []  # per file: the ids the files before it gave
        kept: list[pa.Array] = []
        for p in self.paths:
            self.before.append(pa.concat_arrays(kept) if kept else pa.array([], pa.string()))
            kept += [b.column("id") for b in self._batches(p, self.before[-1])]
        self.ids = pa.concat_arrays([k.cast(pa.string()) for k in kept]) if kept else pa.array([], pa.string())

    def _batches(self, path: Path, before: pa.Array) -> Iterator[pa.RecordBatch]:
        for b in pq.ParquetFile(path).iter_batches(batch_size=self.batch, columns=["id", "text"]):
            text = b.column("text")
            keep = pc.and_(pc.is_valid(text), pc.greater(pc.utf8_length(text), 0))
            if len(before):
                keep = pc.and_(keep, pc.invert(pc.is_in(b.column("id"), value_set=before)))
            yield b.filter(keep.fill_null(False))

    def batches(self) -> Iterator[pa.RecordBatch]:
        for p, before in zip(self.paths, self.before):
            yield from self._batches(p, before)
