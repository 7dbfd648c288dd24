"""What a quality rule family is: its settings, its measures, its rules, and how a stage runs a
table of them.

A family (Gopher quality, C4, ...) owns its settings (a frozen dataclass whose first field is its
mode, named like the family: `drop`, `tag` or `off`), what it measures of a document (`measure`,
`columns`) and its rules (`rules`: a measure against a setting). Measuring and deciding are apart,
as in dolma: the stage stores every document's measures, so `corpusprep inspect --what-if` can
re-decide from them under other thresholds, exactly, without re-running. The quality stage runs a
table of families in order; its config is every family's settings side by side (`settings_class`),
so a TOML `[[stages]]` table stays flat: `gopher_quality = "tag"`, `min_words = 100`. Adding a
family is one module and one line in that table.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.document import Document
from pipeline.errors import ConfigError
from pipeline.stages.quality_measures import Features

MODES = ("drop", "tag", "off")


def mode_field(default: str = "drop", what: str = "") -> Any:
    """A family's mode setting: drop, tag (keep; measures and would-be reasons go to
    meta["quality"]) or off."""
    return field(default=default, metadata={"help": f"mode: {', '.join(MODES)}{'; ' + what if what else ''}"})


def ratio(default: float, help: str) -> Any:
    """A setting that is a share, checked to lie within [0, 1]."""
    return field(default=default, metadata={"help": help, "ratio": True})


def rounded(d: dict) -> dict:
    """Measures as meta["quality"] stores them (5 decimals)."""
    return {k: ({kk: round(vv, 5) for kk, vv in v.items()} if isinstance(v, dict)
                else round(v, 5) if isinstance(v, float) else v) for k, v in d.items()}


@dataclass
class Check:
    """One document as the families see it: `features` are shared (computed once, lazily) and hold
    the text as the families before have left it, `info` becomes meta["quality"], `count` adds to
    the stage's counters, `score` is this document's value from the family's batch pass (the
    classifier's), if any; `mode` is the family's, `alive` is False once an earlier family has
    dropped the document (its later measures are still taken, for the stored measures)."""

    doc: Document
    features: Features
    info: dict[str, Any]
    count: Callable[..., None]
    score: Any = None
    mode: str = "drop"
    alive: bool = True

    @property
    def text(self) -> str:
        return self.features.text

    def rewrite(self, text: str) -> None:
        """The text the later families measure (and the document keeps, if it is kept)."""
        if text != self.features.text:
            self.features = Features(text, self.features.word_split)


# what a rule's comparison fails on: value < threshold, value > threshold, value not in the
# setting's list, value true, value missing (the family could not measure the document)
OPS = ("<", ">", "not in", "true", "missing")


@dataclass(frozen=True)
class Rule:
    """One published rule: the document fails it when measure `measure` compares with setting
    `setting` (its item `key` for a table of thresholds) as `op` says."""

    reason: str
    measure: str
    op: str
    setting: str = ""
    key: Any = None

    def threshold(self, config: Any) -> Any:
        if not self.setting:
            return None
        v = getattr(config, self.setting)
        return v[self.key] if self.key is not None else v

    def fails(self, m: Mapping[str, Any], config: Any) -> bool:
        v = m.get(self.measure)
        if self.op == "missing":
            return v is None
        if self.op == "true":
            return bool(v)
        t = self.threshold(config)
        return v not in t if self.op == "not in" else v < t if self.op == "<" else v > t

    def fails_column(self, col: pa.ChunkedArray | pa.Array, config: Any) -> np.ndarray:
        """`fails` for a whole stored column at once (null: not measured, fails only `missing`)."""
        if self.op == "missing":
            return pc.is_null(col).to_numpy(zero_copy_only=False)
        if self.op == "true":
            out = col
        elif self.op == "not in":
            out = pc.invert(pc.is_in(col, value_set=pa.array(list(self.threshold(config)), col.type)))
        else:
            out = (pc.less if self.op == "<" else pc.greater)(col, self.threshold(config))
        return pc.fill_null(out, False).to_numpy(zero_copy_only=False)


class RuleFamily:
    """One family of quality rules. Subclasses set `name` (also the name of their mode setting),
    `Settings` and `columns`, and implement `measure` and `rules`; `setup` loads models,
    `batch_scores` scores a whole batch at once where that is faster, `validate` checks settings
    beyond modes and ratios, `note` says what goes to meta["quality"]."""

    name: ClassVar[str]
    Settings: ClassVar[type]
    # its measures with their Arrow types, as stored (names without the family's prefix)
    columns: ClassVar[dict[str, pa.DataType]] = {}
    # it changes the text the later families measure (C4's line filter): its mode is not a threshold
    rewrites_text: ClassVar[bool] = False

    def __init__(self, config: Any):
        self.config = config

    def setup(self) -> None:
        """Load models and warm compiled code (once a process)."""

    def batch_scores(self, texts: list[str]) -> list[Any] | None:
        return None

    def measure_columns(self) -> dict[str, pa.DataType]:
        """The stored measures under these settings (a table of thresholds adds one per item)."""
        return dict(self.columns)

    def measure(self, c: Check) -> dict[str, Any] | None:
        """This document's measures by name (None: the family cannot measure it, e.g. no lines)."""
        raise NotImplementedError

    def rules(self) -> list[Rule]:
        """The rules in the order they are checked; the first that fails names the drop."""
        raise NotImplementedError

    def decide(self, m: Mapping[str, Any] | None) -> str | None:
        """The reason of the first rule these measures fail (e.g. "gopher_alpha_words"), or None."""
        m = m or {}
        return next((r.reason for r in self.rules() if r.fails(m, self.config)), None)

    def note(self, m: Mapping[str, Any] | None) -> dict[str, Any]:
        """What meta["quality"] keeps of a kept document's measures: all of them in tag mode."""
        return {self.name: rounded(dict(m))} if m and self.config_mode() == "tag" else {}

    def trigger(self, text: str, reason: str) -> tuple[int, int] | None:
        """Where in `text` the rule `reason` found what it measured (a repeated n-gram), for
        `inspect`; None: no one place (a word count)."""
        return None

    def config_mode(self) -> str:
        return getattr(self.config, self.name)

    def thresholds(self) -> set[str]:
        """Settings that only decide (the rules' settings and the mode): what-if may change them."""
        return {r.setting for r in self.rules() if r.setting} | (set() if self.rewrites_text else {self.name})

    @classmethod
    def validate(cls, config: Any) -> None:
        """Settings checks beyond the mode and the [0, 1] ratios (done for every family)."""


def _check_common(config: Any, families: tuple[type[RuleFamily], ...]) -> None:
    for fam in families:
        mode = getattr(config, fam.name)
        if mode not in MODES:
            raise ConfigError(f"quality.{fam.name} = {mode!r}; available: {', '.join(MODES)}")
        for f in dataclasses.fields(fam.Settings):
            v = getattr(config, f.name)
            if f.metadata.get("ratio") and not 0.0 <= v <= 1.0:
                raise ConfigError(f"quality.{f.name} = {v}: must be within [0, 1]")
        fam.validate(config)


def settings_class(families: tuple[type[RuleFamily], ...], module: str, qualname: str = "Config",
                   own: tuple[tuple[str, Any, Any], ...] = (),
                   check_own: Callable[[Any], None] | None = None) -> type:
    """A frozen `Config` dataclass: the stage's `own` fields (name, type, field) first, then every
    family's settings in table order; its checks are `check_own` and each family's."""
    fields: list[tuple[str, Any, Any]] = list(own)
    seen = {name for name, _, _ in own}
    for fam in families:
        hints = typing.get_type_hints(fam.Settings)
        for f in dataclasses.fields(fam.Settings):
            if f.name in seen:
                raise ValueError(f"quality family {fam.name}: setting {f.name} is taken")
            seen.add(f.name)
            spec = dataclasses.field(default=f.default, default_factory=f.default_factory, metadata=f.metadata)
            fields.append((f.name, hints[f.name], spec))

    def __post_init__(self: Any) -> None:
        if check_own is not None:
            check_own(self)
        _check_common(self, families)

    return dataclasses.make_dataclass("Config", fields, frozen=True,
                                      namespace={"__post_init__": __post_init__, "__module__": module,
                                                 "__qualname__": qualname})
