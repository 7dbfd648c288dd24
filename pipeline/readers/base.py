"""What every reader shares: the items it yields, the source it reads, its settings' shape.

A reader turns one `Source` into `Document`s, `Skip`s and `Count`s. A `Skip` is a record that
could not become a document (bad JSON, a damaged WARC record, a cut stream): a counted drop that
names its file and record, never a traceback from inside a library and never a silent loss. A
`Count` is a record that is not a document by design (a WARC request, an image response) or a
quirk of one that was read (an LF-only header, a wrong digest): counted in the read stats, and,
where it carries a `detail`, listed with the run's losses (a record the file's end cut short,
read as far as it goes). Problems that make a whole input unusable raise `InputError` before
any document is processed.
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator

import zstandard

from pipeline.document import Document

HEAD_BYTES = 1 << 16  # what detection reads of a file (decompressed, when it is gzip or zstd)
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that could not become a document: `id` is `<file>:<record>` or `<file>@<byte>`."""

    id: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Count:
    """Counted in the read stats under `key`, not a document and not a drop; with `detail`, data
    lost from a record that was still read, listed with the run's losses."""

    key: str
    id: str = ""
    detail: str = ""


Item = Document | Skip | Count


@dataclass(frozen=True)
class Source:
    """One unit of reading (a file, or a group of .html files): the unit of read-stage resume."""

    format: str
    paths: tuple[str, ...]
    label: str  # file name relative to the input root, used in derived ids and messages


# Settings several readers share, one definition each; a reader's Config inherits the ones it
# uses. `min` and `nonempty` in a field's metadata are checked for every reader (readers.InputConfig).
@dataclass(frozen=True)
class RecordFields:
    """Which fields of a record (JSON object, table row) hold what."""

    text_field: str = field(default="text", metadata={"help": "field holding the text (or HTML)", "nonempty": True})
    id_field: str = field(default="id", metadata={"help": "field holding the id; missing or empty ids are "
                                                  "derived from source + offset"})
    url_field: str = field(default="url", metadata={"help": "field holding the URL"})


@dataclass(frozen=True)
class RecordSize:
    """A bound on one record, so that one giant record cannot exhaust memory."""

    max_record_mb: int = field(default=64, metadata={
        "help": "a record (WARC record, JSONL line, HTML page) larger than this is a counted skip, never "
                "held whole (bounds memory per record)", "min": 1})


class Reader:
    """One input format. Subclasses set `name`, `suffixes` (lowercased name endings that claim a
    file), a short `description` for help texts, a frozen `Config` with the settings they read
    from `[input]`, and `read`; `claims` may also look at a file's first bytes (magic bytes, a
    WARC's first records), and `sources` may group files (a folder of pages)."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    reasons: ClassVar[dict[str, str]] = {}  # skip reasons it may give, and what each means
    text_only: ClassVar[bool] = False  # documents that are plain text already (no html stage)
    whole_folder: ClassVar[bool] = False  # a folder given in this format is one source
    packages: ClassVar[tuple[str, ...]] = ()  # distributions it uses, whose versions the card records

    @dataclass(frozen=True)
    class Config:
        pass

    def __init__(self, config: Any):
        self.config = config

    @classmethod
    def claims(cls, path: Path, head: Head) -> bool:
        """Whether this reader reads `path` (its name, and where that is not enough, its `head`)."""
        return path.name.lower().endswith(cls.suffixes)

    @classmethod
    def claims_folder(cls, folder: Path) -> bool:
        """Whether a whole folder is one source of this format (a saved dataset)."""
        return False

    @classmethod
    def sources(cls, files: list[Path], root: Path, group: int) -> list[Source]:
        """Files of this format as sources: one each, by default."""
        return [Source(cls.name, (str(f),), str(f.relative_to(root))) for f in files]

    def check(self, src: Source) -> None:
        """A start-up look at a source (its first records, its schema): raise InputError, naming
        the file and the fix, where it cannot be read as configured, before anything is written."""

    def read(self, src: Source) -> Iterator[Item]:
        raise NotImplementedError


class Head:
    """A file's first bytes, read only when a reader asks: `raw` (magic bytes) or `data`
    (decompressed, for a look at the content), so telling a folder of pages apart costs no reads."""

    def __init__(self, path: Path):
        self.path = path
        self._raw: bytes | None = None
        self._data: bytes | None = None

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            try:
                with open(self.path, "rb") as fh:
                    self._raw = fh.read(16)
            except OSError:
                self._raw = b""
        return self._raw

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = read_head(self.path)
        return self._data


def config_of(reader: type[Reader], values: Any) -> Any:
    """`reader`'s Config from an object that has (at least) its fields, e.g. the InputConfig."""
    return reader.Config(**{f.name: getattr(values, f.name) for f in dataclasses.fields(reader.Config)})


def read_head(path: Path, n: int = HEAD_BYTES) -> bytes:
    """The first n bytes of a file, decompressed where it starts with gzip or zstd magic bytes
    (whatever its name); b"" where it cannot be read."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(n)
    except OSError:
        return b""
    try:
        if raw[:2] == b"\x1f\x8b":
            return zlib.decompressobj(31).decompress(raw, n)
        if raw[:4] == ZSTD_MAGIC:
            return zstandard.ZstdDecompressor().decompressobj().decompress(raw)[:n]
    except (zlib.error, zstandard.ZstdError):  # damaged from the start: no content to go by
        return b""
    return raw


def record_to_doc(rec: Any, cfg: RecordFields, default_id: str) -> Document | Skip:
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
