"""Stage base class and the statistics every stage reports.

Why counting lives here: if subclasses counted, the funnel in a data card would only be as right
as the least careful stage. Here `Stage.apply` is the only place a document is judged, so
"docs in = kept + dropped" holds by construction and is still re-checked in tests.
"""
from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.document import Document, Drop, DroppedDoc
from pipeline.formatting import EXCERPT, excerpt
from pipeline.io import DROP_SCHEMA


@dataclass
class StageStats:
    """Counts for one stage (or one part of one stage): mergeable, JSON-serialisable."""

    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    drops: Counter = field(default_factory=Counter)
    dropped_bytes: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)  # stage-specific (e.g. pii.email)
    seconds: float = 0.0

    @property
    def docs_dropped(self) -> int:
        return sum(self.drops.values())

    def merge(self, other: "StageStats") -> "StageStats":
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.drops.update(other.drops)
        self.dropped_bytes.update(other.dropped_bytes)
        self.counters.update(other.counters)
        self.seconds += other.seconds
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "docs_dropped": self.docs_dropped,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "drops": dict(sorted(self.drops.items())),
            "dropped_bytes": dict(sorted(self.dropped_bytes.items())),
            "counters": dict(sorted(self.counters.items())),
            "seconds": round(self.seconds, 4),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StageStats":
        return cls(
            docs_in=d["docs_in"], docs_out=d["docs_out"], bytes_in=d["bytes_in"],
            bytes_out=d["bytes_out"], drops=Counter(d["drops"]),
            dropped_bytes=Counter(d.get("dropped_bytes", {})),
            counters=Counter(d.get("counters", {})), seconds=d.get("seconds", 0.0),
        )


@dataclass
class BatchResult:
    """A batch's kept documents and drops: lists, or Arrow tables (DOC_SCHEMA, DROP_SCHEMA) from
    `Stage.apply_table`."""

    kept: list[Document] | pa.Table
    dropped: list[DroppedDoc] | pa.Table
    stats: StageStats
    measures: pa.Table | None = None  # each document's measures, where the stage stores them


class Stage:
    """One step of a run: `process(doc) -> Document | Drop`.

    Subclasses set `name`, a nested frozen dataclass `Config` (defaults documented, ranges checked
    in `__post_init__`), and override `process` — or `process_batch` when vectorising pays.
    A stage that must see the whole stream before deciding (dedup, common n-grams in decontam)
    sets `needs_prepare = True` and implements `prepare`, which the runner calls once over all
    input parts and whose result the stage persists under `state_dir` so workers can load it.
    """

    name: ClassVar[str]
    needs_prepare: ClassVar[bool] = False
    # planted-label kinds (see pipeline/sample) this stage is meant to remove: the runner
    # reports recall and precision against them when the input has a labels file
    ground_truth_kinds: ClassVar[tuple[str, ...]] = ()
    ground_truth_pairs: ClassVar[bool] = False  # labels carry duplicate pairs (of, jaccard)
    ground_truth_breakdown: ClassVar[str] = ""  # a label field to report recall by (e.g. variant)
    packages: ClassVar[tuple[str, ...]] = ()  # distributions it uses, whose versions the card records
    # its verdict on a document needs only the id (dedup's removal list): it implements
    # `decide_ids`, and a segment of this stage alone filters each part in Arrow (`apply_table`)
    decides_by_id: ClassVar[bool] = False

    @dataclass(frozen=True)
    class Config:
        pass

    def __init__(self, config: Any = None, state_dir: Path | None = None):
        self.config = config if config is not None else self.Config()
        self.state_dir = state_dir
        self._counters: Counter = Counter()
        self._measures: list[dict[str, Any]] | None = None  # a list while `apply` runs a batch

    # -- to override -----------------------------------------------------------------------
    def setup(self) -> None:
        """Load models and lists. Called once per worker, and once at start-up to fail fast."""

    def process(self, doc: Document) -> Document | Drop:
        raise NotImplementedError

    def process_batch(self, docs: list[Document]) -> list[Document | Drop]:
        return [self.process(d) for d in docs]

    def decide_ids(self, ids: pa.Array) -> tuple[pa.Array, pa.Array]:
        """For `decides_by_id`: each id's drop reason (null where the document is kept) and detail,
        as `process` would return them."""
        raise NotImplementedError

    def prepare(self, parts: list[Path], executor: Any) -> StageStats:
        """Whole-stream pass for stages with `needs_prepare`: writes its result under
        `state_dir` and returns the pass's stats."""
        raise NotImplementedError

    def load_state(self) -> None:
        """Load what `prepare` wrote under `state_dir` (in each worker)."""

    def measures_schema(self) -> pa.Schema | None:
        """The per-document measures this stage stores beside its drops (`record`), for kept and
        dropped documents alike, so that its decisions can be re-made from them (`corpusprep
        inspect --what-if`); None: it stores none."""
        return None

    def decidable_settings(self, config: Any) -> set[str]:
        """The settings whose change `redecide` can answer from stored measures (thresholds and
        modes: what decides, not what is measured)."""
        return set()

    def redecide(self, config: Any, measures: pa.Table) -> list[str | None]:
        """Under `config`, each stored row's drop reason (None: kept), as `process` would give it."""
        raise NotImplementedError

    def measured_rules(self, config: Any) -> list[tuple[str, list[Any]]]:
        """Stored measure columns that rules compare with thresholds, with those rules (each with
        `op`, `threshold(config)`): the explorer draws their histograms. None by default."""
        return []

    def explain_drop(self, drop: dict[str, Any], measures: dict[str, Any] | None,
                     text_of: Callable[[str], str | None]) -> dict[str, Any]:
        """For `corpusprep inspect --reason`: what made this stage drop `drop` (a drops.parquet row):
        `excerpt`, the text around what triggered it, and where the stage measures, `checks`
        [(measure, value, op, threshold)]. `measures` is its stored row, `text_of(id)` another
        document's text (dedup's kept copy). By default: the text's start."""
        return {"excerpt": excerpt(drop["text"], 0, 0, 2 * EXCERPT)}

    def begin_part(self, name: str) -> None:
        """Called before each part is processed. A prepared stage whose state is per document
        (dedup's removal list) loads only this part's share here, so a worker's memory follows
        the part size rather than the corpus size."""

    def explain(self) -> str:
        """What the settings mean, for `corpusprep stage NAME --explain`."""
        return "\n".join(f"{f['name']} = {getattr(self.config, f['name'])!r}  {f['help']}"
                         for f in config_fields(type(self.config)))

    def summarize(self) -> dict[str, Any]:
        """Stage-specific report (clusters, contamination...) added to stats.json and the card,
        from what `prepare` left under `state_dir`."""
        return {}

    @classmethod
    def card_section(cls, stats: dict[str, Any]) -> list[str]:
        """Markdown lines of this stage's own part of the data card, from its stats.json (what
        `summarize` added). card.py lays the sections out in stage order and knows no stage by
        name, so a new stage brings its section with it. None by default."""
        return []

    @classmethod
    def licence_note(cls, config: Any) -> str:
        """Where the data this stage brings into a run (lists, indexes) comes from and under which
        terms, for the card's licence section; empty when it brings none."""
        return ""

    # -- shared machinery ------------------------------------------------------------------
    def count(self, key: str, n: int = 1) -> None:
        """Stage-specific counters (e.g. PII masks by type), merged into the stage's stats."""
        self._counters[key] += n

    def record(self, row: dict[str, Any]) -> None:
        """One document's measures (its id first), in `measures_schema`'s columns but "bytes",
        one row per document in batch order; kept while `apply` runs a batch of a stage that
        stores measures (a direct call of `process` keeps none). `apply` adds each row's UTF-8
        size, which it has already counted."""
        if self._measures is not None:
            self._measures.append(row)

    def apply(self, docs: list[Document], keep_dropped_text: bool = True) -> BatchResult:
        """Run one batch and account for every document in it."""
        t0 = time.perf_counter()
        stats = StageStats(docs_in=len(docs))
        sizes = [d.nbytes for d in docs]
        stats.bytes_in = sum(sizes)
        self._counters = Counter()
        schema = self.measures_schema()
        self._measures = [] if schema is not None else None
        results = self.process_batch(docs)
        if len(results) != len(docs):
            raise RuntimeError(f"stage {self.name}: process_batch returned {len(results)} "
                               f"results for {len(docs)} documents")
        if schema is not None:
            if len(self._measures) != len(docs):
                raise RuntimeError(f"stage {self.name}: recorded {len(self._measures)} measure rows "
                                   f"for {len(docs)} documents")
            for row, size in zip(self._measures, sizes):
                row["bytes"] = size
        kept: list[Document] = []
        dropped: list[DroppedDoc] = []
        for doc, size, res in zip(docs, sizes, results):
            if isinstance(res, Drop):
                code = f"{self.name}.{res.reason}"
                stats.drops[code] += 1
                stats.dropped_bytes[code] += size
                dropped.append(DroppedDoc(doc.id, self.name, code, res.detail, doc.url,
                                          doc.text if keep_dropped_text else ""))
            else:
                kept.append(res)
        stats.docs_out = len(kept)
        stats.bytes_out = sum(d.nbytes for d in kept)
        stats.counters.update(self._counters)
        measures = pa.Table.from_pylist(self._measures, schema) if schema is not None else None
        self._measures = None
        stats.seconds = time.perf_counter() - t0
        return BatchResult(kept, dropped, stats, measures)

    def apply_table(self, table: pa.Table, keep_dropped_text: bool = True) -> BatchResult:
        """`apply` for a stage that `decides_by_id`, on a part as an Arrow table (`read_part_table`):
        the same kept rows, drops and stats (tested), with no Python object per document.

        Why: dedup's filter made a Document of every row, looked its id up, and serialised the
        kept ones again: 4.4 s of the stage's 26 s on 100,000 documents."""
        t0 = time.perf_counter()
        reason, detail = self.decide_ids(table["id"])
        size = pc.binary_length(table["text"]).cast(pa.int64())
        dropped_mask = pc.is_valid(reason)
        kept = table.filter(pc.invert(dropped_mask))
        gone = table.filter(dropped_mask)
        code = pc.binary_join_element_wise(self.name, reason.filter(dropped_mask), ".")
        stats = StageStats(docs_in=len(table), bytes_in=pc.sum(size).as_py() or 0, docs_out=len(kept),
                           bytes_out=pc.sum(size.filter(pc.invert(dropped_mask))).as_py() or 0)
        by_code = pa.table({"code": code, "bytes": size.filter(dropped_mask)}).group_by("code").aggregate(
            [("bytes", "count"), ("bytes", "sum")])
        for c, n, b in zip(*(by_code[k].to_pylist() for k in ("code", "bytes_count", "bytes_sum"))):
            stats.drops[c], stats.dropped_bytes[c] = n, b
        drops = pa.table({"id": gone["id"], "stage": pa.array([self.name] * len(gone), pa.string()),
                          "reason": code, "detail": detail.filter(dropped_mask), "url": gone["url"],
                          "text": gone["text"] if keep_dropped_text else pa.array([""] * len(gone), pa.string())},
                         schema=DROP_SCHEMA)
        stats.seconds = time.perf_counter() - t0
        return BatchResult(kept.combine_chunks(), drops.combine_chunks(), stats)


def config_fields(config_cls: type) -> list[dict[str, Any]]:
    """Describe a stage config for `corpusprep stages`: name, type, default, help."""
    from pipeline.settings import default_of

    return [{"name": f.name, "type": str(f.type), "default": default_of(f), "help": f.metadata.get("help", "")}
            for f in dataclasses.fields(config_cls)]


def iter_batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for it in items:
        batch.append(it)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
