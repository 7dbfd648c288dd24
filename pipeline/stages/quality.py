"""Quality: a table of rule families, run in FineWeb's order on every document.

The published rules with their published defaults, one family a module in quality_rules/:
language ID, a fastText quality score, Gopher repetition, Gopher quality (as in the MassiveText
paper and DataTrove), C4 (as in the T5 paper's code), FineWeb's own. Each family has a mode:
`drop`, `tag` (keep; measures and the reasons that would have fired go to `meta["quality"]`, so
variants can be drawn by threshold later) or `off`. The first failing check names the drop, e.g.
`quality.gopher_alpha_words`.

Every document's measures, kept or dropped, are stored in the stage folder's measures.parquet
(`store_measures`, on by default): every family measures every document, not only those the
families before it kept, so `corpusprep inspect --what-if` re-decides exactly from them.

To add a family: write its module (settings, measures, check; see quality_rules/family.py) and
add it to `families` below, or to a subclass's `families` registered as a stage of its own.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any, Callable, ClassVar

import numpy as np
import pyarrow as pa

from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.formatting import EXCERPT, excerpt
from pipeline.stage import Stage
from pipeline.stages.quality_measures import Features
from pipeline.stages.quality_rules.c4 import C4Rules
from pipeline.stages.quality_rules.classifier import ClassifierRules
from pipeline.stages.quality_rules.family import Check, Rule, RuleFamily, settings_class
from pipeline.stages.quality_rules.fineweb import FineWebRules
from pipeline.stages.quality_rules.gopher_quality import GopherQualityRules
from pipeline.stages.quality_rules.gopher_repetition import GopherRepetitionRules
from pipeline.stages.quality_rules.language import LanguageRules

FAMILIES: tuple[type[RuleFamily], ...] = (LanguageRules, ClassifierRules, GopherRepetitionRules,
                                          GopherQualityRules, C4Rules, FineWebRules)
WORD_SPLIT = ("word_split", str, field(default="spacy", metadata={
    "help": "spacy: punctuation marks are words (DataTrove); whitespace: the Gopher paper's words"}))
STORE_MEASURES = ("store_measures", bool, field(default=True, metadata={
    "help": "store every document's measures in measures.parquet (for inspect --what-if); off: a family "
            "stops measuring a document once an earlier one dropped it"}))


def _check_word_split(c: Any) -> None:
    if c.word_split not in ("spacy", "whitespace"):
        raise ConfigError(f"quality.word_split = {c.word_split!r}; available: spacy, whitespace")


def quality_config(families: tuple[type[RuleFamily], ...], module: str, qualname: str = "Config") -> type:
    """The Config of a quality stage running `families`: word_split, then each family's settings."""
    return settings_class(families, module, qualname, (WORD_SPLIT, STORE_MEASURES), _check_word_split)


Config = quality_config(FAMILIES, __name__)


class QualityStage(Stage):
    """Gopher quality + repetition, C4, FineWeb rules, language ID and a fastText quality score."""

    name = "quality"
    packages = ("py3langid", "numba", "fasttext-community")
    families: ClassVar[tuple[type[RuleFamily], ...]] = FAMILIES
    Config = Config
    ground_truth_kinds = ("low_quality",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass with its own `families` table gets the Config for them."""
        super().__init_subclass__(**kwargs)
        if "families" in cls.__dict__ and "Config" not in cls.__dict__:
            cls.Config = quality_config(cls.families, cls.__module__, f"{cls.__qualname__}.Config")

    def setup(self) -> None:
        self.active = self.families_of(self.config)
        for fam in self.active:
            fam.setup()

    @classmethod
    def families_of(cls, config: Any) -> list[RuleFamily]:
        """The families that are not off, in table order, under `config`."""
        return [fam(config) for fam in cls.families if getattr(config, fam.name) != "off"]

    def measures_schema(self) -> pa.Schema | None:
        if not self.config.store_measures:
            return None
        cols = [(f"{fam.name}.{k}", t) for fam in self.active for k, t in fam.measure_columns().items()]
        return pa.schema([("id", pa.string()), ("bytes", pa.int64()), ("empty", pa.bool_()), *cols])

    def process_batch(self, docs: list[Document]) -> list[Document | Drop]:
        texts = [d.text for d in docs]
        scores = {fam.name: fam.batch_scores(texts) for fam in self.active}
        return [self._one(doc, {k: v[i] for k, v in scores.items() if v is not None})
                for i, doc in enumerate(docs)]

    def _one(self, doc: Document, scores: dict[str, Any]) -> Document | Drop:
        store = self.config.store_measures
        row: dict[str, Any] = {"id": doc.id, "empty": not doc.text.strip()}
        if row["empty"]:
            if store:
                self.record(row)
            return Drop("empty")
        chk = Check(doc, Features(doc.text, self.config.word_split), {}, self.count)
        flags: list[str] = []
        verdict = None
        for fam in self.active:
            chk.score, chk.mode, chk.alive = scores.get(fam.name), fam.config_mode(), verdict is None
            m = fam.measure(chk)
            if store:
                row.update({f"{fam.name}.{k}": v for k, v in (m or {}).items()})
            reason = fam.decide(m)
            if verdict is None:
                chk.info.update(fam.note(m))
                if reason and chk.mode == "drop":
                    verdict = reason
                elif reason:
                    flags.append(reason)
            if verdict and not store:
                break
        if store:
            self.record(row)
        if verdict:
            return Drop(verdict)
        if flags:
            chk.info["flags"] = flags
        doc.text = chk.text
        doc.meta["quality"] = chk.info
        return doc

    def explain_drop(self, drop: dict[str, Any], measures: dict[str, Any] | None,
                     text_of: Callable[[str], str | None]) -> dict[str, Any]:
        """The rule's measure against its threshold, and the text around what it counted."""
        reason = drop["reason"].split(".", 1)[1]
        text = drop["text"]
        for fam in self.families_of(self.config):
            rules = [r for r in fam.rules() if r.reason == reason]
            if not rules:
                continue
            m = {k: (measures or {}).get(f"{fam.name}.{k}") for k in fam.measure_columns()}
            checks = [(r.measure, m.get(r.measure), r.op, r.threshold(self.config)) for r in rules
                      if r.fails(m, self.config)]
            span = fam.trigger(text, reason) if text else None
            return {"checks": checks, "excerpt": excerpt(text, *span) if span else excerpt(text, 0, 0, 2 * EXCERPT)}
        return super().explain_drop(drop, measures, text_of)

    def decidable_settings(self, config: Any) -> set[str]:
        """What `inspect --what-if` may change: the thresholds and modes of the measured families."""
        return set().union(*(f.thresholds() for f in self.families_of(config)))

    def measured_rules(self, config: Any) -> list[tuple[str, list[Rule]]]:
        """Each stored measure a rule compares with a threshold, and those rules (the explorer's
        histograms)."""
        out: dict[str, list[Rule]] = {}
        for fam in self.families_of(config):
            for r in fam.rules():
                if r.setting and r.op in ("<", ">"):
                    out.setdefault(f"{fam.name}.{r.measure}", []).append(r)
        return list(out.items())

    def redecide(self, config: Any, measures: pa.Table) -> list[str | None]:
        """Each stored row's verdict under `config`, a column at a time (only thresholds and
        modes may differ from the run's: `corpusprep inspect --what-if` checks that first): the
        first failing rule of the first family in drop mode, as `_one` decides."""
        verdict = np.full(len(measures), None, dtype=object)
        open_ = np.ones(len(measures), dtype=bool)

        def assign(fails: np.ndarray, reason: str) -> None:
            hit = fails & open_
            verdict[hit] = reason
            open_[hit] = False

        assign(measures["empty"].to_numpy(zero_copy_only=False), "empty")
        for fam in self.families_of(config):
            if fam.config_mode() == "drop":
                for rule in fam.rules():
                    assign(rule.fails_column(measures[f"{fam.name}.{rule.measure}"], config), rule.reason)
        return verdict.tolist()
