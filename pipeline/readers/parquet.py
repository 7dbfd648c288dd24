"""Parquet files: a damaged row group costs its rows, a damaged footer the file (with a count)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import InputError
from pipeline.readers.base import Head, Item, Reader, RecordFields, Skip, Source, record_to_doc


class ParquetReader(Reader):
    name = "parquet"
    suffixes = (".parquet",)
    description = "Parquet files with a text column (.parquet)"
    reasons = {"damaged_file": "a file whose footer cannot be read (all its rows)",
               "damaged_row_group": "a row of a row group that cannot be read",
               "missing_text": "a row without the text field", "invalid_text": "a text that is not a string"}

    @dataclass(frozen=True)
    class Config(RecordFields):
        pass

    @classmethod
    def claims(cls, path: Path, head: Head) -> bool:
        return super().claims(path, head) or head.raw[:4] == b"PAR1"

    def check(self, src: Source) -> None:
        """Refuse a file without the text column (a damaged footer is the read's counted loss)."""
        try:
            names = pq.ParquetFile(src.paths[0]).schema_arrow.names
        except (pa.ArrowException, OSError):
            return
        self._has_text(src.paths[0], names)

    def _has_text(self, path: str, names: list[str]) -> None:
        if self.config.text_field not in names:
            raise InputError(f"{path}: no column {self.config.text_field!r} (columns: {', '.join(names)}); "
                             "set input.text_field")

    def read(self, src: Source) -> Iterator[Item]:
        cfg = self.config
        path = src.paths[0]
        try:
            pf = pq.ParquetFile(path, page_checksum_verification=True)  # where the writer stored CRCs
        except (pa.ArrowException, OSError) as e:  # a cut or damaged footer: no row group can be found
            size = Path(path).stat().st_size
            yield Skip(f"{src.label}@0", "damaged_file",
                       f"{path}: not a readable Parquet file ({type(e).__name__}: {e}); all {size:,} bytes "
                       "are lost, with an unknown number of records (a Parquet file's footer indexes its "
                       "rows); re-fetch or rewrite the file")
            return
        names = pf.schema_arrow.names
        self._has_text(path, names)
        cols = list(dict.fromkeys(c for c in (cfg.id_field, cfg.text_field, cfg.url_field, "meta") if c in names))
        row = 0
        for g in range(pf.num_row_groups):  # a damaged row group costs its rows, not the file
            n = pf.metadata.row_group(g).num_rows
            try:
                records = pf.read_row_group(g, columns=cols).to_pylist()
            except (pa.ArrowException, OSError) as e:
                for k in range(row + 1, row + n + 1):
                    yield Skip(f"{src.label}:{k}", "damaged_row_group",
                               f"{path}: row group {g} (rows {row + 1}..{row + n}, {n} rows) cannot be read "
                               f"({type(e).__name__}: {e}); the other row groups were read")
                row += n
                continue
            for rec in records:
                row += 1
                if isinstance(rec.get("meta"), str):
                    try:
                        rec["meta"] = json.loads(rec["meta"])
                    except json.JSONDecodeError:
                        rec["meta"] = {}
                yield record_to_doc(rec, cfg, f"{src.label}:{row}")
