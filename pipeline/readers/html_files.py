"""A folder of saved pages, one document a file (.html, .htm, .xhtml, and each gzipped)."""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline.document import Document
from pipeline.encoding import decode_html
from pipeline.readers.base import Item, Reader, RecordSize, Skip, Source


class HtmlFilesReader(Reader):
    name = "html"
    suffixes = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz", ".xhtml.gz")
    description = "saved web pages, one a file (.html, .htm, .xhtml, gzipped or not)"
    packages = ("beautifulsoup4",)
    reasons = {"record_too_large": "a page over input.max_record_mb", "truncated_input": "a cut .html.gz",
               "unreadable_file": "a file the system cannot read"}

    @dataclass(frozen=True)
    class Config(RecordSize):
        pass

    @classmethod
    def sources(cls, files: list[Path], root: Path, group: int) -> list[Source]:
        """Pages in groups of `group` files (a part's worth), not a source each."""
        return [Source(cls.name, tuple(map(str, files[i:i + group])), str(files[i].relative_to(root)))
                for i in range(0, len(files), group)]

    def read(self, src: Source) -> Iterator[Item]:
        limit = self.config.max_record_mb << 20
        root = Path(src.paths[0]).parent
        for path in src.paths:
            rel = str(Path(path).relative_to(root)) if len(src.paths) > 1 else Path(path).name
            label = str(Path(src.label).parent / rel) if len(src.paths) > 1 else src.label
            try:
                size = Path(path).stat().st_size
                if size > limit:
                    yield Skip(label, "record_too_large", f"{path}: {size:,} bytes, more than "
                               f"input.max_record_mb = {self.config.max_record_mb}; skipped without reading it")
                    continue
                if path.endswith(".gz"):  # read no more than the limit allows, however well it packs
                    with gzip.open(path) as fh:
                        data = fh.read(limit + 1)
                    if len(data) > limit:
                        yield Skip(label, "record_too_large", f"{path}: more than input.max_record_mb = "
                                   f"{self.config.max_record_mb} MB once decompressed; skipped")
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
