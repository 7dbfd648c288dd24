"""What a quality rule family is: its settings, its check, and how a stage runs a table of them.

A family (Gopher quality, C4, ...) owns its measures, its settings (a frozen dataclass whose first
field is its mode, named like the family: `drop`, `tag` or `off`) and its check. The quality
stage runs a table of families in order; its config is every family's settings side by side
(`settings_class`), so a TOML `[[stages]]` table stays flat: `gopher_quality = "tag"`,
`min_words = 100`. Adding a family is one module and one line in that table.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

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
    """One document as the families see it: `features` are shared (computed once, lazily), `info`
    becomes meta["quality"], `count` adds to the stage's counters, `score` is this document's
    value from the family's batch pass (the classifier's), if any."""

    doc: Document
    features: Features
    info: dict[str, Any]
    count: Callable[..., None]
    score: Any = None


class RuleFamily:
    """One family of quality rules. Subclasses set `name` (also the name of their mode setting) and
    `Settings`, and implement `check`; `setup` loads models, `batch_scores` scores a whole batch at
    once where that is faster, `validate` checks settings beyond modes and ratios."""

    name: ClassVar[str]
    Settings: ClassVar[type]

    def __init__(self, config: Any):
        self.config = config

    def setup(self) -> None:
        """Load models and warm compiled code (once a process)."""

    def batch_scores(self, texts: list[str]) -> list[Any] | None:
        return None

    def check(self, c: Check, mode: str) -> str | None:
        """The reason of the first rule this document fails (e.g. "gopher_alpha_words"), or None."""
        raise NotImplementedError

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
