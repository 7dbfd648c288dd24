"""What the pipeline dropped, as the shards step uses it: the stage that dropped each document (a
budget's composition, fates.parquet) and the dropped texts the mixes draw from.

Read from the stages' drops.parquet a batch at a time; what is kept in memory is ids (a pyarrow
array) and a stage number each, never the dropped texts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


@dataclass
class Fates:
    """Which stage dropped each document (the first that did, in the drops' order)."""

    ids: pa.Array
    stage: np.ndarray  # a number into `names` per id
    names: list[str]

    @classmethod
    def read(cls, drops: dict[str, Path]) -> "Fates":
        ids, stage = [], []
        names = list(drops)
        for k, path in enumerate(drops.values()):
            if Path(path).is_file():
                ids.append(pq.read_table(path, columns=["id"])["id"].combine_chunks().cast(pa.string()))
                stage.append(np.full(len(ids[-1]), k, np.int64))
        every = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
        first = pc.index_in(every, value_set=every).to_numpy() == np.arange(len(every))
        return cls(every.filter(pa.array(first)), np.concatenate(stage)[first] if stage else np.zeros(0, np.int64),
                   names)

    def of(self, ids: pa.Array) -> np.ndarray:
        """The stage number of each id (-1: no stage dropped it)."""
        pos = pc.index_in(ids, value_set=self.ids).fill_null(-1).to_numpy()
        return np.where(pos >= 0, self.stage[np.maximum(pos, 0)], -1) if len(self.stage) else np.full(len(ids), -1)

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
