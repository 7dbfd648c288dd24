"""Readers for raw inputs and the Parquet layout stages exchange.

Every reader yields `Document`s or `Skip`s: a record that cannot become a document (bad JSON,
bytes that are not UTF-8, a missing text field, the tail of a truncated file) is a counted skip
naming its file and record, never a traceback from inside a library and never a silent loss.
Problems that make a whole input unusable (missing path, unknown format, wrong schema) raise
`InputError` before any document is processed.
"""
from __future__ import annotations

import glob as globmod
import gzip
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import InputConfig
from pipeline.document import Document
from pipeline.errors import InputError
from pipeline.text import utf8_array

# The schema stages exchange. `meta` is a JSON string so the schema never depends on the data.
DOC_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()),
                        ("meta", pa.string())])
DROP_SCHEMA = pa.schema([("id", pa.string()), ("stage", pa.string()), ("reason", pa.string()),
                         ("detail", pa.string()), ("url", pa.string()), ("text", pa.string())])
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz", ".xhtml.gz")
WARC_TYPES = {"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation"}


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that could not become a document: `id` is `<file>:<record>`."""

    id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Source:
    """One unit of reading (a file, or a group of .html files): the unit of read-stage resume."""

    format: str
    paths: tuple[str, ...]
    label: str  # file name relative to the input root, used in derived ids and messages


# ---------------------------------------------------------------------------------------------
# discovery
def _detect(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".warc", ".warc.gz")):
        return "warc"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    return None


def list_sources(cfg: InputConfig, html_group: int = 1000) -> list[Source]:
    """Resolve the configured input into an ordered list of sources, or raise InputError."""
    raw = cfg.path
    if any(c in raw for c in "*?["):
        files = sorted(Path(p) for p in globmod.glob(raw, recursive=True))
        if not files:
            raise InputError(f"input {raw!r}: the pattern matches no file")
        root = Path(raw.split("*")[0]).parent
    else:
        p = Path(raw)
        if not p.exists():
            raise InputError(f"input {raw!r} does not exist; check input.path in the config")
        if cfg.format == "datasets":
            return [Source("datasets", (str(p),), p.name)]
        if p.is_dir() and _is_saved_dataset(p) and cfg.format == "auto":
            return [Source("datasets", (str(p),), p.name)]
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file()
                           and not any(x.startswith((".", "_")) for x in f.relative_to(p).parts)
                           and f.name not in ("drops.parquet", "stats.json", "report.json"))
            root = p
        else:
            files, root = [p], p.parent
    by_format: dict[str, list[Path]] = {}
    for f in files:
        fmt = cfg.format if cfg.format != "auto" else _detect(f)
        if fmt is None:
            if len(files) == 1:
                raise InputError(f"input {f}: cannot tell the format from the name; known: "
                                 ".jsonl[.gz|.zst], .parquet, .warc[.gz], .html; "
                                 "or set input.format")
            continue  # other files in a folder (READMEs, labels) are not inputs
        by_format.setdefault(fmt, []).append(f)
    if not by_format:
        raise InputError(f"input {raw!r}: no readable file found (.jsonl, .parquet, .warc, .html)")
    sources: list[Source] = []
    for fmt in sorted(by_format):
        group = by_format[fmt]
        if fmt == "html":
            for i in range(0, len(group), html_group):
                chunk = group[i:i + html_group]
                sources.append(Source("html", tuple(map(str, chunk)),
                                      str(chunk[0].relative_to(root))))
        else:
            sources += [Source(fmt, (str(f),), str(f.relative_to(root))) for f in group]
    return sources


def _is_saved_dataset(p: Path) -> bool:
    return (p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists() or \
        (p / "state.json").exists()


# ---------------------------------------------------------------------------------------------
# reading
def read_source(src: Source, cfg: InputConfig) -> Iterator[Document | Skip]:
    reader = {"jsonl": _read_jsonl, "parquet": _read_parquet, "html": _read_html,
              "warc": _read_warc, "datasets": _read_datasets}[src.format]
    yield from reader(src, cfg)


def _open_binary(path: str) -> tuple[io.BufferedIOBase, io.BufferedIOBase]:
    """(decompressed stream, the file under it): the file's position says how far into the
    compressed bytes reading got."""
    raw = open(path, "rb")
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    if path.endswith(".zst"):
        import zstandard
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return io.BufferedReader(reader), raw  # type: ignore[arg-type]
    return raw, raw


def _truncation_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [EOFError, zlib.error, gzip.BadGzipFile, OSError]
    try:
        import zstandard
        errs.append(zstandard.ZstdError)
    except ImportError:  # pragma: no cover - zstandard is a dependency
        pass
    return tuple(errs)


def record_to_doc(rec: Any, cfg: InputConfig, default_id: str) -> Document | Skip:
    """Map one input record (a dict) to a Document, or a Skip saying what is wrong with it."""
    if not isinstance(rec, dict):
        return Skip(default_id, "invalid_record", f"expected an object, got {type(rec).__name__}")
    if cfg.text_field not in rec:
        fields = ", ".join(sorted(map(str, rec))[:10])
        return Skip(default_id, "missing_text",
                    f"no field {cfg.text_field!r} (has: {fields}); set input.text_field")
    text = rec[cfg.text_field]
    if not isinstance(text, str):
        return Skip(default_id, "invalid_text", f"field {cfg.text_field!r} is "
                    f"{type(text).__name__}, not a string")
    rid = rec.get(cfg.id_field)
    doc_id = str(rid) if rid not in (None, "") else default_id
    url = rec.get(cfg.url_field) or ""
    meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
    meta = dict(meta, source=default_id)
    return Document(doc_id, text, str(url), meta)


def _read_jsonl(src: Source, cfg: InputConfig) -> Iterator[Document | Skip]:
    path = src.paths[0]
    lineno = pos = 0  # pos: offset of the line in the (decompressed) stream, named in skips
    try:
        fh, raw_file = _open_binary(path)
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e})") from None
    limit = cfg.max_record_mb << 20
    with fh, raw_file:
        try:
            while raw := fh.readline(limit + 1):
                lineno += 1
                rid, start = f"{src.label}:{lineno}", pos
                pos += len(raw)
                if len(raw) > limit and not raw.endswith(b"\n"):
                    skipped = len(raw) + _skip_line(fh)  # the rest of the line, never held whole
                    pos = start + skipped
                    yield Skip(rid, "record_too_large", f"{path} line {lineno} (bytes {start:,}..{pos:,}): "
                               f"{skipped:,} bytes, more than input.max_record_mb = {cfg.max_record_mb}; "
                               "skipped without reading it whole")
                    continue
                if not raw.strip():
                    continue
                where = f"{path} line {lineno} (bytes {start:,}..{pos:,})"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    yield Skip(rid, "invalid_utf8", f"{where}: bytes are not UTF-8 "
                               f"at offset {e.start}; re-encode the file as UTF-8")
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    yield Skip(rid, "invalid_json", f"{where}: {e.msg} at column {e.colno}")
                    continue
                yield record_to_doc(rec, cfg, rid)
            if path.endswith(".zst"):
                from pipeline.zstd_frames import zstd_cut_at

                cut = zstd_cut_at(path)  # the zstd reader ends quietly where a file is cut
                if cut is not None:
                    raise _StreamCut(cut)
        except _truncation_errors() as e:
            yield Skip(f"{src.label}:{lineno + 1}", "truncated_input",
                       f"{path}: unreadable from line {lineno + 1} on ({type(e).__name__}: {e}); "
                       + _lost_bytes(e.at if isinstance(e, _StreamCut) else raw_file.tell(), path)
                       + "the records before it were read")


class _StreamCut(EOFError):
    """A compressed stream that ends inside a frame, found after its reader ended quietly."""

    def __init__(self, at: int):
        super().__init__(f"the file stops being whole zstd frames at compressed byte {at:,}")
        self.at = at


def _skip_line(fh: Any, chunk: int = 1 << 20) -> int:
    """Read past the rest of the current line in bounded pieces; returns the bytes skipped."""
    n = 0
    while piece := fh.readline(chunk):
        n += len(piece)
        if piece.endswith(b"\n"):
            break
    return n


def _lost_bytes(pos: int, path: str) -> str:
    """How much of a single-stream file is lost after a read error at compressed byte `pos`, in
    words: a compressed stream cannot be resynchronised, so everything after it is gone."""
    import os

    size = os.path.getsize(path)
    return (f"{size - pos:,} of its {size:,} bytes ({100 * (size - pos) / max(size, 1):.0f} %) after compressed byte "
            f"{pos:,} are unreadable, with an unknown number of records; ")


def _read_parquet(src: Source, cfg: InputConfig) -> Iterator[Document | Skip]:
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
    if cfg.text_field not in names:
        raise InputError(f"{path}: no column {cfg.text_field!r} (columns: {', '.join(names)}); "
                         "set input.text_field")
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


def _read_html(src: Source, cfg: InputConfig) -> Iterator[Document | Skip]:
    from pipeline.encoding import decode_html

    root = Path(src.paths[0]).parent
    for path in src.paths:
        rel = str(Path(path).relative_to(root)) if len(src.paths) > 1 else Path(path).name
        label = str(Path(src.label).parent / rel) if len(src.paths) > 1 else src.label
        try:
            size = Path(path).stat().st_size
            if size > cfg.max_record_mb << 20:
                yield Skip(label, "record_too_large", f"{path}: {size:,} bytes, more than "
                           f"input.max_record_mb = {cfg.max_record_mb}; skipped without reading it")
                continue
            if path.endswith(".gz"):  # read no more than the limit allows, however well it packs
                with gzip.open(path) as fh:
                    data = fh.read((cfg.max_record_mb << 20) + 1)
                if len(data) > cfg.max_record_mb << 20:
                    yield Skip(label, "record_too_large", f"{path}: more than input.max_record_mb = "
                               f"{cfg.max_record_mb} MB once decompressed; skipped")
                    continue
            else:
                data = Path(path).read_bytes()
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            yield Skip(label, "truncated_input", f"{path}: the gzip stream is cut or damaged ({e}); "
                       "the page is skipped: fetch the file again")
            continue
        except OSError as e:
            yield Skip(label, "unreadable_file", f"{path}: {e}")
            continue
        text, enc = decode_html(data)
        yield Document(label, text, "", {"source": label, "encoding": enc})


def _warc_item(record, src: Source, n: int, path: str) -> Document | Skip:
    """A warcio response record as a document, or the reason it is not one."""
    from pipeline.encoding import decode_html, http_charset

    rid = (record.rec_headers.get_header("WARC-Record-ID") or "").strip("<>")
    rid = rid.removeprefix("urn:uuid:") or f"{src.label}:{n}"
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    ctype = record.http_headers.get_header("Content-Type", "") if record.http_headers else ""
    if ctype and "html" not in ctype.lower():
        record.content_stream().read()
        return Skip(rid, "not_html", f"{path} record {n}: Content-Type {ctype}")
    data = record.content_stream().read()
    if getattr(record.raw_stream, "limit", 0) > 0:  # fewer bytes than Content-Length
        return Skip(rid, "truncated_input", f"{path}: record {n} ends early (file truncated)")
    text, enc = decode_html(data, http_charset(ctype))
    meta = {"source": f"{src.label}:{n}", "encoding": enc,
            "date": record.rec_headers.get_header("WARC-Date") or "", "warc_record_id": rid}
    return Document(rid, text, url, meta)


def _read_warc(src: Source, cfg: InputConfig) -> Iterator[Document | Skip]:
    """Record by record (`pipeline.warc`): a damaged or cut record is one counted skip with its
    byte offsets, and the records after it are read."""
    import mmap
    import os

    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    from pipeline.warc import gzip_members, warc_records

    path = src.paths[0]
    if os.path.getsize(path) == 0:
        return
    n = 0
    gz = path.endswith(".gz")
    spans = gzip_members if gz else warc_records
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for m in spans(mm, cfg.max_record_mb << 20):
            if m.data is None:
                yield Skip(f"{src.label}@{m.offset}", "damaged_record",
                           f"{path}: bytes {m.offset:,}..{m.offset + m.length:,} ({m.length:,} bytes) cannot be "
                           f"read: {m.error}; that record is lost and reading resumed at the next record")
                continue
            try:
                # gzip members carry a CRC; a plain WARC's only check is the record's own digests
                for record in ArchiveIterator(io.BytesIO(m.data), check_digests=False if gz else "raise"):
                    if record.rec_type not in WARC_TYPES:  # a damaged header: not silently passed over
                        raise ArchiveLoadFailed(f"unknown WARC-Type {record.rec_type!r}")
                    if record.rec_type != "response":
                        continue
                    n += 1
                    yield _warc_item(record, src, n, path)
            except (ArchiveLoadFailed, *_truncation_errors()) as e:
                yield Skip(f"{src.label}@{m.offset}", "damaged_record",
                           f"{path}: bytes {m.offset:,}..{m.offset + m.length:,} hold no valid WARC record "
                           f"({type(e).__name__}: {e}); reading resumed at the next record")


def _read_datasets(src: Source, cfg: InputConfig) -> Iterator[Document | Skip]:
    import datasets

    path = src.paths[0]
    try:
        if cfg.datasets_builder:
            files = [str(f) for f in sorted(Path(path).glob("*"))] if Path(path).is_dir() else path
            ds = datasets.load_dataset(cfg.datasets_builder, data_files=files, split=cfg.split)
        else:
            ds = datasets.load_from_disk(path)
            if isinstance(ds, datasets.DatasetDict):
                if cfg.split not in ds:
                    raise InputError(f"{path}: no split {cfg.split!r} (splits: "
                                     f"{', '.join(ds)}); set input.split")
                ds = ds[cfg.split]
    except InputError:
        raise
    except Exception as e:  # datasets raises many types for an unreadable folder
        raise InputError(f"{path}: not a loadable local datasets dataset ({type(e).__name__}: "
                         f"{e}); save it with Dataset.save_to_disk or set input.datasets_builder") from None
    if cfg.text_field not in ds.column_names:
        raise InputError(f"{path}: no column {cfg.text_field!r} (columns: "
                         f"{', '.join(ds.column_names)}); set input.text_field")
    row = 0
    for batch in ds.iter(batch_size=1024):
        keys = list(batch)
        for i in range(len(batch[cfg.text_field])):
            row += 1
            yield record_to_doc({k: batch[k][i] for k in keys}, cfg, f"{src.label}:{row}")


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


def read_part(path: str | Path) -> list[Document]:
    return table_to_docs(pq.ParquetFile(path).read().cast(DOC_SCHEMA))


def drops_to_table(rows: list[dict[str, str]]) -> pa.Table:
    cols = {k: pa.array([r[k] for r in rows], pa.string()) for k in DROP_SCHEMA.names if k != "text"}
    return pa.table({**cols, "text": utf8_array([r["text"] for r in rows])}, schema=DROP_SCHEMA)
