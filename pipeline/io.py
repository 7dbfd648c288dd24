"""The Parquet layout stages exchange: kept documents and drops, one schema each.

Reading raw inputs is `pipeline.readers`' (one module per format).
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.document import Document, DroppedDoc
from pipeline.text import utf8_array

# The schema stages exchange. `meta` is a JSON string so the schema never depends on the data.
DOC_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()),
                        ("meta", pa.string())])
DROP_SCHEMA = pa.schema([("id", pa.string()), ("stage", pa.string()), ("reason", pa.string()),
                         ("detail", pa.string()), ("url", pa.string()), ("text", pa.string())])


# ---------------------------------------------------------------------------------------------
# the Parquet layout between stages
def docs_to_table(docs: list[Document]) -> pa.Table:
    return pa.table({
        "id": pa.array([d.id for d in docs], pa.string()),
        "text": utf8_array([d.text for d in docs]),
        "url": pa.array([d.url for d in docs], pa.string()),
        "meta": pa.array([json.dumps(d.meta, sort_keys=True, ensure_ascii=False) for d in docs],
                         pa.string()),
    }, schema=DOC_SCHEMA)


def table_to_docs(table: pa.Table) -> list[Document]:
    cols = table.to_pydict()
    return [Document(i, t, u or "", json.loads(m) if m else {})
            for i, t, u, m in zip(cols["id"], cols["text"], cols["url"], cols["meta"])]


def read_part_table(path: str | Path) -> pa.Table:
    """A part as `docs_to_table` would write its documents again (a null url or meta as the
    Document's defaults), one chunk per column."""
    t = pq.ParquetFile(path).read().cast(DOC_SCHEMA).combine_chunks()
    url = pc.fill_null(t["url"], "")
    meta = pc.if_else(pc.fill_null(pc.not_equal(t["meta"], ""), False), t["meta"], "{}")
    return t.set_column(2, "url", url).set_column(3, "meta", meta).combine_chunks()


def read_part(path: str | Path) -> list[Document]:
    return table_to_docs(pq.ParquetFile(path).read().cast(DOC_SCHEMA))


def drops_to_table(drops: list[DroppedDoc]) -> pa.Table:
    cols = {k: pa.array([getattr(d, k) for d in drops], pa.string()) for k in DROP_SCHEMA.names if k != "text"}
    return pa.table({**cols, "text": utf8_array([d.text for d in drops])}, schema=DROP_SCHEMA)
