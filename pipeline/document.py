"""The record that flows through every stage, the verdict a stage gives when it removes one, and
the drop as it is stored.

Kept deliberately tiny (as DataTrove's Document is): stages pass a Document on, possibly changed,
or return a Drop; the Stage base class does all counting, so a stage never touches statistics.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Document:
    """One document. `id` is stable and unique within a run; `meta` carries tags and scores."""

    id: str
    text: str
    url: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """UTF-8 size of the text: the unit the data card reports bytes in. Every stage counts it
        twice per document (in and out); an ASCII text's size is its length, with no copy made."""
        text = self.text
        return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


@dataclass(slots=True, frozen=True)
class Drop:
    """A stage's decision to remove a document.

    `reason` is a stable snake_case code local to the stage (reported as `<stage>.<reason>`);
    `detail` is a short free-text note (e.g. the id of the kept duplicate) kept in drops.parquet.
    """

    reason: str
    detail: str = ""


@dataclass(slots=True, frozen=True)
class DroppedDoc:
    """A drop as stored (a stage's `Drop` of a document, or a record the read could not use):
    the one shape a drop has from the stage or the read to drops.parquet; enough to inspect or
    re-run it."""

    id: str
    stage: str
    reason: str  # full code: <stage>.<reason>
    detail: str
    url: str
    text: str
